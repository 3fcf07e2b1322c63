import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { COLOURS, generateSyntheticCaptions, POSITIONS } from "./synthetic-captions.js";
import { ZipReader } from "./zip-reader.js";

const tmp = () => mkdtempSync(join(tmpdir(), "llava-synth-"));

describe("generateSyntheticCaptions", () => {
  it("writes chat.json in CC3M's record shape, the images in a folder and in images.zip", async () => {
    const out = tmp();
    const g = await generateSyntheticCaptions({ out, count: 6, size: 48, seed: 4 });
    const chat = JSON.parse(readFileSync(g.chatJson, "utf8"));
    expect(chat).toHaveLength(6);
    expect(Object.keys(chat[0])).toEqual(["id", "image", "conversations"]);
    expect(chat[0].id).toBe("GCC_train_000000001");
    expect(chat[0].image).toBe("GCC_train_000000001.jpg");
    expect(chat[0].conversations[0].value).toContain("<image>");
    expect(chat[0].conversations[1].value).toMatch(
      /^a (red|green|blue|yellow) (circle|square|triangle) (on the \w+|in the center) \.$/,
    );
    const zip = ZipReader.open(g.imagesZip!);
    for (const r of chat)
      expect(zip.read(r.image).equals(readFileSync(join(g.imagesDir!, r.image)))).toBe(true);
    zip.close();
  });

  it("draws what the caption says: the named colour at the named position", async () => {
    const out = tmp();
    const g = await generateSyntheticCaptions({
      out,
      count: 12,
      size: 64,
      seed: 9,
      imageFormat: "png",
      images: "folder",
    });
    for (const r of g.records) {
      const { data } = await sharp(join(g.imagesDir!, r.image))
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const s = r.shapes[0];
      const [fx, fy] = POSITIONS[s.position];
      const p = (Math.round(fy * 64) * 64 + Math.round(fx * 64)) * 3;
      const want = Buffer.from(COLOURS[s.colour].slice(1), "hex");
      expect([data[p], data[p + 1], data[p + 2]]).toEqual([...want]);
    }
  });

  it("is deterministic given the seed; styles are pluggable (Chinese, custom)", async () => {
    const a = await generateSyntheticCaptions({ out: tmp(), count: 4, seed: 2, images: "zip" });
    const b = await generateSyntheticCaptions({ out: tmp(), count: 4, seed: 2, images: "zip" });
    expect(readFileSync(a.imagesZip!).equals(readFileSync(b.imagesZip!))).toBe(true);
    expect(readFileSync(a.chatJson, "utf8")).toBe(readFileSync(b.chatJson, "utf8"));
    const zh = await generateSyntheticCaptions({
      out: tmp(),
      count: 4,
      seed: 2,
      style: "zh",
      shapesPerImage: 2,
      images: "zip",
    });
    expect(zh.records[0].conversations[1].value).toMatch(/^(左边|右边|上边|下边|中间)有一个.+的.+，.+。$/);
    const custom = await generateSyntheticCaptions({
      out: tmp(),
      count: 2,
      images: "zip",
      style: { prompts: ["<image>\nWhat colour?"], caption: (shapes) => shapes[0].colour },
    });
    expect(custom.records.map((r) => r.conversations[1].value)).toEqual(
      custom.records.map((r) => r.shapes[0].colour),
    );
  });
});
