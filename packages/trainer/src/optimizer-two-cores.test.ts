// The optimizer's loops split over the main thread and core's second-core helper: the same bits as one
// thread, the helper used only when every array is shared memory and the loop is long.
import { availableParallelism } from "node:os";
import { initBackend, wasmThreads } from "@llava-ts/core";
import { secondCoreJobs, sharedFloat32, valuesOf } from "@llava-ts/core/internal";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { adamwHyper, adamwUpdate, adamwUpdateParallel } from "./adamw.js";
import { clipCoefficient, GradientBuffer } from "./gradient-buffer.js";
import { LocalCollective } from "./zero2/collective/local-collective.js";
import { PartitionedAdamW } from "./zero2/partitioned-adamw.js";

const n = 600_001; // above the split threshold, odd so the halves differ
const h = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, gradScale: 0.5 };
const fill = (a: Float32Array, seed: number) => {
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.013 + seed);
  return a;
};
const multiCore = availableParallelism() > 1 && process.env.LLAVA_THREADS !== "1";

beforeAll(async () => {
  await initBackend();
});

describe("second core: AdamW and Σg² on two threads", () => {
  it("the one-rank optimizer step on a variable in the threaded wasm heap: the helper takes half of Σg² and of the update", async () => {
    const w = tf.variable(tf.tensor1d(fill(new Float32Array(n), 3)));
    const start = Float32Array.from(valuesOf(w));
    const heapShared = valuesOf(w).buffer instanceof SharedArrayBuffer; // the threaded build's heap
    const opt = new PartitionedAdamW([{ name: "w", variable: w, decay: true }], {
      lr: 1e-2,
      weightDecay: 0.1,
      collective: new LocalCollective(),
    });
    fill(opt.grads.views[0], 4);
    opt.grads.present[0] = true;
    const g = Float32Array.from(opt.grads.views[0]);
    const before = secondCoreJobs();
    const norm = await opt.step(1e-2, 100); // clipped: the factor is folded into the update
    const scale = clipCoefficient(norm, 100);
    expect(scale).toBeLessThan(1);
    const [p1, m1, v1] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    adamwUpdate(p1, g, m1, v1, 1, adamwHyper(opt.config, 1e-2, true, scale), 0, n, start);
    expect(Float32Array.from(valuesOf(w))).toEqual(p1);
    // Σg² over the shared gradient buffer, then the update into the heap.
    expect(secondCoreJobs() - before).toBe((multiCore ? 1 : 0) + (multiCore && heapShared ? 1 : 0));
    if (multiCore && wasmThreads() > 1) expect(heapShared).toBe(true);
    w.dispose();
  });

  it("adamwUpdateParallel is bit-identical to adamwUpdate, with the helper taking half", () => {
    const [p, g, m, v, src] = [0, 1, 2, 3, 4].map((k) => fill(sharedFloat32(n), k));
    const [p1, m1, v1] = [new Float32Array(n), Float32Array.from(m), Float32Array.from(v)];
    const before = secondCoreJobs();
    adamwUpdateParallel(p, g, m, v, 3, h, src);
    adamwUpdate(p1, Float32Array.from(g), m1, v1, 3, h, 0, n, Float32Array.from(src));
    expect(p).toEqual(p1);
    expect(m).toEqual(m1);
    expect(v).toEqual(v1);
    expect(secondCoreJobs() - before).toBe(multiCore ? 1 : 0);
  });

  it("GradientBuffer.sumOfSquares (halves on two threads) equals the one-thread sum", () => {
    const buf = new GradientBuffer([n]);
    fill(buf.views[0], 7);
    buf.present[0] = true;
    let serial = 0;
    for (let i = 0; i < n; i++) serial += buf.flat[i] * buf.flat[i];
    const before = secondCoreJobs();
    expect(Math.abs(buf.sumOfSquares() - serial)).toBeLessThanOrEqual(1e-12 * serial);
    expect(secondCoreJobs() - before).toBe(multiCore ? 1 : 0);
  });

  it("stays on one thread for ordinary arrays and short loops", () => {
    const before = secondCoreJobs();
    const [p, g, m, v] = [0, 1, 2, 3].map((k) => fill(new Float32Array(n), k));
    adamwUpdateParallel(p, g, m, v, 1, h);
    const [q, g2, m2, v2] = [0, 1, 2, 3].map((k) => fill(sharedFloat32(1000), k));
    adamwUpdateParallel(q, g2, m2, v2, 1, h);
    expect(secondCoreJobs()).toBe(before);
  });
});
