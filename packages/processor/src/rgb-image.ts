// The uint8 stage of the pipeline: what PIL holds as an "RGB" image between decode and rescale.

/** 8-bit RGB pixels, row-major, interleaved: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}
