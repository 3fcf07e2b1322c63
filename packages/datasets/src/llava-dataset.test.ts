import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataError } from "@llava-ts/core";
import { beforeAll, describe, expect, it } from "vitest";
import { SHAREGPT_PREFIX, type TestFormats, writeTestFormats } from "../test/test-data.js";
import { LlavaDataset } from "./llava-dataset.js";
import { DEFAULT_TEXTOCR_INSTRUCTION } from "./record-formats.js";
import { writeZip } from "./zip-writer.js";

const dir = mkdtempSync(join(tmpdir(), "llava-ds-"));
let data: TestFormats;
beforeAll(async () => {
  data = await writeTestFormats(dir);
});

describe("LlavaDataset formats", () => {
  it("CC3M chat.json: the same samples from the folder and from images.zip", () => {
    const json = JSON.parse(readFileSync(data.cc3m.chatJson, "utf8"));
    const fromDir = LlavaDataset.open({ file: data.cc3m.chatJson, images: data.cc3m.imagesDir! });
    const fromZip = LlavaDataset.open({ file: data.cc3m.chatJson, images: data.cc3m.imagesZip! });
    expect(fromDir.length).toBe(json.length);
    for (let i = 0; i < json.length; i++) {
      const a = fromDir.get(i);
      const b = fromZip.get(i);
      expect(a.id).toBe(json[i].id);
      expect(a.conversations).toEqual(json[i].conversations);
      expect(a.mode).toBe("single_turn");
      expect(a.images[0].equals(readFileSync(join(data.cc3m.imagesDir!, json[i].image)))).toBe(true);
      expect(b.images[0].equals(a.images[0])).toBe(true);
    }
    fromDir.close();
    fromZip.close();
  });

  it("ShareGPT-4o JSONL with images under the zip's long internal prefix; roles normalised", () => {
    const ds = LlavaDataset.open({
      file: data.sharegpt.file,
      images: { path: data.sharegpt.zip, prefix: SHAREGPT_PREFIX },
    });
    expect(ds.format).toBe("sharegpt4o");
    expect(ds.length).toBe(data.cc3m.records.length);
    const s = ds.get(3);
    expect(s.mode).toBe("multi_turn");
    expect(s.conversations.map((t) => t.from)).toEqual(["human", "gpt", "human", "gpt"]);
    expect(s.images[0].equals(readFileSync(join(data.cc3m.imagesDir!, data.cc3m.records[3].image)))).toBe(
      true,
    );
    // Without the prefix the image is not found: the record is named.
    const noPrefix = LlavaDataset.open({ file: data.sharegpt.file, images: data.sharegpt.zip });
    expect(() => noPrefix.get(3)).toThrow(
      /sharegpt4o.jsonl record 3: \S+sharegpt4o.zip: image "GCC_train_000000004.jpg" is not in the zip/,
    );
  });

  it("TextOCR-GPT4o rows become single-turn samples with a configurable instruction", () => {
    const ds = LlavaDataset.open({
      file: data.textocr.file,
      format: "textocr",
      images: data.cc3m.imagesDir!,
    });
    const s = ds.get(0);
    expect(s.conversations).toEqual([
      { from: "human", value: DEFAULT_TEXTOCR_INSTRUCTION },
      { from: "gpt", value: data.cc3m.records[0].conversations[1].value },
    ]);
    const custom = LlavaDataset.open({
      file: data.textocr.file,
      format: "textocr",
      images: data.cc3m.imagesZip!,
      instruction: "Read the text in the image.",
    });
    expect(custom.get(1).conversations[0].value).toBe("<image>\nRead the text in the image.");
    expect(custom.get(1).mode).toBe("single_turn");
  });

  it("detects TextOCR-GPT4o by content, and hints at it for a caption row among conversations", () => {
    const ds = LlavaDataset.open({ file: data.textocr.file, images: data.cc3m.imagesDir! });
    expect(data.textocr.file.endsWith("train.jsonl")).toBe(true); // the name says nothing
    expect(ds.format).toBe("textocr");
    expect(ds.get(0).conversations[1].value).toBe(data.cc3m.records[0].conversations[1].value);
    const mixed = join(mkdtempSync(join(tmpdir(), "mixed-")), "data.jsonl");
    const lines = readFileSync(data.sharegpt.file, "utf8").trim().split("\n").slice(0, 2);
    lines.push(readFileSync(data.textocr.file, "utf8").trim().split("\n")[0]);
    writeFileSync(mixed, `${lines.join("\n")}\n`);
    const m = LlavaDataset.open({ file: mixed });
    expect(m.format).toBe("sharegpt4o");
    expect(() => m.record(2)).toThrow(
      /data.jsonl record 2: no "conversations" but a "caption".*--format textocr/,
    );
  });

  it("LLaVA-Instruct multi-turn JSON, including a text-only record", () => {
    const ds = LlavaDataset.open({ file: data.instruct.file, images: data.cc3m.imagesZip! });
    expect(ds.length).toBe(data.cc3m.records.length + 1);
    expect(ds.get(0).mode).toBe("multi_turn");
    const last = ds.get(ds.length - 1);
    expect(last.images).toEqual([]);
    expect(last.mode).toBe("single_turn");
  });
});

describe("bad records", () => {
  // One bad record of each kind between good ones; index = position in the file.
  const good = (i: number) => ({
    id: `ok${i}`,
    image: "GCC_train_000000001.jpg",
    conversations: [
      { from: "human", value: "Describe.\n<image>" },
      { from: "gpt", value: "a shape ." },
    ],
  });
  const bad: [string, unknown][] = [
    ["missing_image", { ...good(0), image: "nope.jpg" }],
    [
      "image_token_mismatch",
      {
        ...good(0),
        conversations: [
          { from: "human", value: "no token" },
          { from: "gpt", value: "x" },
        ],
      },
    ],
    [
      "image_token_mismatch",
      {
        ...good(0),
        conversations: [
          { from: "human", value: "<image><image>" },
          { from: "gpt", value: "x" },
        ],
      },
    ],
    ["empty_conversation", { ...good(0), conversations: [] }],
    ["empty_conversation", { ...good(0), conversations: [{ from: "human", value: "<image>" }] }],
    [
      "malformed_conversation",
      { ...good(0), conversations: [{ from: "human" }, { from: "gpt", value: "x" }] },
    ],
    ["malformed_conversation", { ...good(0), conversations: "hello" }],
    [
      "unknown_role",
      {
        ...good(0),
        conversations: [
          { from: "robot", value: "<image>" },
          { from: "gpt", value: "x" },
        ],
      },
    ],
    ["malformed_record", "just a string"],
  ];
  let file: string;
  let images: string;
  beforeAll(() => {
    file = join(dir, "bad.json");
    const rows = [good(0), ...bad.map(([, r]) => r), good(1)];
    // A syntactically broken element too: the index still finds it, parsing it fails.
    writeFileSync(
      file,
      `[${rows.map((r) => JSON.stringify(r)).join(",\n")},\n{"id": "broken", "image": }\n]`,
    );
    images = data.cc3m.imagesZip!;
  });

  it('onError "raise": a DataError naming the file, the record and the reason', () => {
    const ds = LlavaDataset.open({ file, images });
    expect(ds.get(0).id).toBe("ok0");
    bad.forEach(([reason], k) => {
      const i = k + 1;
      let err: unknown;
      try {
        ds.tryGet(i);
      } catch (e) {
        err = e;
      }
      expect(err, reason).toBeInstanceOf(DataError);
      expect((err as DataError).reason).toBe(reason);
      expect((err as DataError).record).toBe(i);
      expect((err as DataError).message).toContain(`bad.json record ${i}: `);
    });
    expect(() => ds.get(bad.length + 2)).toThrow(/record 11: invalid JSON/);
    expect(ds.report.total).toBe(0);
  });

  it('onError "skip": null for each bad record, every one counted by reason, once', () => {
    const ds = LlavaDataset.open({ file, images, onError: "skip" });
    const got = Array.from({ length: ds.length }, (_, i) => ds.tryGet(i));
    ds.tryGet(1); // met again (next epoch): still one record
    expect(got.filter((s) => s !== null).map((s) => s!.id)).toEqual(["ok0", "ok1"]);
    const summary = ds.report.summary();
    expect(summary.total).toBe(bad.length + 1);
    expect(summary.byReason).toEqual({
      missing_image: 1,
      image_token_mismatch: 2,
      empty_conversation: 2,
      malformed_conversation: 2,
      unknown_role: 1,
      malformed_record: 2,
    });
    expect(ds.report.toString()).toMatch(/^skipped 10 record\(s\) \(/);
  });

  it("a corrupted image inside the zip is undecodable_image (CRC-32), under both policies", () => {
    const zip = join(dir, "corrupt.zip");
    const bytes = readFileSync(join(data.cc3m.imagesDir!, "GCC_train_000000001.jpg"));
    writeZip(zip, [{ name: "GCC_train_000000001.jpg", data: bytes, method: "store" }]);
    const raw = readFileSync(zip);
    raw[30 + "GCC_train_000000001.jpg".length + 100] ^= 0x55;
    writeFileSync(zip, raw);
    const raise = LlavaDataset.open({ file: data.cc3m.chatJson, images: zip });
    expect(() => raise.get(0)).toThrow(
      /chat.json record 0: \S+corrupt.zip: CRC-32 mismatch for "GCC_train_000000001.jpg"/,
    );
    const skip = LlavaDataset.open({ file: data.cc3m.chatJson, images: zip, onError: "skip" });
    expect(skip.tryGet(0)).toBeNull();
    expect(skip.report.summary().byReason).toEqual({ undecodable_image: 1 });
  });
});
