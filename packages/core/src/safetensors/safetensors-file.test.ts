import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawFile, tempDir } from "../../test/safetensors-test-utils.js";
import { initBackend } from "../backend/init-backend.js";
import { FormatError } from "../errors.js";
import { io } from "./io.js";
import { SafetensorsFile } from "./safetensors-file.js";

const tmp = tempDir();
afterAll(tmp.cleanup);
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
});

const f32 = (...xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe("SafetensorsFile on a file built byte by byte", () => {
  // 8-byte LE length, JSON, space padding to a multiple of 8, then little-endian data.
  const json =
    '{"__metadata__":{"k":"v"},"b":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[16,24]}}';
  const padded = json + " ".repeat((8 - (json.length % 8)) % 8);
  const bytes = cat(
    Uint8Array.of(padded.length, 0, 0, 0, 0, 0, 0, 0),
    new TextEncoder().encode(padded),
    Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // I64 7, -2
    Uint8Array.of(0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0), // F32 1.0, -2.0
  );
  const path = join(tmp.dir, "hand.safetensors");
  writeFileSync(path, bytes);

  it("reads header, metadata, infos and values", () => {
    const f = SafetensorsFile.open(path);
    expect(f.metadata).toEqual({ k: "v" });
    expect(f.keys()).toEqual(["b", "a"]); // data order
    expect(f.dataStart).toBe(8 + padded.length);
    expect(f.info("a")).toEqual({
      name: "a",
      dtype: "F32",
      shape: [1, 2],
      byteLength: 8,
      offsets: [16, 24],
      fileOffsets: [8 + padded.length + 16, 8 + padded.length + 24],
    });
    expect(f.read("a")).toEqual({ shape: [1, 2], dtype: "float32", data: Float32Array.of(1, -2) });
    expect(f.read("b")).toEqual({ shape: [2], dtype: "int32", data: Int32Array.of(7, -2) });
    expect(Array.from(f.readBigInt64("b"))).toEqual([7n, -2n]);
    expect(Array.from(f.readRaw("a"))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    expect(f.has("a") && !f.has("c")).toBe(true);
    expect(() => f.info("c")).toThrow(/no tensor "c"/);
    f.close();
    expect(() => f.readRaw("a")).toThrow(/after close/);
  });

  it("makes tf tensors of the loaded dtype", () => {
    const f = SafetensorsFile.open(path);
    const a = f.tensor("a");
    const b = f.tensor("b");
    expect([a.dtype, a.shape, Array.from(a.dataSync())]).toEqual(["float32", [1, 2], [1, -2]]);
    expect([b.dtype, Array.from(b.dataSync())]).toEqual(["int32", [7, -2]]);
    tf.dispose([a, b]);
    f.close();
  });

  it("reads in chunks when a tensor exceeds one read call", () => {
    const saved = io.chunkBytes;
    io.chunkBytes = 3;
    try {
      const f = SafetensorsFile.open(path);
      expect(f.read("a").data).toEqual(Float32Array.of(1, -2));
      f.close();
    } finally {
      io.chunkBytes = saved;
    }
  });
});

describe("corrupt files are rejected with the file and tensor named", () => {
  const t = (dtype: string, shape: number[], offsets: number[]) => ({ dtype, shape, data_offsets: offsets });
  const ok = { x: t("F32", [2], [0, 8]), y: t("F32", [1], [8, 12]) };
  const data12 = f32(1, 2, 3);
  let n = 0;
  const file = (header: string | object, data?: Uint8Array) =>
    rawFile(join(tmp.dir, `bad${n++}.safetensors`), header, data);

  function rejects(path: string, message: RegExp, tensor?: string) {
    let err: unknown;
    try {
      SafetensorsFile.open(path).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    const fe = err as FormatError;
    expect(fe.file).toBe(path);
    expect(fe.message).toContain(path);
    expect(fe.message).toMatch(message);
    expect(fe.tensor).toBe(tensor);
  }

  it("accepts the valid baseline", () => {
    expect(SafetensorsFile.open(file(ok, data12)).keys()).toEqual(["x", "y"]);
  });

  it("file shorter than 8 bytes", () => {
    const p = join(tmp.dir, "short.safetensors");
    writeFileSync(p, Uint8Array.of(1, 2, 3));
    rejects(p, /3 bytes, shorter than the 8-byte header length/);
  });

  it("header length past the end of the file, or absurdly large", () => {
    const p = join(tmp.dir, "len.safetensors");
    writeFileSync(p, cat(Uint8Array.of(200, 0, 0, 0, 0, 0, 0, 0), new TextEncoder().encode("{}      ")));
    rejects(p, /header length 200 runs past the end of the file \(16 bytes\)/);
    writeFileSync(p, cat(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1), new TextEncoder().encode("{}      ")));
    rejects(p, /header length 72057594037927936 exceeds/);
  });

  it("header not UTF-8, not JSON, not an object", () => {
    const p = join(tmp.dir, "utf.safetensors");
    writeFileSync(
      p,
      cat(Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 0), Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d, 32, 32, 32, 32)),
    );
    rejects(p, /not valid UTF-8/);
    rejects(file('{"x": '), /header is not valid JSON/);
    rejects(file("[1, 2]"), /header is not a JSON object/);
    rejects(file("null"), /header is not a JSON object/);
  });

  it("malformed entries and metadata", () => {
    rejects(file({ x: 5 }), /entry is 5, not an object/, "x");
    rejects(file({ x: t("F17", [2], [0, 8]) }, f32(1, 2)), /unknown dtype "F17"/, "x");
    rejects(file({ x: t("F32", [-2], [0, 8]) }, f32(1, 2)), /shape \[-2\] is not a list/, "x");
    rejects(file({ x: t("F32", [2], [8, 0]) }, f32(1, 2)), /data_offsets \[8,0\] is not \[begin, end\]/, "x");
    rejects(file({ __metadata__: { a: 1 } }), /__metadata__\["a"\] is 1, not a string/);
  });

  it("byte length that does not fit dtype × shape", () => {
    rejects(
      file({ x: t("F32", [2, 3], [0, 20]) }, new Uint8Array(20)),
      /hold 20 bytes but F32 \[2,3\] needs 24/,
      "x",
    );
  });

  it("truncated file: offsets past the end of the data", () => {
    const p = file(ok, data12);
    truncateSync(p, readFileSync(p).byteLength - 2);
    rejects(p, /data_offsets \[8,12\] run past the end of the data \(10 bytes\): truncated file\?/, "y");
  });

  it("overlapping offsets, gaps and trailing bytes", () => {
    rejects(file({ x: t("F32", [2], [0, 8]), y: t("F32", [2], [4, 12]) }, data12), /overlap tensor "x"/, "y");
    rejects(file({ x: t("F32", [2], [4, 12]) }, data12), /gap of 4 bytes after the header/, "x");
    rejects(
      file({ x: t("F32", [1], [0, 4]), y: t("F32", [1], [8, 12]) }, data12),
      /gap of 4 bytes after tensor "x"/,
      "y",
    );
    rejects(file({ x: t("F32", [2], [0, 8]) }, data12), /4 trailing bytes after the last tensor/);
  });

  it("I64 values outside int32: read() names the tensor, readBigInt64() is exact", () => {
    const big = new Uint8Array(BigInt64Array.of(1n, 1n << 40n).buffer);
    const p = file({ ids: t("I64", [2], [0, 16]) }, big);
    const f = SafetensorsFile.open(p);
    expect(() => f.read("ids")).toThrow(FormatError);
    expect(() => f.read("ids")).toThrow(
      /tensor "ids": I64 value 1099511627776 at flat index 1 does not fit int32/,
    );
    expect(Array.from(f.readBigInt64("ids"))).toEqual([1n, 1n << 40n]);
    f.close();
    const neg = file(
      { ids: t("I64", [1], [0, 8]) },
      new Uint8Array(BigInt64Array.of(-(1n << 31n) - 1n).buffer),
    );
    expect(() => SafetensorsFile.open(neg).read("ids")).toThrow(/-2147483649/);
  });
});
