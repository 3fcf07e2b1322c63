import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../test/safetensors-test-utils.js";
import { initBackend } from "../backend/init-backend.js";
import type { SafetensorsDtype } from "./dtype.js";
import type { WritableArray } from "./encode.js";
import { float32ToBf16, float32ToF16 } from "./half.js";
import { io } from "./io.js";
import { SafetensorsFile } from "./safetensors-file.js";
import { saveSafetensors, type TensorEntry, writeSafetensors } from "./writer.js";

const tmp = tempDir();
afterAll(tmp.cleanup);
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});
const bytes = (a: ArrayBufferView) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

// Awkward values per dtype: extremes, signs, NaN payloads, subnormals.
const SAMPLES: [SafetensorsDtype, WritableArray][] = [
  ["F32", Float32Array.of(0, -0, 1.5, -3.25e-39, 3.4e38, Number.NaN, Infinity, 1 / 3)],
  ["F64", Float64Array.of(Math.PI, -1e-300, 1e300, -0)],
  ["F16", Uint16Array.of(0x0001, 0x7bff, 0xfc00, 0x7e01, 0x3555, 0x8000)],
  ["BF16", Uint16Array.of(0x0001, 0x7f7f, 0xff80, 0x7fc1, 0x3eab, 0x8000)],
  ["I64", BigInt64Array.of(0n, -1n, 2147483647n, -2147483648n, 9007199254740993n, -(2n ** 63n))],
  ["I32", Int32Array.of(0, -1, 2147483647, -2147483648)],
  ["I16", Int16Array.of(-32768, 32767, 5)],
  ["I8", Int8Array.of(-128, 127, 0)],
  ["U8", Uint8Array.of(0, 255, 7)],
  ["BOOL", Uint8Array.of(1, 0, 1, 1)],
  ["U16", Uint16Array.of(65535, 0)],
  ["U32", Uint32Array.of(4294967295, 1)],
  ["U64", BigUint64Array.of(2n ** 64n - 1n, 3n)],
];

describe("writeSafetensors", () => {
  it("round-trips every dtype bit-exactly", async () => {
    const path = join(tmp.dir, "all.safetensors");
    const entries: TensorEntry[] = SAMPLES.map(([dtype, data]) => ({
      name: `t.${dtype}`,
      dtype,
      shape: [data.length],
      read: () => data,
    }));
    await writeSafetensors(path, entries, { b: "2", a: "1" });
    const f = SafetensorsFile.open(path);
    expect(f.metadata).toEqual({ a: "1", b: "2" });
    for (const [dtype, data] of SAMPLES) {
      expect(f.info(`t.${dtype}`).dtype).toBe(dtype);
      expect(bytes(f.readRaw(`t.${dtype}`))).toEqual(bytes(data));
    }
    // Decoded values: widened exactly.
    expect(bytes(f.read("t.F32").data)).toEqual(bytes(SAMPLES[0][1]));
    expect(f.read("t.I16").data).toEqual(Int32Array.of(-32768, 32767, 5));
    expect(f.read("t.BOOL")).toEqual({ shape: [4], dtype: "bool", data: Uint8Array.of(1, 0, 1, 1) });
    expect(() => f.read("t.U64")).toThrow(/tensor "t.U64": U64 value 18446744073709551615 at flat index 0/);
    // Wider dtypes first (Rust enum order), then names.
    expect(f.keys()).toEqual([
      "t.U64",
      "t.I64",
      "t.F64",
      "t.F32",
      "t.U32",
      "t.I32",
      "t.BF16",
      "t.F16",
      "t.U16",
      "t.I16",
      "t.I8",
      "t.U8",
      "t.BOOL",
    ]);
    f.close();
  });

  it("narrows float32 to F16 / BF16 with round-to-nearest-even and widens back", async () => {
    const values = Float32Array.of(
      1,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      65519,
      70000,
      1e-7,
      -2.5,
      1 + 2 ** -8,
      3.4028234e38,
    );
    const path = join(tmp.dir, "narrow.safetensors");
    await writeSafetensors(path, [
      { name: "h", dtype: "F16", shape: [values.length], read: () => values },
      { name: "b", dtype: "BF16", shape: [values.length], read: () => values },
      { name: "d", dtype: "F64", shape: [values.length], read: () => values },
    ]);
    const f = SafetensorsFile.open(path);
    expect(bytes(f.readRaw("h"))).toEqual(bytes(float32ToF16(values)));
    expect(bytes(f.readRaw("b"))).toEqual(bytes(float32ToBf16(values)));
    expect(Array.from(new Uint16Array(f.readRaw("h").buffer).slice(0, 5))).toEqual([
      0x3c00, 0x3c00, 0x3c02, 0x7bff, 0x7c00,
    ]);
    expect(Array.from(f.read("h").data).slice(0, 3)).toEqual([1, 1, 1 + 2 ** -9]);
    expect(Array.from(f.read("b").data).slice(-2)).toEqual([1, Infinity]); // 1 + 2^-8 is a tie -> even; float32 max overflows
    expect(f.read("d").data).toEqual(values);
    f.close();
  });

  it("header is compact JSON, __metadata__ first, padded with spaces to 8; names like '0' keep their place", async () => {
    const path = join(tmp.dir, "layout.safetensors");
    await writeSafetensors(
      path,
      [
        { name: "b", dtype: "F32", shape: [1], read: () => Float32Array.of(2) },
        { name: "0", dtype: "F32", shape: [], read: () => Float32Array.of(1) },
        { name: "a", dtype: "I64", shape: [1], read: () => BigInt64Array.of(3n) },
      ],
      { format: "pt" },
    );
    const raw = readFileSync(path);
    const n = Number(raw.readBigUInt64LE(0));
    const json =
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"0":{"dtype":"F32","shape":[],"data_offsets":[8,12]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}';
    expect(n % 8).toBe(0);
    expect(raw.subarray(8, 8 + n).toString()).toBe(json.padEnd(n, " "));
    expect(n - json.length).toBeLessThan(8);
    expect(bytes(raw.subarray(8 + n))).toEqual([
      ...bytes(BigInt64Array.of(3n)),
      ...bytes(Float32Array.of(1, 2)),
    ]);
    expect(raw.byteLength).toBe(8 + n + 16);
  });

  it("streams: each read() happens after the previous tensor is on disk, one at a time", async () => {
    const path = join(tmp.dir, "stream.safetensors");
    const tmpPath = `${path}.tmp-${process.pid}`;
    const log: string[] = [];
    let live = 0;
    const entries: TensorEntry[] = ["a", "b", "c"].map((name, i) => ({
      name,
      dtype: "F32",
      shape: [1000],
      read: async () => {
        log.push(`${name}@${statSync(tmpPath).size}`);
        live++;
        expect(live).toBe(1);
        await new Promise((r) => setTimeout(r, 1));
        live--;
        return new Float32Array(1000).fill(i);
      },
    }));
    const { tensors } = await writeSafetensors(path, entries);
    const h = tensors[0].fileOffsets[0];
    expect(log).toEqual([`a@${h}`, `b@${h + 4000}`, `c@${h + 8000}`]);
    expect(existsSync(tmpPath)).toBe(false);
    expect(SafetensorsFile.open(path).read("c").data[999]).toBe(2);
  });

  it("rejects data of the wrong length or type and leaves no file behind", async () => {
    const path = join(tmp.dir, "bad.safetensors");
    const wrongLength = writeSafetensors(path, [
      { name: "w", dtype: "F32", shape: [2, 2], read: () => new Float32Array(3) },
    ]);
    await expect(wrongLength).rejects.toThrow(
      /tensor "w": read\(\) gave 12 bytes \(3 F32 values\) but its shape needs 16 bytes/,
    );
    const wrongType = writeSafetensors(path, [
      { name: "w", dtype: "I32", shape: [2], read: () => new Float32Array(2) },
    ]);
    await expect(wrongType).rejects.toThrow(/tensor "w": cannot write a Float32Array as I32/);
    await expect(
      writeSafetensors(path, [
        { name: "__metadata__", dtype: "F32", shape: [], read: () => new Float32Array(1) },
      ]),
    ).rejects.toThrow();
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith("bad."))).toEqual([]);
  });

  it("writes and reads in chunks when a tensor exceeds one fs call", async () => {
    const saved = io.chunkBytes;
    io.chunkBytes = 5;
    try {
      const path = join(tmp.dir, "chunks.safetensors");
      const data = Float32Array.from({ length: 33 }, (_, i) => i * 0.5);
      await writeSafetensors(path, [{ name: "x", dtype: "F32", shape: [3, 11], read: () => data }]);
      expect(SafetensorsFile.open(path).read("x").data).toEqual(data);
    } finally {
      io.chunkBytes = saved;
    }
  });
});

describe("saveSafetensors", () => {
  it("saves tf tensors and plain arrays; float32 optionally as BF16", async () => {
    const path = join(tmp.dir, "save.safetensors");
    const w = tf.tensor2d([
      [1, 2.5],
      [-3, 1 / 3],
    ]);
    const ids = tf.tensor1d([5, -6], "int32");
    const mask = tf.tensor1d([true, false], "bool");
    await saveSafetensors(
      path,
      { w, ids, mask, raw: { dtype: "I64", shape: [1], data: BigInt64Array.of(1n << 40n) } },
      { format: "pt" },
      { floatDtype: "BF16" },
    );
    const f = SafetensorsFile.open(path);
    expect(["w", "ids", "mask", "raw"].map((k) => f.info(k).dtype)).toEqual(["BF16", "I32", "BOOL", "I64"]);
    const back = f.tensor("w");
    expect(back.dtype).toBe("float32");
    expect(Array.from(back.dataSync())).toEqual([1, 2.5, -3, 0.333984375]); // 1/3 rounded to 8 bits
    expect(f.tensor("mask").dtype).toBe("bool");
    expect(Array.from(f.tensor("mask").dataSync())).toEqual([1, 0]);
    expect(f.read("ids").data).toEqual(Int32Array.of(5, -6));
    expect(f.readBigInt64("raw")[0]).toBe(1n << 40n);
    f.close();
    tf.dispose([w, ids, mask, back]);
  });
});
