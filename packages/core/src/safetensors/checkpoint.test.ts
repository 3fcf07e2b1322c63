import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../../test/safetensors-test-utils.js";
import { FormatError } from "../errors.js";
import { SafetensorsCheckpoint } from "./checkpoint.js";
import { parseSize, planShards, writeSafetensorsCheckpoint } from "./checkpoint-writer.js";
import type { SafetensorsDtype } from "./dtype.js";
import type { TensorEntry } from "./writer.js";

const tmp = tempDir();
afterAll(tmp.cleanup);

/** Entries with distinct, reproducible values; `reads` counts read() calls. */
function entries(specs: [string, SafetensorsDtype, number[]][]) {
  const reads: string[] = [];
  const list: TensorEntry[] = specs.map(([name, dtype, shape], k) => ({
    name,
    dtype,
    shape,
    read: () => {
      reads.push(name);
      const n = shape.reduce((a, b) => a * b, 1);
      return Float32Array.from({ length: n }, (_, i) => k * 1000 + i / 7);
    },
  }));
  return { list, reads };
}

// Sizes in bytes: a 400, b 200, c 400 (BF16), d 40, e 1200 (oversized for a 500-byte limit).
const SPECS: [string, SafetensorsDtype, number[]][] = [
  ["model.a.weight", "F32", [10, 10]],
  ["model.b.weight", "F32", [50]],
  ["model.c.weight", "BF16", [200]],
  ["model.d.bias", "F32", [10]],
  ["model.e.weight", "F32", [300]],
];

describe("writeSafetensorsCheckpoint", () => {
  it("shards by max size like huggingface_hub and writes transformers' index", async () => {
    const dir = join(tmp.dir, "sharded");
    const { list, reads } = entries(SPECS);
    const result = await writeSafetensorsCheckpoint(dir, list, { maxShardSize: 500 });
    expect(reads.length).toBe(5); // each tensor pulled exactly once
    // a(400); b would make 600 > 500 -> new shard [b]; c would make 600 -> new shard [c, d];
    // e (1200 > 500) gets a shard of its own, emitted before the still-open [c, d].
    expect(result.files.map((f) => f.tensors.map((t) => t.name))).toEqual([
      ["model.a.weight"],
      ["model.b.weight"],
      ["model.e.weight"],
      ["model.d.bias", "model.c.weight"], // F32 sorts before BF16 inside a file
    ]);
    const names = readdirSync(dir).sort();
    expect(names).toEqual([
      "model-00001-of-00004.safetensors",
      "model-00002-of-00004.safetensors",
      "model-00003-of-00004.safetensors",
      "model-00004-of-00004.safetensors",
      "model.safetensors.index.json",
    ]);
    const text = readFileSync(join(dir, "model.safetensors.index.json"), "utf8");
    expect(text).toBe(
      `{
  "metadata": {
    "total_size": 2240
  },
  "weight_map": {
    "model.a.weight": "model-00001-of-00004.safetensors",
    "model.b.weight": "model-00002-of-00004.safetensors",
    "model.c.weight": "model-00004-of-00004.safetensors",
    "model.d.bias": "model-00004-of-00004.safetensors",
    "model.e.weight": "model-00003-of-00004.safetensors"
  }
}
`,
    );
    expect(result.totalSize).toBe(400 + 200 + 400 + 40 + 1200);

    const ckpt = SafetensorsCheckpoint.open(dir);
    expect(ckpt.path).toBe(join(dir, "model.safetensors.index.json"));
    expect(ckpt.indexMetadata).toEqual({ total_size: 2240 });
    expect(ckpt.metadata).toEqual({ format: "pt" });
    expect(ckpt.files.length).toBe(4);
    expect(ckpt.keys().sort()).toEqual(SPECS.map((s) => s[0]).sort());
    const again = entries(SPECS).list;
    for (const e of again) {
      const expected = e.read() as Float32Array;
      const got = ckpt.read(e.name).data;
      // F32 bit-exact; BF16 equals the float32 values narrowed with round-to-nearest-even.
      if (e.dtype === "F32") expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      else expect(got).toEqual(Float32Array.from(expected, (x) => bf16(x)));
      expect(ckpt.shape(e.name)).toEqual(e.shape);
    }
    ckpt.close();
  });

  it("writes one <prefix>.safetensors when everything fits, and removes stale shards and index", async () => {
    const dir = join(tmp.dir, "resave");
    await writeSafetensorsCheckpoint(dir, entries(SPECS).list, { maxShardSize: 500 });
    expect(readdirSync(dir).length).toBe(5);
    writeFileSync(join(dir, "config.json"), "{}");
    const result = await writeSafetensorsCheckpoint(dir, entries(SPECS).list, { maxShardSize: "1MB" });
    expect(result.index).toBeUndefined();
    expect(readdirSync(dir).sort()).toEqual(["config.json", "model.safetensors"]);
    const ckpt = SafetensorsCheckpoint.open(dir);
    expect(ckpt.keys().length).toBe(5);
    ckpt.close();
  });

  it("supports another prefix, e.g. a sharded PEFT adapter", async () => {
    const dir = join(tmp.dir, "adapter");
    await writeSafetensorsCheckpoint(dir, entries(SPECS).list, {
      prefix: "adapter_model",
      maxShardSize: 1000,
      metadata: {},
    });
    expect(readdirSync(dir).sort()).toEqual([
      "adapter_model-00001-of-00003.safetensors",
      "adapter_model-00002-of-00003.safetensors",
      "adapter_model-00003-of-00003.safetensors",
      "adapter_model.safetensors.index.json",
    ]);
    expect(() => SafetensorsCheckpoint.open(dir)).toThrow(
      /no model.safetensors or model.safetensors.index.json/,
    );
    const ckpt = SafetensorsCheckpoint.open(dir, { prefix: "adapter_model" });
    expect(ckpt.metadata).toEqual({});
    expect(ckpt.keys().length).toBe(5);
    ckpt.close();
  });

  it("rejects a name given twice", async () => {
    const { list } = entries([SPECS[0], SPECS[0]]);
    await expect(writeSafetensorsCheckpoint(join(tmp.dir, "dup"), list)).rejects.toThrow(
      /"model.a.weight" appears twice/,
    );
  });
});

describe("planShards and parseSize", () => {
  it("keeps the given order and puts an oversized tensor in its own shard", () => {
    const s = (name: string, n: number) => ({ name, dtype: "U8" as const, shape: [n] });
    const plan = planShards([s("a", 3), s("b", 3), s("big", 20), s("c", 4), s("d", 10)], 10);
    // "big" is emitted while [a, b] is still open, so it comes first; c fills the open shard to exactly 10.
    expect(plan.map((sh) => sh.map((x) => x.name))).toEqual([["big"], ["a", "b", "c"], ["d"]]);
    expect(planShards([], 10)).toEqual([]);
  });

  it("parses sizes as transformers does (GB = 10^9, GiB = 2^30)", () => {
    expect(parseSize("5GB")).toBe(5e9);
    expect(parseSize("500MiB")).toBe(500 * 2 ** 20);
    expect(parseSize("1.5kb")).toBe(1500);
    expect(parseSize(1234)).toBe(1234);
    expect(() => parseSize("5 parsecs")).toThrow(/cannot parse size "5 parsecs"/);
    expect(() => parseSize(0)).toThrow(/not a positive integer/);
  });
});

describe("corrupt sharded checkpoints", () => {
  async function sharded(name: string) {
    const dir = join(tmp.dir, name);
    await writeSafetensorsCheckpoint(dir, entries(SPECS).list, { maxShardSize: 500 });
    const indexPath = join(dir, "model.safetensors.index.json");
    return { dir, indexPath, index: JSON.parse(readFileSync(indexPath, "utf8")) };
  }

  function rejects(dir: string, message: RegExp, tensor?: string) {
    let err: unknown;
    try {
      SafetensorsCheckpoint.open(dir).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).message).toMatch(message);
    expect((err as FormatError).tensor).toBe(tensor);
  }

  it("index naming a missing shard", async () => {
    const { dir, indexPath, index } = await sharded("missing-shard");
    index.weight_map["model.b.weight"] = "model-00009-of-00009.safetensors";
    writeFileSync(indexPath, JSON.stringify(index));
    rejects(
      dir,
      /index\.json: tensor "model.b.weight": weight_map names shard "model-00009-of-00009.safetensors", which does not exist/,
      "model.b.weight",
    );
  });

  it("index naming a tensor its shard does not hold", async () => {
    const { dir, indexPath, index } = await sharded("wrong-shard");
    index.weight_map["model.b.weight"] = "model-00001-of-00004.safetensors";
    index.weight_map["model.ghost"] = "model-00001-of-00004.safetensors";
    writeFileSync(indexPath, JSON.stringify(index));
    rejects(
      dir,
      /weight_map puts it in "model-00001-of-00004.safetensors", which has no such tensor/,
      "model.b.weight",
    );
  });

  it("index that is not JSON or has no weight_map; a corrupt shard names its file", async () => {
    const { dir, indexPath } = await sharded("bad-index");
    writeFileSync(indexPath, "{ nope");
    rejects(dir, /index is not valid JSON/);
    writeFileSync(indexPath, JSON.stringify({ metadata: {} }));
    rejects(dir, /index has no "weight_map" object/);
    const other = await sharded("bad-shard");
    writeFileSync(join(other.dir, "model-00002-of-00004.safetensors"), "1234");
    rejects(other.dir, /model-00002-of-00004.safetensors: file is 4 bytes/);
  });

  it("lists tensors present in a shard but missing from weight_map", async () => {
    const { dir, indexPath, index } = await sharded("unindexed");
    delete index.weight_map["model.d.bias"];
    writeFileSync(indexPath, JSON.stringify(index));
    const ckpt = SafetensorsCheckpoint.open(dir);
    expect(ckpt.unindexed).toEqual(["model.d.bias"]);
    expect(ckpt.has("model.d.bias")).toBe(false);
    ckpt.close();
  });

  it("a missing path or an empty folder", () => {
    const empty = join(tmp.dir, "empty");
    mkdirSync(empty);
    expect(() => SafetensorsCheckpoint.open(empty)).toThrow(/the folder has no .safetensors files/);
    expect(() => SafetensorsCheckpoint.open(join(tmp.dir, "nope"))).toThrow(/no such file or folder/);
  });
});

function bf16(x: number): number {
  const u = new Uint32Array(Float32Array.of(x).buffer)[0];
  const r = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16;
  return new Float32Array(Uint32Array.of(r).buffer)[0];
}
