// Every .safetensors file the Python stack wrote for us: it must open, every tensor must read, and
// writing the same tensors back must give the same bytes (our layout == safetensors' Rust writer).

import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findFiles, tempDir } from "../../test/safetensors-test-utils.js";
import { LlavaError } from "../errors.js";
import { fixturesDir } from "../testing/fixtures.js";
import { SafetensorsCheckpoint } from "./checkpoint.js";
import { formatIndex, type ShardIndex } from "./checkpoint-writer.js";
import { numElements } from "./dtype.js";
import { SafetensorsFile } from "./safetensors-file.js";
import { type TensorEntry, writeSafetensors } from "./writer.js";

const fixtures = fixturesDir();
const files = findFiles(fixtures, ".safetensors");
const tmp = tempDir();
afterAll(tmp.cleanup);

describe("fixture safetensors files", () => {
  it("finds the fixtures", () => {
    expect(files.length).toBeGreaterThanOrEqual(11);
  });

  it.each(
    files.map((f) => [relative(fixtures, f), f]),
  )("%s: every tensor reads with its element count", (_, path) => {
    const f = SafetensorsFile.open(path);
    try {
      expect(f.keys().length).toBeGreaterThan(0);
      for (const name of f.keys()) {
        const info = f.info(name);
        const { data, shape, dtype } = f.read(name);
        expect(shape).toEqual(info.shape);
        expect(data.length).toBe(numElements(info.shape));
        expect(dtype).toBe(info.dtype === "BOOL" ? "bool" : info.dtype.startsWith("I") ? "int32" : "float32");
      }
    } finally {
      f.close();
    }
  });

  it.each(
    files.map((f) => [relative(fixtures, f), f]),
  )("%s: re-written from raw bytes is byte-identical", async (_, path) => {
    const f = SafetensorsFile.open(path);
    const entries: TensorEntry[] = f.keys().map((name) => ({ ...f.info(name), read: () => f.readRaw(name) }));
    const out = join(tmp.dir, "copy.safetensors");
    await writeSafetensors(out, entries, f.hasMetadata ? { ...f.metadata } : undefined);
    f.close();
    expect(Buffer.compare(readFileSync(out), readFileSync(path))).toBe(0);
  });

  it("cases with I64 re-written from decoded int32 values are byte-identical too", async () => {
    const path = join(fixtures, "hf/llava/cases.safetensors");
    const f = SafetensorsFile.open(path);
    expect(new Set(f.keys().map((k) => f.info(k).dtype))).toEqual(new Set(["I64", "F32"]));
    const entries: TensorEntry[] = f
      .keys()
      .map((name) => ({ ...f.info(name), read: () => f.read(name).data }));
    const out = join(tmp.dir, "decoded.safetensors");
    await writeSafetensors(out, entries);
    f.close();
    expect(Buffer.compare(readFileSync(out), readFileSync(path))).toBe(0);
  });
});

describe("fixture checkpoint folders", () => {
  it("opens a model folder and a direct file path alike", () => {
    const dir = join(fixtures, "hf/llava");
    const a = SafetensorsCheckpoint.open(dir);
    const b = SafetensorsCheckpoint.open(join(dir, "model.safetensors"));
    expect(a.path).toBe(join(dir, "model.safetensors"));
    expect(a.metadata).toEqual({ format: "pt" });
    expect(a.keys()).toEqual(b.keys());
    expect(a.keys()).toContain("multi_modal_projector.linear_1.weight");
    expect(a.read("multi_modal_projector.linear_1.weight")).toEqual(
      b.read("multi_modal_projector.linear_1.weight"),
    );
    a.close();
    b.close();
  });

  it("an adapter folder needs its file path or prefix, and says so", () => {
    const dir = join(fixtures, "hf/llava-lora-init");
    expect(() => SafetensorsCheckpoint.open(dir)).toThrow(LlavaError);
    expect(() => SafetensorsCheckpoint.open(dir)).toThrow(
      /found adapter_model.safetensors, cases.safetensors — open one/,
    );
    const byPath = SafetensorsCheckpoint.open(join(dir, "adapter_model.safetensors"));
    const byPrefix = SafetensorsCheckpoint.open(dir, { prefix: "adapter_model" });
    expect(byPath.keys().length).toBe(32);
    expect(byPrefix.keys()).toEqual(byPath.keys());
    byPath.close();
    byPrefix.close();
  });

  it("formatIndex reproduces a real transformers index.json byte for byte", () => {
    const text = readFileSync(join(fixtures, "configs/llava-1.5-7b-hf/model.safetensors.index.json"), "utf8");
    expect(formatIndex(JSON.parse(text) as ShardIndex)).toBe(text);
  });
});
