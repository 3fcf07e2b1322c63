// transformers' image_transforms.center_crop on the uint8 image: floor offsets, and zero padding
// (centred, ceil on the leading side) when the crop is larger than the image.
import type { RgbImage } from "./rgb-image.js";

/** Crop `height`×`width` from the centre: top = (h - crop_h) // 2, left = (w - crop_w) // 2. */
export function centerCrop(image: RgbImage, height: number, width: number): RgbImage {
  if (image.height === height && image.width === width) return image;
  // Padding the image to at least the crop size first, as transformers does, shifts the offsets.
  const padTop = Math.ceil(Math.max(height - image.height, 0) / 2);
  const padLeft = Math.ceil(Math.max(width - image.width, 0) / 2);
  const top = Math.floor((image.height - height) / 2) + padTop;
  const left = Math.floor((image.width - width) / 2) + padLeft;
  const out = new Uint8Array(height * width * 3); // zeros where the crop leaves the image
  for (let y = 0; y < height; y++) {
    const sy = y + top - padTop;
    if (sy < 0 || sy >= image.height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x + left - padLeft;
      if (sx < 0 || sx >= image.width) continue;
      const s = (sy * image.width + sx) * 3;
      const o = (y * width + x) * 3;
      out[o] = image.data[s];
      out[o + 1] = image.data[s + 1];
      out[o + 2] = image.data[s + 2];
    }
  }
  return { data: out, width, height };
}
