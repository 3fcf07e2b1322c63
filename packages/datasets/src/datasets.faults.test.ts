// Fault suite (issue 19, classes 3, 4, 5, 7 and 8): dataset files and image sources that try to read outside
// their folder, inflate without bound, or hold bytes Python's json would refuse — each a DataError naming
// the file and the record, counted under onError "skip", never a silent read or a whole-file failure.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { ConfigError, DataError, FormatError } from "@llava-ts/core";
import { beforeAll, describe, expect, it } from "vitest";
import { indexJsonArray } from "./index-json-array.js";
import { LlavaDataLoader, maxLoaderWorkers } from "./llava-data-loader.js";
import { LlavaDataset } from "./llava-dataset.js";
import { mergeSkipSummaries, SkipReport } from "./skip-report.js";
import { generateSyntheticCaptions, type SyntheticCaptions } from "./synthetic-captions.js";
import { MAX_ZIP_MEMBER_BYTES, ZipReader } from "./zip-reader.js";
import { writeZip } from "./zip-writer.js";

const dir = mkdtempSync(join(tmpdir(), "llava-ds-faults-"));
let cc3m: SyntheticCaptions;
beforeAll(async () => {
  cc3m = await generateSyntheticCaptions({ out: join(dir, "cc3m"), count: 4, size: 28, seed: 5 });
});

const caught = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as DataError;
  }
  throw new Error("expected an error");
};

/** chat.json records with the given image names. */
function chatJson(name: string, images: string[]): string {
  const file = join(dir, name);
  const records = images.map((image, i) => ({
    id: String(i),
    image,
    conversations: [
      { from: "human", value: "<image>\nWhat is it?" },
      { from: "gpt", value: "a shape" },
    ],
  }));
  writeFileSync(file, JSON.stringify(records));
  return file;
}

describe("image paths stay inside the image folder", () => {
  it("refuses ../ paths before reading anything, to a secret file or to a real image", () => {
    const outside = join(dir, "cc3m", "elsewhere");
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, "x.jpg"), readFileSync(join(cc3m.imagesDir!, cc3m.records[1].image)));
    const file = chatJson("escape.json", [
      "../../../../etc/passwd",
      "../elsewhere/x.jpg",
      join(outside, "x.jpg"),
    ]);
    const ds = LlavaDataset.open({ file, images: cc3m.imagesDir!, onError: "skip" });
    for (const i of [0, 1, 2]) {
      const err = caught(() => ds.get(i));
      expect(err).toBeInstanceOf(DataError);
      expect(err.reason).toBe("unsafe_path");
      expect(err.message).toMatch(
        new RegExp(`escape\\.json record ${i}: .*image path ".*" leads outside the image folder`),
      );
    }
    expect(ds.tryGet(0)).toBeNull();
    expect(ds.tryGet(1)).toBeNull();
    expect(ds.tryGet(2)).toBeNull();
    expect(ds.report.summary().byReason).toEqual({ unsafe_path: 3 });
    ds.close();
  });

  it("still reads names inside the folder, including ones with harmless ./ and a/../", () => {
    const name = cc3m.records[0].image;
    // An absolute path inside the folder reads as in LLaVA (os.path.join keeps it).
    const absolute = join(cc3m.imagesDir!, name);
    const file = chatJson("inside.json", [name, `./${name}`, `x/../${name}`, absolute]);
    const ds = LlavaDataset.open({ file, images: cc3m.imagesDir! });
    const bytes = readFileSync(join(cc3m.imagesDir!, name));
    for (const i of [0, 1, 2, 3]) expect(ds.get(i).images[0].equals(bytes)).toBe(true);
    ds.close();
  });
});

/** Rewrites the declared (uncompressed) size of every member in a zip's central directory. */
function declareSize(zip: string, size: number): void {
  const bytes = readFileSync(zip);
  for (let p = 0; p + 4 <= bytes.length; p++)
    if (bytes.readUInt32LE(p) === 0x02014b50) bytes.writeUInt32LE(size, p + 24);
  writeFileSync(zip, bytes);
}

describe("zip members are read in bounded memory", () => {
  it("a member declaring 1 GiB is refused from the central directory, before any of it is read", () => {
    const zip = join(dir, "big.zip");
    writeZip(zip, [{ name: "a.jpg", data: Buffer.alloc(64 * 1024) }], { method: "deflate" });
    declareSize(zip, 2 ** 30);
    const reader = ZipReader.open(zip);
    const err = caught(() => reader.read("a.jpg"));
    expect(err.reason).toBe("image_too_large");
    expect(err.message).toContain(`"a.jpg" is 1.00 GiB, more than the 256.0 MiB a member may have`);
    expect(MAX_ZIP_MEMBER_BYTES).toBe(256 * 2 ** 20);
    reader.close();
  });

  it("a member that inflates past its declared size stops there (a zip bomb that lies)", () => {
    const zip = join(dir, "bomb.zip");
    const zeros = Buffer.alloc(32 * 2 ** 20); // 32 MiB of zeros deflate to ~32 kB
    writeZip(zip, [{ name: "b.jpg", data: zeros }], { method: "deflate" });
    expect(readFileSync(zip).length).toBeLessThan(64 * 1024);
    declareSize(zip, 40_000);
    const reader = ZipReader.open(zip);
    const err = caught(() => reader.read("b.jpg"));
    expect(err.reason).toBe("undecodable_image");
    expect(err.message).toContain(`"b.jpg" inflates past its declared 40000 bytes`);
    // Declared far below what even deflate's best ratio allows: refused without inflating at all.
    declareSize(zip, 1000);
    expect(caught(() => ZipReader.open(zip).read("b.jpg")).message).toMatch(
      /"b\.jpg" has \d+ compressed bytes for 1000 bytes of data/,
    );
    reader.close();
    expect(deflateRawSync(zeros).length).toBeLessThan(64 * 1024);
  });

  it("the limit is an option of the reader and of an image source", () => {
    const zip = join(dir, "small.zip");
    writeZip(zip, [{ name: "c.jpg", data: Buffer.alloc(5000, 7) }]);
    expect(caught(() => ZipReader.open(zip, { maxMemberBytes: 4999 }).read("c.jpg")).reason).toBe(
      "image_too_large",
    );
    expect(ZipReader.open(zip, { maxMemberBytes: 5000 }).read("c.jpg").length).toBe(5000);
    const file = chatJson("zipped.json", ["c.jpg"]);
    const ds = LlavaDataset.open({ file, images: { path: zip, maxMemberBytes: 100 } });
    expect(caught(() => ds.get(0)).message).toMatch(
      /zipped\.json record 0: .*"c\.jpg" is 4\.9 KiB, more than/,
    );
    ds.close();
  });
});

describe("JSON that Python's json would refuse, named by record", () => {
  it("non-UTF-8 bytes in a record are a DataError naming the record and the byte, not U+FFFD", () => {
    const file = join(dir, "latin1.json");
    const ok = '{"id":"0","conversations":[{"from":"human","value":"hi"},{"from":"gpt","value":"ok"}]}';
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from(`[${ok},`),
        Buffer.from(ok.replace("ok", "caf\xe9"), "latin1"),
        Buffer.from("]"),
      ]),
    );
    const ds = LlavaDataset.open({ file });
    expect(ds.record(0).id).toBe("0");
    const err = caught(() => ds.record(1));
    expect(err.reason).toBe("malformed_record");
    expect(err.message).toMatch(
      /latin1\.json record 1: not valid UTF-8 \(byte 0xe9 at byte \d+ of the file\)/,
    );
    ds.close();
  });

  it("a record that never closes names itself, not just the byte where the file ends", () => {
    const file = join(dir, "unclosed.json");
    writeFileSync(file, '[{"a": 1}, {"b": 2}, {"c": {"d": 3}, {"e": 4}]');
    const err = caught(() => indexJsonArray(file)) as unknown as FormatError;
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toMatch(
      /record 2 \(from byte 21\): a \] closes a { \(a missing } in that record\?\) at byte 45/,
    );
    writeFileSync(file, '[{"a": 1}, {"b": [2, 3}');
    expect(() => indexJsonArray(file)).toThrow(/record 1 \(from byte 11\): a } closes a \[/);
    writeFileSync(file, '[{"a": 1}, {"b": "cut here');
    expect(() => indexJsonArray(file)).toThrow(/record 1 \(from byte 11\) never closes/);
    writeFileSync(file, '[{"a": 1}, {"b": 2}}, {"c": 3}]');
    expect(() => indexJsonArray(file)).toThrow(
      /a } after record 1 closes nothing \(a } too many in that record\?\)/,
    );
  });

  it("an empty array is a DataError saying the file holds no records", () => {
    const file = join(dir, "empty.json");
    writeFileSync(file, "[]");
    expect(() => LlavaDataset.open({ file })).toThrow(/empty\.json: the file holds no records/);
  });
});

describe("loader worker count", () => {
  it("is capped at 4 per core with a ConfigError naming the count", () => {
    const ds = LlavaDataset.open({ file: cc3m.chatJson, images: cc3m.imagesDir! });
    const processor = { tokenizer: "unused", imageProcessor: "unused" };
    const make = (numWorkers: number) =>
      new LlavaDataLoader({ dataset: ds, processor, batchSize: 1, collate: { padTokenId: 0 }, numWorkers });
    expect(() => make(1000)).toThrow(ConfigError);
    expect(() => make(1000)).toThrow(`numWorkers 1000 is more than ${maxLoaderWorkers()} (4 per core`);
    expect(() => make(maxLoaderWorkers())).not.toThrow();
    ds.close();
  });
});

describe("records that name images, with no image source given", () => {
  it("are a ConfigError naming the record and the option, never skipped under onError skip", () => {
    const file = chatJson("no-source.json", ["a.jpg", "b.jpg"]);
    const ds = LlavaDataset.open({ file, onError: "skip" });
    const err = caught(() => ds.tryGet(0));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      `${file}: record 0 names image "a.jpg" but no image folder or zip was given (images, --images)`,
    );
    expect(ds.report.total).toBe(0);
    ds.close();
  });
});

describe("skip reports of several ranks", () => {
  it("count a record two ranks skipped once, keeping an example per reason", () => {
    const rank0 = new SkipReport();
    const rank1 = new SkipReport();
    rank0.add({ record: 3, reason: "missing_image", message: "r3 missing" });
    rank0.add({ record: 0, reason: "undecodable_image", message: "r0 broken" });
    rank1.add({ record: 3, reason: "missing_image", message: "r3 missing" }); // the padded shard's repeat
    rank1.add({ record: 5, reason: "missing_image", message: "r5 missing" });
    const merged = mergeSkipSummaries([rank0.summary(), rank1.summary()], 1);
    expect(merged.total).toBe(3);
    expect(merged.byReason).toEqual({ missing_image: 2, undecodable_image: 1 });
    expect(merged.examples.map((e) => e.message)).toEqual(["r0 broken", "r3 missing"]);
  });
});
