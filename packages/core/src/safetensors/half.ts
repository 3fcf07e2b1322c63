// 16-bit float formats <-> float32, on raw bit patterns. Widening is exact; narrowing rounds to
// nearest, ties to even — the same bits numpy's astype(float16) and torch's .to(bfloat16) give.

let f16Table: Uint32Array | undefined;

/**
 * All 65536 halves as float32 bit patterns, built once (256 KB) because a lookup beats bit-twiddling.
 * Bits, not floats: copying a NaN through a JS number may quiet it and change its payload.
 */
function halfTable(): Uint32Array {
  if (f16Table) return f16Table;
  const bits = new Uint32Array(65536);
  const view = new Float32Array(bits.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      view[h] = mant * 2 ** -24; // zero or subnormal: exact in float32
      bits[h] |= sign; // keeps -0
    } else if (exp === 31) {
      bits[h] = sign | 0x7f800000 | (mant << 13); // inf, or NaN with its payload
    } else {
      bits[h] = sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 -> 127
    }
  }
  f16Table = bits;
  return bits;
}

/** IEEE half bit patterns -> float32 values. */
export function f16ToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  f16Into(src, out);
  return out;
}

/** bfloat16 bit patterns -> float32 values: bf16 is the top half of a float32. */
export function bf16ToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  bf16Into(src, out);
  return out;
}

/** Widens IEEE halves into `out` from `offset` (e.g. straight into a tensor's heap memory). */
export function f16Into(src: Uint16Array, out: Float32Array, offset = 0): void {
  const table = halfTable();
  const bits = new Uint32Array(out.buffer, out.byteOffset + offset * 4, src.length);
  for (let i = 0; i < src.length; i++) bits[i] = table[src[i]];
}

/** Widens bfloat16 values into `out` from `offset`. */
export function bf16Into(src: Uint16Array, out: Float32Array, offset = 0): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset + offset * 4, src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
}

/** float32 -> bfloat16 bits, round-to-nearest-even; every NaN becomes 0x7FC0 as in torch. */
export function float32ToBf16(src: Float32Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = 0x7fc0;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** float32 -> IEEE half bits, round-to-nearest-even; overflow gives ±inf, NaN gives a quiet NaN. */
export function float32ToF16(src: Float32Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < u.length; i++) out[i] = f32BitsToF16(u[i]);
  return out;
}

function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00; // NaN
  if (abs >= 0x477ff000) return sign | 0x7c00; // >= 65520 rounds past the largest half (65504)
  if (abs >= 0x38800000) {
    // Normal half: rebias the exponent, keep 10 mantissa bits, round on the 13 dropped ones.
    let h = ((((abs >>> 23) - 112) << 10) | ((abs >>> 13) & 0x3ff)) >>> 0;
    const rest = abs & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // a carry into the exponent is still right
    return sign | h;
  }
  if (abs <= 0x33000000) return sign; // <= 2^-25, half the smallest subnormal: ties to even = 0
  // Subnormal half: value / 2^-24, i.e. the 24-bit significand shifted right by (126 - exponent).
  const shift = 126 - (abs >>> 23);
  const mant = (abs & 0x7fffff) | 0x800000;
  let h = mant >>> shift;
  const rest = mant & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && h & 1)) h++;
  return sign | h;
}
