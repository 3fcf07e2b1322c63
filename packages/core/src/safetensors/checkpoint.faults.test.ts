// Fault suite (issue 19, classes 4 and 8): a checkpoint folder cannot make llava-ts read outside it, and a
// folder where a file should be is named as such.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { rawFile, tempDir } from "../../test/safetensors-test-utils.js";
import { FormatError } from "../errors.js";
import { readFloat32Into } from "../modules/host-tensor.js";
import { SafetensorsCheckpoint } from "./checkpoint.js";

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function shard(path: string): string {
  return rawFile(path, { w: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4));
}

function index(dir: string, shardName: string): void {
  writeFileSync(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({ metadata: { total_size: 4 }, weight_map: { w: shardName } }),
  );
}

describe("shard paths in model.safetensors.index.json", () => {
  it("refuses a shard outside the checkpoint folder before opening it", () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const model = join(t.dir, "a", "model");
    mkdirSync(model, { recursive: true });
    mkdirSync(join(t.dir, "outside"));
    shard(join(t.dir, "outside", "evil.safetensors"));
    const open = () => {
      try {
        SafetensorsCheckpoint.open(model);
      } catch (e) {
        return e as FormatError;
      }
    };
    index(model, "../../outside/evil.safetensors");
    expect(open()).toBeInstanceOf(FormatError);
    expect(open()?.message).toContain(
      'tensor "w": weight_map names shard "../../outside/evil.safetensors", which lies outside the checkpoint folder',
    );
    // An absolute name is taken inside the folder (path.join), so it cannot reach the file either.
    index(model, join(t.dir, "outside", "evil.safetensors"));
    expect(open()?.message).toMatch(/which does not exist/);
  });

  it("reads shards in the folder, in a subfolder, and through a symlink placed in it (the HF hub cache)", () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const model = join(t.dir, "model");
    mkdirSync(join(model, "sub"), { recursive: true });
    shard(join(model, "sub", "s.safetensors"));
    index(model, "sub/s.safetensors");
    expect(SafetensorsCheckpoint.open(model).keys()).toEqual(["w"]);
    mkdirSync(join(t.dir, "blobs"));
    shard(join(t.dir, "blobs", "abc"));
    symlinkSync(join(t.dir, "blobs", "abc"), join(model, "linked.safetensors"));
    index(model, "linked.safetensors");
    expect(SafetensorsCheckpoint.open(model).keys()).toEqual(["w"]);
  });
});

describe("a folder where a weights file should be", () => {
  it("is a FormatError naming the path, not a bare EISDIR", () => {
    const t = tempDir();
    cleanup = t.cleanup;
    mkdirSync(join(t.dir, "model.safetensors"));
    expect(() => SafetensorsCheckpoint.open(t.dir)).toThrow(
      `${join(t.dir, "model.safetensors")}: is a folder, not a .safetensors file`,
    );
  });
});

describe("non-finite weights", () => {
  it("load, with a warning naming the file and the tensor, once per tensor", () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const values = new Float32Array([1, Number.NaN, Number.POSITIVE_INFINITY, 2]);
    const file = rawFile(
      join(t.dir, "model.safetensors"),
      {
        bad: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
        good: { dtype: "F32", shape: [4], data_offsets: [16, 32] },
      },
      new Uint8Array([...new Uint8Array(values.buffer), ...new Uint8Array(new Float32Array(4).buffer)]),
    );
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const ckpt = SafetensorsCheckpoint.open(file);
      expect(Array.from(ckpt.read("bad").data)).toEqual(Array.from(values));
      ckpt.read("bad");
      ckpt.read("good");
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toBe(
        `llava-ts: warning: ${file}: tensor "bad" has 2 non-finite value(s) (NaN or ±Inf) among 4`,
      );
      ckpt.close();
    } finally {
      warn.mockRestore();
    }
  });

  it("offloaded weights read row by row warn the same way, once, whichever rows come first", () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const values = new Float32Array(12).fill(1); // [4, 3]
    values[10] = Number.NEGATIVE_INFINITY; // row 3
    const file = rawFile(
      join(t.dir, "model.safetensors"),
      { table: { dtype: "F32", shape: [4, 3], data_offsets: [0, 48] } },
      new Uint8Array(values.buffer),
    );
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const ckpt = SafetensorsCheckpoint.open(file);
      const rows = new Float32Array(6);
      readFloat32Into(ckpt.host("table"), rows, 0, 2); // rows 0, 1: finite
      expect(warn).not.toHaveBeenCalled();
      readFloat32Into(ckpt.host("table"), rows, 2, 2); // rows 2, 3
      readFloat32Into(ckpt.host("table"), rows, 2, 2);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toBe(
        `llava-ts: warning: ${file}: tensor "table" has 1 non-finite value(s) (NaN or ±Inf) among 12`,
      );
      ckpt.close();
    } finally {
      warn.mockRestore();
    }
  });
});
