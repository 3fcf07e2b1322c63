import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./init-backend.js";

describe("initBackend", () => {
  beforeAll(async () => {
    delete process.env.LLAVA_BACKEND;
  });

  it("picks wasm here (no native TensorFlow installed) and is idempotent", async () => {
    expect(await initBackend()).toBe("wasm");
    expect(await initBackend()).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
  });

  it("honours LLAVA_BACKEND and rejects unknown names", async () => {
    process.env.LLAVA_BACKEND = "cpu";
    try {
      expect(await initBackend()).toBe("cpu");
      process.env.LLAVA_BACKEND = "gpu";
      await expect(initBackend()).rejects.toThrow(/unknown backend "gpu"/);
    } finally {
      delete process.env.LLAVA_BACKEND;
    }
    expect(await initBackend({ backend: "wasm" })).toBe("wasm");
  });

  it("reports a backend whose package is missing", async () => {
    await expect(initBackend({ backend: "tensorflow" })).rejects.toThrow(/could not be initialised/);
    expect(await initBackend({ backend: "wasm" })).toBe("wasm");
  });
});

describe("gather's gradient on wasm (UnsortedSegmentSum)", () => {
  // An embedding lookup with repeated ids: the gradient row of an id is the sum of its upstream rows.
  function embeddingGrad(): Float32Array {
    const table = tf.tensor2d(
      Array.from({ length: 40 }, (_, i) => Math.sin(i)),
      [10, 4],
    );
    const ids = tf.tensor2d([1, 2, 1, 9, 0, 1], [2, 3], "int32");
    const weights = tf.tensor3d(
      Array.from({ length: 24 }, (_, i) => (i % 7) - 3.5),
      [2, 3, 4],
    );
    const g = tf.grad((t: tf.Tensor) => tf.gather(t, ids).mul(weights).sum())(table);
    const out = g.dataSync() as Float32Array;
    tf.dispose([table, ids, weights, g]);
    return Float32Array.from(out);
  }

  it("equals the cpu backend's within 1e-6 and the hand-computed sums", async () => {
    await initBackend({ backend: "wasm" });
    const wasm = embeddingGrad();
    await initBackend({ backend: "cpu" });
    const cpu = embeddingGrad();
    await initBackend({ backend: "wasm" });
    for (let i = 0; i < cpu.length; i++) expect(Math.abs(wasm[i] - cpu[i])).toBeLessThanOrEqual(1e-6);
    // Row 1 is hit at positions 0, 2, 5: weights rows 0, 2, 5.
    const w = (p: number, j: number) => ((p * 4 + j) % 7) - 3.5;
    for (let j = 0; j < 4; j++) expect(wasm[4 + j]).toBeCloseTo(w(0, j) + w(2, j) + w(5, j), 6);
    expect(Array.from(wasm.slice(12, 16))).toEqual([0, 0, 0, 0]); // id 3 never used
  });

  it("does not leak", async () => {
    await initBackend({ backend: "wasm" });
    embeddingGrad();
    const before = tf.memory().numTensors;
    embeddingGrad();
    expect(tf.memory().numTensors).toBe(before);
  });
});
