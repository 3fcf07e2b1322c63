import { describe, expect, it } from "vitest";
import { expandToSquare, meanColour } from "./expand-to-square.js";

describe("expandToSquare (LLaVA's expand2square)", () => {
  it("uses int(mean * 255) as the background", () => {
    expect(meanColour([0.48145466, 0.4578275, 0.40821073])).toEqual([122, 116, 104]);
  });

  it("centres a wide image vertically with offset (w - h) // 2", () => {
    const img = { data: new Uint8Array(4 * 1 * 3).fill(9), width: 4, height: 1 };
    const out = expandToSquare(img, [1, 2, 3]);
    expect([out.width, out.height]).toEqual([4, 4]);
    const rowOf = (y: number) => [...out.data.subarray(y * 12, y * 12 + 3)];
    expect([0, 1, 2, 3].map(rowOf)).toEqual([
      [1, 2, 3],
      [9, 9, 9],
      [1, 2, 3],
      [1, 2, 3],
    ]); // offset 3 // 2 = 1
  });

  it("centres a tall image horizontally and leaves squares untouched", () => {
    const tall = { data: new Uint8Array(1 * 3 * 3).fill(9), width: 1, height: 3 };
    const out = expandToSquare(tall, [0, 0, 0]);
    expect([...out.data.subarray(0, 9)]).toEqual([0, 0, 0, 9, 9, 9, 0, 0, 0]);
    const square = { data: new Uint8Array(12), width: 2, height: 2 };
    expect(expandToSquare(square, [1, 1, 1])).toBe(square);
  });
});
