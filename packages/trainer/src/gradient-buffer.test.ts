import { initBackend } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { clipGradNorm, GradientBuffer } from "./gradient-buffer.js";

beforeAll(async () => {
  await initBackend();
});

describe("GradientBuffer", () => {
  it("sums micro-batch gradients into contiguous views and tracks which parameters got one", () => {
    const buf = new GradientBuffer([2, 3]);
    const g = tf.tensor1d([1, 2]);
    buf.add(0, g);
    buf.add(0, g);
    expect([...buf.flat]).toEqual([2, 4, 0, 0, 0]);
    expect(buf.gradients()[1]).toBeUndefined();
    expect(buf.views[1].buffer).toBe(buf.flat.buffer);
    expect(() => buf.add(1, g)).toThrow(/gradient 1 has 2 values, expected 3/);
    buf.zero();
    expect(buf.present).toEqual([false, false]);
    g.dispose();
  });
});

describe("GradientBuffer.addRows (a lookup's gradient)", () => {
  it("adds each position's row into its row of the table, repeated rows summed", () => {
    const buf = new GradientBuffer([3, 8]); // parameter 1: a [4, 2] table
    const rows = Int32Array.of(2, 0, 2);
    buf.addRows(1, rows, Float32Array.of(1, 2, 3, 4, 5, 6));
    expect([...buf.views[1]]).toEqual([3, 4, 0, 0, 6, 8, 0, 0]);
    expect(buf.present).toEqual([false, true]);
    // On top of a dense gradient already there.
    const dense = tf.tensor1d([1, 1, 1, 1, 1, 1, 1, 1]);
    buf.zero();
    buf.add(1, dense);
    buf.addRows(1, Int32Array.of(3), Float32Array.of(10, 20));
    expect([...buf.views[1]]).toEqual([1, 1, 1, 1, 1, 1, 11, 21]);
    dense.dispose();
  });

  it("names the row that is outside the table, and a size that does not divide", () => {
    const buf = new GradientBuffer([8]);
    expect(() => buf.addRows(0, Int32Array.of(1, 4), Float32Array.of(1, 2, 3, 4))).toThrow(
      /row 4 at position 1 is outside \[0, 4\)/,
    );
    expect(() => buf.addRows(0, Int32Array.of(1, 2), Float32Array.of(1, 2, 3))).toThrow(
      /3 values for 2 rows do not divide its 8/,
    );
  });
});

describe("clipGradNorm (torch.nn.utils.clip_grad_norm_)", () => {
  it("scales by max_norm / (norm + 1e-6) when the norm is above max_norm", () => {
    const buf = new GradientBuffer([2, 1]);
    const a = tf.tensor1d([3, 0]);
    const b = tf.tensor1d([4]);
    buf.add(0, a);
    buf.add(1, b);
    const norm = clipGradNorm(buf, 1);
    expect(norm).toBe(5);
    const coef = 1 / (5 + 1e-6);
    expect(buf.flat[0]).toBeCloseTo(3 * coef, 7);
    expect(buf.flat[2]).toBeCloseTo(4 * coef, 7);
    tf.dispose([a, b]);
  });

  it("leaves the gradients bit-identical when the norm is within max_norm", () => {
    const buf = new GradientBuffer([2]);
    const a = tf.tensor1d([0.3, 0.4]);
    buf.add(0, a);
    const before = Float32Array.from(buf.flat);
    expect(clipGradNorm(buf, 0.5 + 1e-3)).toBeCloseTo(0.5, 6);
    expect(buf.flat).toEqual(before);
    a.dispose();
  });
});
