import { ConfigError, initBackend, ShapeError } from "@llava-ts/core";
import { expectNoLeaks } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { selectImageFeatures } from "./select-image-features.js";

beforeAll(async () => {
  await initBackend();
});

describe("selectImageFeatures", () => {
  it('drops the class token for "default" and keeps everything for "full"', () => {
    const h = tf.range(0, 12).reshape([2, 3, 2]); // [B=2, S=3, D=2]
    const d = selectImageFeatures(h, "default");
    expect(d.shape).toEqual([2, 2, 2]);
    expect(Array.from(d.dataSync())).toEqual([2, 3, 4, 5, 8, 9, 10, 11]);
    const f = selectImageFeatures(h, "full");
    expect(Array.from(f.dataSync())).toEqual(Array.from(h.dataSync()));
    tf.dispose([h, d, f]);
  });

  it("rejects unknown strategies and non-[B, S, D] input", () => {
    const h = tf.zeros([2, 3, 2]);
    expect(() => selectImageFeatures(h, "cls_patch")).toThrow(ConfigError);
    const flat = tf.zeros([3, 2]);
    expect(() => selectImageFeatures(flat, "default")).toThrow(ShapeError);
    tf.dispose([h, flat]);
  });

  it("does not leak", async () => {
    const h = tf.zeros([2, 3, 2]);
    await expectNoLeaks(() => selectImageFeatures(h, "default"));
    await expectNoLeaks(() => selectImageFeatures(h, "full"));
    h.dispose();
  });
});
