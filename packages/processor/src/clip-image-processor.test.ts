import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, DataError, initBackend, ShapeError } from "@llava-ts/core";
import { fixturePath, loadCases } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClipImageProcessor, outputSize } from "./clip-image-processor.js";

const FIXTURES = fixturePath("image-processor");
const MODES = ["crop", "pad"] as const;

interface Case {
  file: string;
  keys?: string[];
  error?: string;
}
const meta = JSON.parse(readFileSync(join(FIXTURES, "cases.json"), "utf8")) as {
  size: number;
  cases: Case[];
};
const good = meta.cases.filter((c) => c.keys);
const nameOf = (c: Case) => c.file.replace(/^images\//, "").replace(/\.[a-z]+$/, "");

/** Index of the first differing element, -1 if equal (vitest's deep equality is slow on big arrays). */
const firstDifference = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
};

/** Mean and 99th percentile of |a - b|. */
function diffStats(a: Float32Array, b: Float32Array) {
  const d = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) d[i] = Math.abs(a[i] - b[i]);
  const mean = d.reduce((s, x) => s + x, 0) / d.length;
  d.sort();
  return { mean, p99: d[Math.floor(0.99 * (d.length - 1))], max: d[d.length - 1] };
}

describe("ClipImageProcessor parity with transformers' CLIPImageProcessor", async () => {
  const expected = loadCases("image-processor");
  afterAll(() => expected.close());
  const processor = await ClipImageProcessor.fromPretrained(FIXTURES);
  const worst = { crop: { mean: 0, p99: 0, max: 0 }, pad: { mean: 0, p99: 0, max: 0 } };

  for (const mode of MODES)
    for (const c of good)
      it(`${nameOf(c)} (${mode})`, async () => {
        const key = `${nameOf(c)}.${mode}`;
        const got = await processor.preprocess(join(FIXTURES, c.file), { mode });
        expect(got.shape).toEqual(expected.shape(key));
        const s = diffStats(got.data, expected.array(key) as Float32Array);
        for (const k of ["mean", "p99", "max"] as const) worst[mode][k] = Math.max(worst[mode][k], s[k]);
        expect(s.mean).toBeLessThanOrEqual(0.01);
        expect(s.p99).toBeLessThanOrEqual(0.1);
        // Lossless PNG decoding leaves only our resampler: it reproduces Pillow bit for bit.
        if (c.file.endsWith(".png")) expect(s.max).toBeLessThanOrEqual(1e-6);
      });

  it("rejects the undecodable case with a DataError naming the file", async () => {
    for (const c of meta.cases.filter((c) => c.error)) {
      const file = join(FIXTURES, c.file);
      const err = await processor.preprocess(file).catch((e) => e);
      expect(err).toBeInstanceOf(DataError);
      expect(err.message).toContain(file);
    }
  });

  afterAll(() => console.log(`worst |Δ| over ${good.length} images: ${JSON.stringify(worst)}`));
});

describe("ClipImageProcessor", async () => {
  const processor = await ClipImageProcessor.fromPretrained(join(FIXTURES, "preprocessor_config.json"));
  const astronaut = join(FIXTURES, "images/astronaut.png");
  const chelsea = join(FIXTURES, "images/chelsea.png");

  beforeAll(async () => {
    await initBackend({ backend: "wasm" });
  });

  it("gives the same values for a path, encoded bytes and raw pixels", async () => {
    const fromPath = await processor.preprocess(chelsea);
    const fromBytes = await processor.preprocess(readFileSync(chelsea));
    const { data, info } = await sharp(chelsea).raw().toBuffer({ resolveWithObject: true });
    const fromRaw = await processor.preprocess({ data, width: info.width, height: info.height, channels: 3 });
    expect(firstDifference(fromBytes.data, fromPath.data)).toBe(-1);
    expect(firstDifference(fromRaw.data, fromPath.data)).toBe(-1);
  });

  it("batches into a [B, 3, S, S] tensor that equals the single results, without leaking", async () => {
    const before = tf.memory().numTensors;
    const batch = await processor.preprocessBatch([astronaut, chelsea, astronaut], { mode: "pad" });
    expect(batch.shape).toEqual([3, 3, 336, 336]);
    const values = await batch.data();
    const single = await processor.preprocess(chelsea, { mode: "pad" });
    expect(firstDifference(values.subarray(336 * 336 * 3, 336 * 336 * 6), single.data)).toBe(-1);
    batch.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses to batch images of different sizes, giving both shapes", async () => {
    const noCrop = ClipImageProcessor.fromConfig({ size: { shortest_edge: 32 }, do_center_crop: false });
    await expect(noCrop.preprocessBatch([astronaut, chelsea])).rejects.toThrow(ShapeError);
    await expect(noCrop.preprocessBatch([astronaut, chelsea])).rejects.toThrow(/\[3,32,48\].*\[3,32,32\]/);
  });

  it("follows the config: no resize, no crop, no normalisation", async () => {
    const plain = ClipImageProcessor.fromConfig({
      do_resize: false,
      do_center_crop: false,
      do_normalize: false,
    });
    const raw = { data: new Uint8Array([0, 51, 255, 255, 0, 0]), width: 2, height: 1, channels: 3 } as const;
    const out = await plain.preprocess(raw);
    expect(out.shape).toEqual([3, 1, 2]);
    expect([...out.data]).toEqual([0, 1, 0.2, 0, 1, 0].map(Math.fround)); // CHW: R, G, B planes
  });

  it("reproduces transformers reading a 3-pixel-tall image as channels-first", async () => {
    // HF infers the channel axis from the shape, so a (3, W, 3) array becomes C=3 (rows), H=W, W=3.
    const p = ClipImageProcessor.fromConfig({
      do_resize: false,
      do_center_crop: false,
      do_normalize: false,
      do_rescale: false,
    });
    const data = new Uint8Array(3 * 5 * 3).map((_, i) => i);
    const out = await p.preprocess({ data, width: 5, height: 3, channels: 3 });
    expect(out.shape).toEqual([3, 5, 3]);
    // out[ch = y][h = x][w = c] = in[y][x][c]
    expect(out.data[(2 * 5 + 4) * 3 + 1]).toBe(data[(2 * 5 + 4) * 3 + 1]);
    expect(out.data[(1 * 5 + 0) * 3 + 2]).toBe(data[(1 * 5 + 0) * 3 + 2]);
  });

  it("computes the long side as transformers does: int(size * long / short)", () => {
    expect(outputSize(400, 601, { shortest_edge: 336 })).toEqual([336, 504]); // 504.84 truncates
    expect(outputSize(601, 400, { shortest_edge: 336 })).toEqual([504, 336]);
    expect(outputSize(3, 5, { shortest_edge: 336 })).toEqual([336, 560]);
    expect(outputSize(3, 5, { height: 20, width: 10 })).toEqual([20, 10]);
  });

  it("reports config problems with the file name", async () => {
    await expect(ClipImageProcessor.fromPretrained("/nonexistent")).rejects.toThrow(ConfigError);
    await expect(processor.preprocess(astronaut, { mode: "squash" as never })).rejects.toThrow(
      /"crop" or "pad"/,
    );
  });
});
