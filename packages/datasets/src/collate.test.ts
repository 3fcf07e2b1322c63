import { IGNORE_INDEX } from "@llava-ts/core";
import { describe, expect, it } from "vitest";
import { collate } from "./collate.js";

describe("collate", () => {
  const px = (v: number) => new Float32Array(3 * 2 * 2).fill(v);
  it("right-pads ids with the pad id, masks padding, sets labels -100 there, stacks pixel values", () => {
    const b = collate(
      [
        { index: 4, inputIds: [1, 2, 3], labels: [-100, 2, 3], pixelValues: [px(1)], imageSize: 2 },
        { index: 9, inputIds: [5], labels: [5], pixelValues: [px(2)], imageSize: 2 },
      ],
      { padTokenId: 0 },
    );
    expect([b.batchSize, b.seqLength]).toEqual([2, 3]);
    expect([...b.inputIds]).toEqual([1, 2, 3, 5, 0, 0]);
    expect([...b.attentionMask]).toEqual([1, 1, 1, 1, 0, 0]);
    expect([...b.labels]).toEqual([-100, 2, 3, 5, IGNORE_INDEX, IGNORE_INDEX]);
    expect(b.pixelShape).toEqual([2, 3, 2, 2]);
    expect([...b.pixelValues.subarray(12)]).toEqual(Array(12).fill(2));
    expect(b.indices).toEqual([4, 9]);
  });

  it("pads to a multiple and keeps only the images that exist (text-only rows add none)", () => {
    const b = collate(
      [
        { index: 0, inputIds: [1, 2, 3], labels: [1, 2, 3], pixelValues: [], imageSize: 0 },
        { index: 1, inputIds: [7], labels: [7], pixelValues: [px(3)], imageSize: 2 },
      ],
      { padTokenId: 151643, padToMultipleOf: 4 },
    );
    expect(b.seqLength).toBe(4);
    expect(b.inputIds[3]).toBe(151643);
    expect(b.pixelShape).toEqual([1, 3, 2, 2]);
  });

  it("rejects ids and labels of different lengths", () => {
    expect(() =>
      collate([{ index: 3, inputIds: [1, 2], labels: [1], pixelValues: [], imageSize: 0 }], {
        padTokenId: 0,
      }),
    ).toThrow(/record 3: 2 ids but 1 labels/);
  });
});
