import { describe, expect, it } from "vitest";
import { bf16ToFloat32, f16ToFloat32, float32ToBf16, float32ToF16 } from "./half.js";

const bitsOf = (f: Float32Array) => Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));
const fromBits = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
const allHalves = Uint16Array.from({ length: 65536 }, (_, i) => i);

describe("F16", () => {
  it("widens every half exactly and narrows back to the same bits (all 65536 patterns)", () => {
    const wide = f16ToFloat32(allHalves);
    const back = float32ToF16(wide);
    for (let h = 0; h < 65536; h++) {
      const nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (nan) expect(Number.isNaN(wide[h])).toBe(true);
      else if (back[h] !== h)
        expect.fail(`half 0x${h.toString(16)} -> ${wide[h]} -> 0x${back[h].toString(16)}`);
    }
    expect(Array.from(f16ToFloat32(Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00)))).toEqual([
      1,
      -2,
      65504,
      2 ** -24,
      -0,
      Infinity,
    ]);
  });

  it("keeps NaN payloads and signalling NaNs bit-exact when widening", () => {
    expect(bitsOf(f16ToFloat32(Uint16Array.of(0x7c01, 0xfe00, 0x7dff)))).toEqual([
      0x7f802000, 0xffc00000, 0x7fbfe000,
    ]);
    expect(bitsOf(bf16ToFloat32(Uint16Array.of(0x7f81, 0xffc0)))).toEqual([0x7f810000, 0xffc00000]);
  });

  it("rounds to nearest, ties to even, at every midpoint between adjacent finite halves", () => {
    const wide = f16ToFloat32(allHalves);
    const mids = new Float32Array(0x7bff);
    for (let h = 0; h < 0x7bff; h++) mids[h] = (wide[h] + wide[h + 1]) / 2; // exact in float32
    const tie = float32ToF16(mids);
    const above = float32ToF16(fromBits(bitsOf(mids).map((b) => b + 1)));
    const below = float32ToF16(fromBits(bitsOf(mids).map((b) => b - 1)));
    for (let h = 0; h < 0x7bff; h++) {
      const even = h % 2 === 0 ? h : h + 1;
      if (tie[h] !== even || above[h] !== h + 1 || (h > 0 && below[h] !== h))
        expect.fail(
          `midpoint after 0x${h.toString(16)}: tie ${tie[h]}, above ${above[h]}, below ${below[h]}`,
        );
    }
  });

  it("matches numpy's astype(float16) on reference values", () => {
    // float32 bits and numpy 2.4 float16 bits: random values, overflow edges (65504, 65520), subnormals, -0.
    const f32 = [
      0x42fb75df, 0xc3041ad8, 0x44201b0d, 0x42d1ccdc, 0xc405ead7, 0x43b4cc2b, 0x44a30000, 0x446cc52f,
      0x477fe000, 0x477ff000, 0x477feffd, 0x322bcc77, 0x3380d959, 0x3300d959, 0x33000000, 0x80000000,
      0x47c35000,
    ];
    const f16 = [
      0x57dc, 0xd821, 0x6101, 0x568e, 0xe02f, 0x5da6, 0x6518, 0x6366, 0x7bff, 0x7c00, 0x7bff, 0x0, 0x1, 0x1,
      0x0, 0x8000, 0x7c00,
    ];
    expect(Array.from(float32ToF16(fromBits(f32)))).toEqual(f16);
    expect(float32ToF16(Float32Array.of(Number.NaN, -Infinity))).toEqual(Uint16Array.of(0x7e00, 0xfc00));
  });
});

describe("BF16", () => {
  it("widens every pattern exactly and narrows back to the same bits", () => {
    const wide = bf16ToFloat32(allHalves);
    const back = float32ToBf16(wide);
    for (let h = 0; h < 65536; h++) {
      const nan = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (nan) expect(back[h]).toBe(0x7fc0);
      else if (back[h] !== h) expect.fail(`bf16 0x${h.toString(16)} -> 0x${back[h].toString(16)}`);
    }
  });

  it("rounds to nearest even like torch, NaN -> 0x7FC0, overflow -> inf", () => {
    const out = float32ToBf16(
      fromBits([
        0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff, 0xbf818000, 0x7fc00001, 0xffa00000, 0x7f7fffff,
      ]),
    );
    expect(Array.from(out)).toEqual([0x3f80, 0x3f82, 0x3f81, 0x3f80, 0xbf82, 0x7fc0, 0x7fc0, 0x7f80]);
  });
});
