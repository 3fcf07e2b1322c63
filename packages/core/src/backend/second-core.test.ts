// splitLoop: the upper part of a long loop on a helper thread when every array is shared memory; the
// fused cross-entropy uses it on the threaded wasm heap.
import { availableParallelism } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { crossEntropy } from "../nn/causal-lm-loss.js";
import { initBackend } from "./init-backend.js";
import { type LoopBody, secondCoreJobs, sharedFloat32, splitLoop } from "./second-core.js";
import { wasmThreads } from "./wasm-threads.js";

const multiCore = availableParallelism() > 1 && process.env.LLAVA_THREADS !== "1";

function triple(x: number): number {
  return 3 * x;
}
/** out[i] = triple(in[i]) + extra; returns Σ in[i] over its part. */
function body(a: Float32Array[], from: number, to: number, extra: unknown): number {
  let s = 0;
  for (let i = from; i < to; i++) {
    a[1][i] = triple(a[0][i]) + (extra as number);
    s += a[0][i];
  }
  return s;
}
function broken(): number {
  throw new Error("broken on purpose");
}

beforeAll(async () => {
  await initBackend();
});

describe("splitLoop", () => {
  const n = 300_001;
  it("runs both parts, with the function's dependencies, and sums their results", () => {
    const [input, out] = [sharedFloat32(n), sharedFloat32(n)];
    for (let i = 0; i < n; i++) input[i] = i % 7;
    const before = secondCoreJobs();
    const sum = splitLoop(body as LoopBody, [input, out], n, { extra: 0.5, deps: [triple] });
    expect(secondCoreJobs() - before).toBe(multiCore ? 1 : 0);
    let want = 0;
    for (let i = 0; i < n; i++) want += i % 7;
    expect(sum).toBe(want);
    for (let i = 0; i < n; i += 997) expect(out[i]).toBe(3 * (i % 7) + 0.5);
    expect(out[n - 1]).toBe(3 * ((n - 1) % 7) + 0.5);
  });

  it("a failing helper part is an error, not a hang", () => {
    const a = sharedFloat32(n);
    if (!multiCore) return;
    expect(() => splitLoop((_a, from) => (from === 0 ? 0 : broken()), [a], n, { deps: [broken] })).toThrow(
      /second-core helper thread failed/,
    );
    // The helper is still usable afterwards.
    expect(splitLoop(body as LoopBody, [a, sharedFloat32(n)], n, { extra: 0, deps: [triple] })).toBe(0);
  });

  it("the fused cross-entropy on the threaded heap: value and gradient as in double, rows on two cores", () => {
    const [N, V] = [4, 100_000];
    const z = Float32Array.from({ length: N * V }, (_, i) => Math.sin(i * 0.001) * 3);
    const targets = Int32Array.of(5, 99_999, 0, 12_345);
    const x = tf.tensor2d(z, [N, V]);
    const before = secondCoreJobs();
    const value = crossEntropy(x, targets);
    const gradient = tf.grad((t: tf.Tensor) => crossEntropy(t, targets))(x);
    // Reference in double.
    let loss = 0;
    const grad = new Float64Array(N * V);
    for (let r = 0; r < N; r++) {
      let max = -Infinity;
      for (let j = 0; j < V; j++) max = Math.max(max, z[r * V + j]);
      let sum = 0;
      for (let j = 0; j < V; j++) sum += Math.exp(z[r * V + j] - max);
      loss += max + Math.log(sum) - z[r * V + targets[r]];
      for (let j = 0; j < V; j++) grad[r * V + j] = Math.exp(z[r * V + j] - max) / sum / N;
      grad[r * V + targets[r]] -= 1 / N;
    }
    expect(Math.abs(value.dataSync()[0] - loss / N)).toBeLessThan(1e-5);
    const g = gradient.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < g.length; i++) maxDiff = Math.max(maxDiff, Math.abs(g[i] - grad[i]));
    expect(maxDiff).toBeLessThan(1e-7);
    // Two forwards (value, and inside grad) and one backward.
    if (multiCore && wasmThreads() > 1) expect(secondCoreJobs() - before).toBe(3);
    tf.dispose([x, value, gradient]);
  });
});
