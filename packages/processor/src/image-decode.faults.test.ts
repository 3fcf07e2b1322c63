// Fault suite (issue 19, classes 5 and 7): hostile or unusual image files decode as PIL decodes them, or are
// refused with a DataError naming the file and the reason — never decoded into gigabytes first.
import { deflateSync } from "node:zlib";
import { DataError } from "@llava-ts/core";
import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { decodeImage, MAX_IMAGE_PIXELS } from "./image-decode.js";

/** A PNG with the given IHDR size and a few bytes of image data: only the header is read before refusing. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, body: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    return Buffer.concat([head, Buffer.from(type, "latin1"), body, Buffer.alloc(4)]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.alloc(64))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as DataError,
  );

describe("PIL's decompression-bomb limit", () => {
  afterEach(() => {
    delete process.env.LLAVA_MAX_IMAGE_PIXELS;
  });

  it("refuses a 16000×16000 PNG from its header, naming the size and the limit", async () => {
    // PIL raises DecompressionBombError above 2 × Image.MAX_IMAGE_PIXELS (1024³ // 4 // 3).
    expect(MAX_IMAGE_PIXELS).toBe(2 * Math.floor((1024 * 1024 * 1024) / 4 / 3));
    const err = await rejection(decodeImage(pngHeaderOnly(16000, 16000)));
    expect(err).toBeInstanceOf(DataError);
    expect(err?.reason).toBe("image_too_large");
    expect(err?.message).toContain("16000×16000 = 256,000,000 pixels, more than the limit of 178,956,970");
  });

  it("is configurable per call and by LLAVA_MAX_IMAGE_PIXELS (0 = no limit)", async () => {
    const img = await sharp({ create: { width: 100, height: 50, channels: 3, background: "#123456" } })
      .png()
      .toBuffer();
    expect((await rejection(decodeImage(img, { maxPixels: 4999 })))?.reason).toBe("image_too_large");
    expect((await decodeImage(img, { maxPixels: 5000 })).width).toBe(100);
    process.env.LLAVA_MAX_IMAGE_PIXELS = "4000";
    expect((await rejection(decodeImage(img)))?.message).toContain("more than the limit of 4,000");
    process.env.LLAVA_MAX_IMAGE_PIXELS = "0";
    expect((await decodeImage(img)).height).toBe(50);
    process.env.LLAVA_MAX_IMAGE_PIXELS = "lots";
    await expect(decodeImage(img)).rejects.toThrow(
      /LLAVA_MAX_IMAGE_PIXELS must be an integer ≥ 0, got "lots"/,
    );
  });

  it("applies to BMP, which is decoded here rather than by sharp", async () => {
    const err = await rejection(decodeImage(bmp({ width: 20000, height: 10000, bits: 24, rows: [] })));
    expect(err?.reason).toBe("image_too_large");
  });
});

describe("formats PIL refuses or reads differently from libvips", () => {
  it("refuses SVG (PIL cannot open it) instead of rasterising it", async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect fill="red"/></svg>',
    );
    const err = await rejection(decodeImage(svg));
    expect(err).toBeInstanceOf(DataError);
    expect(err?.message).toMatch(/SVG \/ XML is not a raster format PIL opens/);
    const xml = Buffer.from('\uFEFF  <?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>');
    expect((await rejection(decodeImage(xml)))?.reason).toBe("undecodable_image");
  });

  it("converts CMYK by Pillow's formula on the stored values, not via an sRGB round trip", async () => {
    // A flat 8×8 Adobe CMYK JPEG (quality 100, no ICC profile). Its stored colour, read with an independent
    // decoder (jpeg-js), is C 0 M 159 Y 235 K 48; Pillow's cmyk2rgb gives (255−K) − round((255−K)·C/255):
    // R 207, G 78, B 16. The sRGB round trip libvips does by default gave (206, 74, 6).
    const jpeg = Buffer.from(
      "/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwABAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB/8AAFAgACAAIBEMRAE0RAFkRAEsRAP/EABUAAQEAAAAAAAAAAAAAAAAAAAoJ/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAA4EQwBNAFkASwAAPwB/Cf4T5PD/2Q==",
      "base64",
    );
    const img = await decodeImage(jpeg);
    expect([img.width, img.height]).toEqual([8, 8]);
    for (let i = 0; i < 64; i++) expect([...img.data.subarray(3 * i, 3 * i + 3)]).toEqual([207, 78, 16]);
  });
});

interface BmpSpec {
  width: number;
  height: number; // negative: top-down rows
  bits: number;
  rows: number[][]; // each row's bytes before padding, in file order
  compression?: number;
  palette?: [number, number, number][];
  masks?: number[];
  headerSize?: number;
  rle?: number[]; // the compressed stream instead of rows
}

/** A BMP file built field by field (BITMAPFILEHEADER + BITMAPINFOHEADER [+ masks] [+ palette] + pixels). */
function bmp(s: BmpSpec): Buffer {
  const headerSize = s.headerSize ?? 40;
  const masks = s.masks ? Buffer.alloc(headerSize === 40 ? 4 * s.masks.length : 0) : Buffer.alloc(0);
  const palette = Buffer.alloc(4 * (s.palette?.length ?? 0));
  for (const [i, [r, g, b]] of (s.palette ?? []).entries()) palette.set([b, g, r, 0], 4 * i);
  const stride = ((Math.abs(s.width) * s.bits + 31) >> 3) & ~3;
  const pixels = s.rle
    ? Buffer.from(s.rle)
    : Buffer.concat(
        s.rows.map((r) => {
          const row = Buffer.alloc(stride);
          row.set(r);
          return row;
        }),
      );
  const info = Buffer.alloc(headerSize);
  info.writeUInt32LE(headerSize, 0);
  info.writeInt32LE(s.width, 4);
  info.writeInt32LE(s.height, 8);
  info.writeUInt16LE(1, 12);
  info.writeUInt16LE(s.bits, 14);
  info.writeUInt32LE(s.compression ?? 0, 16);
  info.writeUInt32LE(s.palette?.length ?? 0, 32);
  s.masks?.forEach((m, i) => {
    if (headerSize === 40) masks.writeUInt32LE(m, 4 * i);
    else info.writeUInt32LE(m, 40 + 4 * i);
  });
  const offset = 14 + headerSize + masks.length + palette.length;
  const file = Buffer.alloc(14);
  file.write("BM", 0, "latin1");
  file.writeUInt32LE(offset + pixels.length, 2);
  file.writeUInt32LE(offset, 10);
  return Buffer.concat([file, info, masks, palette, pixels]);
}

const rgbOf = async (b: Buffer) => {
  const img = await decodeImage(b);
  return { size: [img.width, img.height], px: [...img.data] };
};

describe("BMP, read as Pillow's BmpImagePlugin + convert('RGB')", () => {
  it("24-bit rows are bottom-up BGR unless the height is negative", async () => {
    const rows = [
      [1, 2, 3, 4, 5, 6],
      [7, 8, 9, 10, 11, 12],
    ];
    expect(await rgbOf(bmp({ width: 2, height: 2, bits: 24, rows }))).toEqual({
      size: [2, 2],
      px: [9, 8, 7, 12, 11, 10, 3, 2, 1, 6, 5, 4],
    });
    expect((await rgbOf(bmp({ width: 2, height: -2, bits: 24, rows }))).px).toEqual([
      3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10,
    ]);
  });

  it("1-, 4- and 8-bit palettes, indices past the palette are black", async () => {
    const palette: [number, number, number][] = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
    ];
    expect((await rgbOf(bmp({ width: 3, height: 1, bits: 8, palette, rows: [[2, 0, 7]] }))).px).toEqual([
      0, 0, 255, 255, 0, 0, 0, 0, 0,
    ]);
    expect((await rgbOf(bmp({ width: 3, height: 1, bits: 4, palette, rows: [[0x21, 0x00]] }))).px).toEqual([
      0, 0, 255, 0, 255, 0, 255, 0, 0,
    ]);
    const bw: [number, number, number][] = [
      [0, 0, 0],
      [255, 255, 255],
    ];
    expect(
      (await rgbOf(bmp({ width: 3, height: 1, bits: 1, palette: bw, rows: [[0b10100000]] }))).px,
    ).toEqual([255, 255, 255, 0, 0, 0, 255, 255, 255]);
  });

  it("16-bit pixels as BGR;15 (plain) and BGR;16 (bit fields), scaled as Pillow's unpackers (floored)", async () => {
    // 0b0_10000_10000_10000 = 0x4210: each 5-bit channel 16 → 16·255/31 = 131.6 → 131.
    expect((await rgbOf(bmp({ width: 1, height: 1, bits: 16, rows: [[0x10, 0x42]] }))).px).toEqual([
      131, 131, 131,
    ]);
    // 565: R 31, G 32, B 1 → 255, 32·255/63 = 129.5 → 129, 8.
    const px = 0xf800 | (32 << 5) | 1;
    const b = bmp({
      width: 1,
      height: 1,
      bits: 16,
      compression: 3,
      masks: [0xf800, 0x7e0, 0x1f],
      rows: [[px & 255, px >> 8]],
    });
    expect((await rgbOf(b)).px).toEqual([255, 129, 8]);
  });

  it("32-bit BGRX, and bit-field layouts: Pillow's are read, others refused as Pillow refuses them", async () => {
    expect((await rgbOf(bmp({ width: 1, height: 1, bits: 32, rows: [[10, 20, 30, 99]] }))).px).toEqual([
      30, 20, 10,
    ]);
    const rgba = bmp({
      width: 1,
      height: 1,
      bits: 32,
      compression: 3,
      headerSize: 124,
      masks: [0xff, 0xff00, 0xff0000, 0xff000000],
      rows: [[10, 20, 30, 40]],
    });
    expect((await rgbOf(rgba)).px).toEqual([10, 20, 30]); // RGBA, alpha dropped
    const odd = bmp({
      width: 1,
      height: 1,
      bits: 32,
      compression: 3,
      masks: [0xff00, 0xff, 0xff0000],
      rows: [[0, 0, 0, 0]],
    });
    const err = await rejection(decodeImage(odd));
    expect(err?.message).toMatch(/BMP bit-field layout 0xff00, 0xff, 0xff0000, 0x0 is not supported/);
  });

  it("RLE8 runs, absolute runs, end of line, delta and end of bitmap, as Pillow's BmpRleDecoder", async () => {
    const palette: [number, number, number][] = [
      [0, 0, 0],
      [10, 10, 10],
      [20, 20, 20],
      [30, 30, 30],
    ];
    // Row 0 (the bottom one): run of 2 × index 1, absolute run of 3 pixels (2, 3, 1) and a pad byte to the
    // next 16-bit boundary, end of line. Row 1: delta (1, 0) skips a pixel, a run of 9 × index 3 is clipped
    // to the 4 left in the row; the bitmap is then full.
    const rle = [2, 1, 0, 3, 2, 3, 1, 0, 0, 0, 0, 2, 1, 0, 9, 3, 0, 1];
    const b = bmp({ width: 5, height: 2, bits: 8, compression: 1, palette, rows: [], rle });
    const { px } = await rgbOf(b);
    const grey = (...v: number[]) => v.flatMap((x) => [x, x, x]);
    // Rows come out top first: file row 1, then file row 0.
    expect(px).toEqual(grey(0, 30, 30, 30, 30, 10, 10, 20, 30, 10));
    // The same stream cut before the bitmap is full: Pillow raises "not enough image data".
    const cut = bmp({
      width: 5,
      height: 2,
      bits: 8,
      compression: 1,
      palette,
      rows: [],
      rle: rle.slice(0, 12),
    });
    expect((await rejection(decodeImage(cut)))?.message).toContain("BMP RLE data is truncated");
  });

  it("names the file and what is wrong for a truncated or unsupported BMP", async () => {
    const cut = bmp({ width: 4, height: 4, bits: 24, rows: [[1], [2], [3], [4]] });
    expect((await rejection(decodeImage(cut.subarray(0, cut.length - 20))))?.message).toMatch(
      /<\d+-byte buffer>: cannot decode image: BMP pixel data is truncated/,
    );
    const jpegInBmp = bmp({ width: 1, height: 1, bits: 24, compression: 4, rows: [[0, 0, 0]] });
    expect((await rejection(decodeImage(jpegInBmp)))?.message).toContain(
      "BMP compression 4 is not supported",
    );
  });
});
