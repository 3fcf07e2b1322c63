import { initBackend } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs";
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
