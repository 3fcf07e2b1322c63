import { describe, expect, it } from "vitest";
import { centerCrop } from "./center-crop.js";
import type { RgbImage } from "./rgb-image.js";

// One channel's value encodes the position: R = x + 1, G = y + 1, B = 0.
const positions = (width: number, height: number): RgbImage => {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([x + 1, y + 1, 0], (y * width + x) * 3);
  return { data, width, height };
};
const at = (img: RgbImage, x: number, y: number) => [
  ...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3),
];

describe("centerCrop (transformers' center_crop)", () => {
  it("uses floor offsets: top = (h - crop_h) // 2, left = (w - crop_w) // 2", () => {
    const out = centerCrop(positions(7, 6), 3, 4);
    expect([out.width, out.height]).toEqual([4, 3]);
    expect(at(out, 0, 0)).toEqual([2, 2, 0]); // left = 1, top = 1
    expect(at(out, 3, 2)).toEqual([5, 4, 0]);
  });

  it("pads with zeros when the crop is larger, the image placed ceil((crop - size) / 2) in", () => {
    const out = centerCrop(positions(2, 1), 4, 5);
    expect([out.width, out.height]).toEqual([5, 4]);
    // rows: ceil(3 / 2) = 2 above; columns: ceil(3 / 2) = 2 to the left.
    expect(at(out, 2, 2)).toEqual([1, 1, 0]);
    expect(at(out, 3, 2)).toEqual([2, 1, 0]);
    expect(at(out, 1, 2)).toEqual([0, 0, 0]);
    expect(at(out, 2, 1)).toEqual([0, 0, 0]);
  });

  it("crops one axis and pads the other", () => {
    const out = centerCrop(positions(10, 2), 3, 4);
    expect(at(out, 0, 0)).toEqual([0, 0, 0]); // ceil(1 / 2) = 1 padded row on top
    expect(at(out, 0, 1)).toEqual([4, 1, 0]); // left = (10 - 4) // 2 = 3
  });
});
