import { readFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { DataError } from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeImage, rawToRgb } from "./image-decode.js";

const IMAGES = fixturePath("image-processor/images");

const png = (data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4) =>
  sharp(data, { raw: { width, height, channels } }).png().toBuffer();

// A 16-bit PNG written by hand (sharp's own 16-bit writer is not what is under test here).
function png16(width: number, height: number, colorType: 0 | 2, samples: number[]): Buffer {
  const crc32 = (buf: Buffer) => {
    let crc = 0xffffffff;
    for (const byte of buf) {
      crc ^= byte;
      for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
    }
    return (crc ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, body: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    const typed = Buffer.concat([Buffer.from(type, "latin1"), body]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed));
    return Buffer.concat([head, typed, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 16; // bit depth
  ihdr[9] = colorType;
  const perRow = width * (colorType === 2 ? 3 : 1);
  const rows = Buffer.alloc(height * (1 + perRow * 2)); // filter byte 0 + big-endian samples
  for (let y = 0; y < height; y++)
    for (let i = 0; i < perRow; i++)
      rows.writeUInt16BE(samples[y * perRow + i], y * (1 + perRow * 2) + 1 + 2 * i);
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([
    signature,
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

describe("decodeImage", () => {
  it("drops alpha without compositing, as PIL's convert('RGB')", async () => {
    const rgba = new Uint8Array([200, 100, 50, 0, 10, 20, 30, 128]); // transparent, half-transparent
    const img = await decodeImage(await png(rgba, 2, 1, 4));
    expect([...img.data]).toEqual([200, 100, 50, 10, 20, 30]);
  });

  it("replicates greyscale into three channels", async () => {
    const img = await decodeImage(await png(new Uint8Array([0, 7, 255]), 3, 1, 1));
    expect([img.width, img.height]).toEqual([3, 1]);
    expect([...img.data]).toEqual([0, 0, 0, 7, 7, 7, 255, 255, 255]);
  });

  it("looks palette PNGs up to their RGB colours", async () => {
    const rgb = new Uint8Array([255, 0, 0, 0, 0, 255, 255, 0, 0, 0, 255, 0]);
    const bytes = await sharp(rgb, { raw: { width: 4, height: 1, channels: 3 } })
      .png({ palette: true, colours: 4, dither: 0 })
      .toBuffer();
    expect((await sharp(bytes).metadata()).isPalette).toBe(true);
    expect([...(await decodeImage(bytes)).data]).toEqual([...rgb]);
  });

  it("reduces 16-bit RGB by the high byte and clamps 16-bit grey, as Pillow", async () => {
    const rgb = await decodeImage(png16(1, 1, 2, [0x1234, 0xff00, 0x00ff]));
    expect([...rgb.data]).toEqual([0x12, 0xff, 0x00]);
    // Pillow opens 16-bit grey as "I;16"; its convert("RGB") clamps the value to 255.
    const grey = await decodeImage(png16(3, 1, 0, [100, 300, 65535]));
    expect([...grey.data]).toEqual([100, 100, 100, 255, 255, 255, 255, 255, 255]);
  });

  it("keeps the stored orientation, as PIL.Image.open; exifTranspose turns it upright", async () => {
    // 2×1 stored pixels, orientation 6 (rotate 90° clockwise to display) → 1×2 when transposed.
    const stored = new Uint8Array([255, 255, 255, 0, 0, 0]);
    const bytes = await sharp(stored, { raw: { width: 2, height: 1, channels: 3 } })
      .withMetadata({ orientation: 6 })
      .png()
      .toBuffer();
    const asStored = await decodeImage(bytes);
    expect([asStored.width, asStored.height]).toEqual([2, 1]);
    expect([...asStored.data]).toEqual([...stored]);
    const upright = await decodeImage(bytes, { exifTranspose: true });
    expect([upright.width, upright.height]).toEqual([1, 2]);
    expect([...upright.data]).toEqual([255, 255, 255, 0, 0, 0]);
  });

  it("rejects the truncated fixture JPEG with a DataError naming the file", async () => {
    const file = `${IMAGES}/truncated.jpg`;
    const err = await decodeImage(file).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.file).toBe(file);
    expect(err.message).toContain("truncated.jpg");
    expect(err.message).toMatch(/premature end|truncated/i);
  });

  it("rejects a JPEG cut inside its scan data, which libvips decodes leniently with failOn none", async () => {
    const whole = readFileSync(`${IMAGES}/rocket.jpg`);
    const cut = whole.subarray(0, Math.floor(whole.length * 0.6));
    await expect(sharp(cut, { failOn: "none" }).raw().toBuffer()).resolves.toBeDefined();
    const err = await decodeImage(cut).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(/buffer.*cannot decode image/);
  });

  it("names a missing file", async () => {
    const err = await decodeImage("/nonexistent/x.png").catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain("/nonexistent/x.png");
  });
});

describe("rawToRgb", () => {
  it("converts L, LA, RGB and RGBA pixels", () => {
    const px = (data: number[], channels: 1 | 2 | 3 | 4) => [
      ...rawToRgb({ data: new Uint8Array(data), width: 1, height: 1, channels }).data,
    ];
    expect(px([9], 1)).toEqual([9, 9, 9]);
    expect(px([9, 0], 2)).toEqual([9, 9, 9]);
    expect(px([1, 2, 3], 3)).toEqual([1, 2, 3]);
    expect(px([1, 2, 3, 0], 4)).toEqual([1, 2, 3]);
  });

  it("rejects data whose length does not fit the size, giving both numbers", () => {
    expect(() => rawToRgb({ data: new Uint8Array(5), width: 2, height: 1, channels: 3 })).toThrow(
      /2x1x3 needs 6 bytes, got 5/,
    );
  });
});
