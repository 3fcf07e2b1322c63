import { initBackend, ShapeError } from "@llava-ts/core";
import { expectNoLeaks, expectTensorsClose } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { mergeImageFeatures } from "./merge-image-features.js";

const IMG = 9;
// B = 2, T = 4: one image of L = 3 rows split over the batch, as masked_scatter does in row-major order.
const ids = Int32Array.from([1, IMG, IMG, 2, IMG, 3, 4, 5]);
const embedsData = [
  [
    [0, 0],
    [1, 1],
    [2, 2],
    [3, 3],
  ],
  [
    [4, 4],
    [5, 5],
    [6, 6],
    [7, 7],
  ],
];
const featsData = [
  [
    [10, 11],
    [20, 21],
    [30, 31],
  ],
];
const expected = [
  [
    [0, 0],
    [10, 11],
    [20, 21],
    [3, 3],
  ],
  [
    [30, 31],
    [5, 5],
    [6, 6],
    [7, 7],
  ],
];

beforeAll(async () => {
  await initBackend();
});

describe("mergeImageFeatures", () => {
  it("scatters feature rows in order at the image-token positions, other rows untouched", () => {
    const embeds = tf.tensor3d(embedsData); // [2, 4, 2]
    const feats = tf.tensor3d(featsData); // [1, 3, 2]
    const out = mergeImageFeatures(embeds, ids, feats, IMG);
    expect(out.arraySync()).toEqual(expected);
    // [N, D] features and tensor ids give the same result.
    const flat = feats.reshape([3, 2]);
    const idsT = tf.tensor2d(ids, [2, 4], "int32");
    const out2 = mergeImageFeatures(embeds, idsT, flat, IMG);
    expect(out2.arraySync()).toEqual(expected);
    tf.dispose([embeds, feats, out, flat, idsT, out2]);
  });

  it("returns the embeddings unchanged when there are no image tokens and no features", () => {
    const embeds = tf.tensor3d(embedsData);
    const none = tf.zeros([0, 2]);
    const out = mergeImageFeatures(embeds, Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), none, IMG);
    expect(out.arraySync()).toEqual(embedsData);
    tf.dispose([embeds, none, out]);
  });

  it("raises a ShapeError with both counts when tokens and feature rows disagree", () => {
    const embeds = tf.tensor3d(embedsData);
    const four = tf.zeros([2, 2, 2]); // 4 rows for 3 image tokens
    expect(() => mergeImageFeatures(embeds, ids, four, IMG)).toThrow(ShapeError);
    expect(() => mergeImageFeatures(embeds, ids, four, IMG)).toThrow(
      "image tokens (3) do not match image features (4)",
    );
    tf.dispose([embeds, four]);
  });

  it("raises a ShapeError for mismatched hidden sizes or id counts", () => {
    const embeds = tf.tensor3d(embedsData);
    const wide = tf.zeros([3, 5]);
    const feats = tf.zeros([3, 2]);
    expect(() => mergeImageFeatures(embeds, ids, wide, IMG)).toThrow(
      /image features \[3,5\] are not \[N, L, 2\]/,
    );
    expect(() => mergeImageFeatures(embeds, ids.subarray(0, 7), feats, IMG)).toThrow(
      /7 inputIds do not match embeddings \[B, T\] = \[2, 4\]/,
    );
    const idsT = tf.tensor2d(ids, [4, 2], "int32");
    expect(() => mergeImageFeatures(embeds, idsT, feats, IMG)).toThrow(/inputIds \[4,2\] do not match/);
    tf.dispose([embeds, wide, feats, idsT]);
  });

  it("passes gradients to both the text embeddings and the image features", () => {
    const embeds = tf.tensor3d(embedsData);
    const feats = tf.tensor3d(featsData);
    // loss = Σ merged ⊙ W, so d loss / d merged = W, routed back to where each output row came from.
    const W = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
        [5, 6],
        [7, 8],
      ],
      [
        [9, 10],
        [11, 12],
        [13, 14],
        [15, 16],
      ],
    ]);
    const [gE, gF] = tf.grads((e: tf.Tensor, f: tf.Tensor) =>
      mergeImageFeatures(e, ids, f, IMG).mul(W).sum(),
    )([embeds, feats]);
    // Text rows get W at their own position, image-token rows get nothing (they were replaced).
    expectTensorsClose(
      gE,
      tf.tensor3d([
        [
          [1, 2],
          [0, 0],
          [0, 0],
          [7, 8],
        ],
        [
          [0, 0],
          [11, 12],
          [13, 14],
          [15, 16],
        ],
      ]),
      { atol: 0 },
    );
    // Feature row k gets W at the k-th image token: (0,1), (0,2), (1,0).
    expectTensorsClose(
      gF,
      tf.tensor3d([
        [
          [3, 4],
          [5, 6],
          [9, 10],
        ],
      ]),
      { atol: 0 },
    );
    tf.dispose([embeds, feats, W, gE, gF]);
  });

  it("does not leak", async () => {
    const embeds = tf.tensor3d(embedsData);
    const feats = tf.tensor3d(featsData);
    await expectNoLeaks(() => mergeImageFeatures(embeds, ids, feats, IMG));
    await expectNoLeaks(() =>
      tf.grads((e: tf.Tensor, f: tf.Tensor) => mergeImageFeatures(e, ids, f, IMG).sum())([embeds, feats]),
    );
    tf.dispose([embeds, feats]);
  });
});
