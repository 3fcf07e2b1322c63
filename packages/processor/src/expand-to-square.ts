// LLaVA-1.5's expand2square (llava/mm_utils.py): the "pad" image aspect ratio mode.
import type { RgbImage } from "./rgb-image.js";

/** LLaVA's background colour: `tuple(int(x * 255) for x in image_processor.image_mean)`. */
export function meanColour(imageMean: readonly number[]): [number, number, number] {
  return [Math.trunc(imageMean[0] * 255), Math.trunc(imageMean[1] * 255), Math.trunc(imageMean[2] * 255)];
}

/** Paste the image centred on a square of `background`; offset (long - short) // 2 as LLaVA. */
export function expandToSquare(image: RgbImage, background: readonly [number, number, number]): RgbImage {
  const { width, height } = image;
  if (width === height) return image;
  const side = Math.max(width, height);
  const out = new Uint8Array(side * side * 3);
  out.set(background);
  // Fill by doubling the filled prefix: a handful of memcpys instead of a per-pixel loop.
  for (let filled = 3; filled < out.length; filled *= 2) out.copyWithin(filled, 0, filled);
  const top = width > height ? Math.floor((width - height) / 2) : 0;
  const left = width > height ? 0 : Math.floor((height - width) / 2);
  for (let y = 0; y < height; y++) {
    const src = image.data.subarray(y * width * 3, (y + 1) * width * 3);
    out.set(src, ((y + top) * side + left) * 3);
  }
  return { data: out, width: side, height: side };
}
