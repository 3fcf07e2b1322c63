import { describe, expect, it } from "vitest";
import { resize } from "./resize.js";
import type { RgbImage } from "./rgb-image.js";

const image = (width: number, height: number, f: (x: number, y: number, c: number) => number): RgbImage => {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = f(x, y, c);
  return { data, width, height };
};
const row = (values: number[]) => image(values.length, 1, (x) => values[x]);

describe("resize (Pillow's Resample.c)", () => {
  it("averages a 2→1 bicubic downscale with Pillow's round-half-up in fixed point", () => {
    // Support widens to 4 on a 2× reduction: both pixels get weight 0.5; 15.5 rounds up, 15 stays.
    expect([...resize(row([10, 21]), 1, 1).data]).toEqual([16, 16, 16]);
    expect([...resize(row([10, 20]), 1, 1).data]).toEqual([15, 15, 15]);
  });

  it("clips bicubic overshoot to 0..255 instead of wrapping", () => {
    const step = row([0, 0, 0, 255, 255, 255]);
    const up = resize(step, 24, 1);
    const values = [...up.data].filter((_, i) => i % 3 === 0);
    expect(Math.min(...values)).toBe(0);
    expect(Math.max(...values)).toBe(255);
    // a = -0.5 rings: just before the edge the result would go negative and just after above 255.
    expect(values.slice(0, 10).every((v) => v === 0)).toBe(true);
    expect(values.slice(14).every((v) => v === 255)).toBe(true);
  });

  it("keeps a constant image constant at any scale, for every filter", () => {
    const flat = image(37, 23, (_x, _y, c) => [90, 160, 7][c]);
    for (const filter of [1, 2, 3, 4, 5] as const)
      for (const [w, h] of [
        [10, 5],
        [80, 61],
        [37, 9],
      ]) {
        const out = resize(flat, w, h, filter);
        expect([out.width, out.height]).toEqual([w, h]);
        const wrong = out.data.findIndex((v, i) => v !== [90, 160, 7][i % 3]);
        expect(wrong, `filter ${filter} at ${w}x${h}`).toBe(-1);
      }
  });

  it("is mirror-symmetric (kernel centres at (i + 0.5) * scale)", () => {
    const img = image(13, 7, (x, y, c) => (x * 37 + y * 11 + c * 5) % 256);
    const flipped = image(13, 7, (x, y, c) => img.data[(y * 13 + (12 - x)) * 3 + c]);
    const a = resize(img, 5, 3);
    const b = resize(flipped, 5, 3);
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 5; x++)
        for (let c = 0; c < 3; c++) expect(a.data[(y * 5 + x) * 3 + c]).toBe(b.data[(y * 5 + 4 - x) * 3 + c]);
  });

  it("returns a copy when the size does not change, and keeps each axis independent", () => {
    const img = image(4, 3, (x, y, c) => x * 50 + y * 10 + c);
    const same = resize(img, 4, 3);
    expect(same.data).toEqual(img.data);
    expect(same.data).not.toBe(img.data);
    // Only the width changes: every row is resampled on its own, as if it were the whole image.
    const wide = resize(img, 9, 3);
    for (let y = 0; y < 3; y++) {
      const alone = resize({ data: img.data.slice(y * 12, y * 12 + 12), width: 4, height: 1 }, 9, 1);
      expect(wide.data.subarray(y * 27, y * 27 + 27)).toEqual(alone.data);
    }
  });

  it("rejects sizes that are not positive integers", () => {
    expect(() => resize(row([1, 2]), 0, 1)).toThrow(/positive integers, got 0x1/);
    expect(() => resize(row([1, 2]), 1.5, 1)).toThrow(RangeError);
  });
});
