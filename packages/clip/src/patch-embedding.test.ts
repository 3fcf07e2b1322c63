import { initBackend, ShapeError } from "@llava-ts/core";
import { expectNoLeaks, expectTensorsClose } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { patchEmbed, patchify } from "./patch-embedding.js";

beforeAll(async () => {
  await initBackend();
});

describe("patchEmbed", () => {
  it("equals a strided convolution (kernel = stride = patch, no bias)", () => {
    const [B, C, S, P, D] = [2, 3, 12, 4, 5];
    const px = tf.randomNormal([B, C, S, S], 0, 1, "float32", 1); // [B, C, H, W]
    const w = tf.randomNormal([D, C, P, P], 0, 1, "float32", 2); // [D, C, P, P]
    // Reference: tf.conv2d in NHWC with the kernel as [P, P, C, D].
    const conv = tf.conv2d(
      px.transpose([0, 2, 3, 1]) as tf.Tensor4D,
      w.transpose([2, 3, 1, 0]) as tf.Tensor4D,
      P,
      "valid",
    );
    const expected = conv.reshape([B, (S / P) ** 2, D]); // [B, N, D], patches in row-major order
    expectTensorsClose(patchEmbed(px, w), expected, { atol: 1e-4 });
    tf.dispose([px, w, conv, expected]);
  });

  it("flattens each patch in (c, y, x) order", () => {
    const px = tf.range(0, 2 * 4 * 4).reshape([1, 2, 4, 4]); // [1, C=2, 4, 4]
    const p = patchify(px, 2); // [1, 4, 8]
    // second patch (top right): channel 0 rows 0-1 cols 2-3, then channel 1
    expect(Array.from(p.dataSync().slice(8, 16))).toEqual([2, 3, 6, 7, 18, 19, 22, 23]);
    tf.dispose([px, p]);
  });

  it("has a gradient for both the pixels and the kernel on this backend", () => {
    const px = tf.randomNormal([1, 3, 8, 8], 0, 1, "float32", 3);
    const w = tf.randomNormal([4, 3, 4, 4], 0, 1, "float32", 4);
    const [gx, gw] = tf.grads((x: tf.Tensor, k: tf.Tensor) => patchEmbed(x, k).sum())([px, w]);
    expect(gx.shape).toEqual([1, 3, 8, 8]);
    expect(gw.shape).toEqual([4, 3, 4, 4]);
    // d(sum)/dW[d, c, y, x] = sum over patches of the pixel at (c, y, x) in that patch: same for every d.
    const expectedGw = patchify(px, 4).sum([0, 1]).reshape([1, 3, 4, 4]).tile([4, 1, 1, 1]);
    expectTensorsClose(gw, expectedGw, { atol: 1e-4 });
    tf.dispose([px, w, gx, gw, expectedGw]);
  });

  it("names both shapes when the channels or sizes do not fit", () => {
    const w = tf.zeros([4, 3, 4, 4]);
    const gray = tf.zeros([1, 1, 8, 8]);
    const odd = tf.zeros([1, 3, 9, 8]);
    expect(() => patchEmbed(gray, w)).toThrow(ShapeError);
    expect(() => patchEmbed(gray, w)).toThrow(/\[1,1,8,8\].*\[4,3,4,4\]/);
    expect(() => patchEmbed(odd, w)).toThrow(/\[1,3,9,8\]/);
    tf.dispose([w, gray, odd]);
  });

  it("does not leak", async () => {
    const px = tf.ones([1, 3, 8, 8]);
    const w = tf.ones([4, 3, 4, 4]);
    await expectNoLeaks(() => patchEmbed(px, w));
    tf.dispose([px, w]);
  });
});
