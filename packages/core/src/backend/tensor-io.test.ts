import * as tf from "@tensorflow/tfjs-core";
import { afterAll, describe, expect, it } from "vitest";
import { initBackend } from "./init-backend.js";
import { readInto, rewriteVariable, valuesOf } from "./tensor-io.js";

describe.each(["wasm", "cpu"] as const)("tensor I/O on %s", (backend) => {
  afterAll(async () => {
    await initBackend({ backend: "wasm" });
  });

  it("reads values into a buffer at an offset", async () => {
    await initBackend({ backend });
    const t = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const dst = new Float32Array(8);
    readInto(t, dst, 1);
    expect(Array.from(dst)).toEqual([0, 1, 2, 3, 4, 5, 6, 0]);
    expect(Array.from(valuesOf(t))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => readInto(t, dst, 3)).toThrow(/do not fit/);
    t.dispose();
  });

  it("rewrites a variable from its current values without leaking", async () => {
    await initBackend({ backend });
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const y = tf.tidy(() => tf.matMul(v.reshape([1, 3]), tf.ones([3, 1]))); // uses the old data
    const before = tf.memory().numTensors;
    rewriteVariable(v, (next, current) => {
      for (let i = 0; i < next.length; i++) next[i] = current[i] * 10 + 1;
    });
    expect(Array.from(v.dataSync())).toEqual([11, 21, 31]);
    expect(y.dataSync()[0]).toBe(6);
    expect(tf.memory().numTensors).toBe(before);
    y.dispose();
    v.dispose();
  });
});
