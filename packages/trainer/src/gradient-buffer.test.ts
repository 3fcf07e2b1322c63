import { initBackend } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { GradientBuffer } from "./gradient-buffer.js";

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
