// Pillow's separable resampling (libImaging/Resample.c), re-implemented so that pixel values match
// PIL's `Image.resize` as transformers calls it: fixed-point weights, horizontal pass first, each pass
// rounded and clipped to uint8, the kernel support widened by the downscale factor (antialiasing).
import type { RgbImage } from "./rgb-image.js";

/** PIL's resample codes (`PIL.Image.Resampling`), the values `preprocessor_config.json` stores. */
export const Resample = {
  NEAREST: 0,
  LANCZOS: 1,
  BILINEAR: 2,
  BICUBIC: 3,
  BOX: 4,
  HAMMING: 5,
} as const;
export type ResampleFilter = 1 | 2 | 3 | 4 | 5;

interface Filter {
  support: number;
  weight(x: number): number;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));

// Kernels exactly as Resample.c defines them (bicubic with a = -0.5, as PIL).
const FILTERS: Record<ResampleFilter, Filter> = {
  1: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
  2: { support: 1, weight: (x) => Math.max(0, 1 - Math.abs(x)) },
  3: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  4: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  5: {
    support: 1,
    weight: (x) => {
      const t = Math.abs(x);
      if (t === 0) return 1;
      if (t >= 1) return 0;
      const p = t * Math.PI;
      // Pillow writes these two constants as C floats.
      return (Math.sin(p) / p) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(p));
    },
  },
};

// Weights are integers scaled by 2^22, so that 255 × Σ|w| stays inside int32 as in Pillow.
const PRECISION_BITS = 32 - 8 - 2;

interface Coefficients {
  ksize: number;
  /** Per output index: first input index and number of taps. */
  bounds: Int32Array; // [out, 2]
  /** Fixed-point weights, `ksize` per output index. */
  weights: Int32Array; // [out, ksize]
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis (box = the whole input). */
function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterScale; // Pillow multiplies by the reciprocal; dividing would change the last bit
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates towards zero; the clamps make that equal to Pillow's rounding.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.weight((x + xmin - center + 0.5) * ss);
      sum += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? k[x] / sum : k[x];
      const fixed = w * (1 << PRECISION_BITS);
      weights[xx * ksize + x] = Math.trunc(w < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

// Pillow's clip8: arithmetic shift back from fixed point, then clamp to 0..255.
const clip8 = (v: number) => {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
};
const HALF = 1 << (PRECISION_BITS - 1);

/** Horizontal pass over rows [y0, y0 + rows) of `src`; the result has `rows` rows. */
function resampleHorizontal(src: RgbImage, outWidth: number, y0: number, rows: number, c: Coefficients) {
  const { ksize, bounds, weights } = c;
  const out = new Uint8Array(outWidth * rows * 3);
  const inStride = src.width * 3;
  const data = src.data;
  for (let y = 0; y < rows; y++) {
    const rowIn = (y + y0) * inStride;
    const rowOut = y * outWidth * 3;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = bounds[xx * 2];
      const xmax = bounds[xx * 2 + 1];
      const kOff = xx * ksize;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      let p = rowIn + xmin * 3;
      for (let x = 0; x < xmax; x++, p += 3) {
        const w = weights[kOff + x];
        // int32 arithmetic throughout, as Pillow's INT32 sums (and V8 keeps it in integer registers)
        r = (r + Math.imul(data[p], w)) | 0;
        g = (g + Math.imul(data[p + 1], w)) | 0;
        b = (b + Math.imul(data[p + 2], w)) | 0;
      }
      const o = rowOut + xx * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { data: out, width: outWidth, height: rows };
}

/** Vertical pass; bounds are relative to the first row of `src`. Accumulates whole rows for locality. */
function resampleVertical(src: RgbImage, outHeight: number, yOffset: number, c: Coefficients): RgbImage {
  const { ksize, bounds, weights } = c;
  const stride = src.width * 3;
  const out = new Uint8Array(stride * outHeight);
  const acc = new Int32Array(stride);
  const data = src.data;
  for (let yy = 0; yy < outHeight; yy++) {
    acc.fill(HALF);
    const ymin = bounds[yy * 2] - yOffset;
    const ymax = bounds[yy * 2 + 1];
    for (let y = 0; y < ymax; y++) {
      const w = weights[yy * ksize + y];
      const row = (ymin + y) * stride;
      for (let i = 0; i < stride; i++) acc[i] = (acc[i] + Math.imul(data[row + i], w)) | 0;
    }
    const o = yy * stride;
    for (let i = 0; i < stride; i++) out[o + i] = clip8(acc[i]);
  }
  return { data: out, width: src.width, height: outHeight };
}

/**
 * Resize like PIL's `image.resize((width, height), resample)` on an "RGB" image (reducing_gap None).
 * A pass whose size does not change is skipped, as in Pillow (so same-size resizes are copies).
 */
export function resize(
  image: RgbImage,
  width: number,
  height: number,
  resample: ResampleFilter = 3,
): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new RangeError(`resize: target size must be positive integers, got ${width}x${height}`);
  const filter = FILTERS[resample];
  if (!filter) throw new RangeError(`resize: unsupported resample filter ${resample}`);
  let img = image;
  const needH = width !== image.width;
  const needV = height !== image.height;
  const vert = needV ? coefficients(image.height, height, filter) : undefined;
  if (needH) {
    const horiz = coefficients(image.width, width, filter);
    // Only the input rows the vertical pass reads need a horizontal pass.
    const first = vert ? vert.bounds[0] : 0;
    const last = vert ? vert.bounds[height * 2 - 2] + vert.bounds[height * 2 - 1] : image.height;
    img = resampleHorizontal(img, width, first, last - first, horiz);
    if (vert) return resampleVertical(img, height, first, vert);
    return img;
  }
  if (vert) return resampleVertical(img, height, 0, vert);
  return { data: image.data.slice(), width: image.width, height: image.height };
}
