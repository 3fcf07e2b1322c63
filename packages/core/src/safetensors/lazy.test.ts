// A 6 GB checkpoint (sparse on disk) opens and yields its small tensor without reading the big one.

import { closeSync, ftruncateSync, openSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { tempDir } from "../../test/safetensors-test-utils.js";
import { SafetensorsCheckpoint } from "./checkpoint.js";
import { planFile } from "./layout.js";

const tmp = tempDir();
afterAll(tmp.cleanup);

it("reads one tensor of a multi-GB file by offset, touching only its bytes", () => {
  const path = join(tmp.dir, "model.safetensors");
  const layout = planFile(
    [
      { name: "a.embed_tokens.weight", dtype: "F32", shape: [151936, 10000] }, // 6.08 GB of zeros
      { name: "z.norm.weight", dtype: "F32", shape: [4] },
    ],
    { format: "pt" },
  );
  const fd = openSync(path, "w");
  writeSync(fd, layout.headerBytes, 0, layout.headerBytes.byteLength, 0);
  ftruncateSync(fd, layout.fileSize); // sparse: no disk blocks for the zeros
  const small = layout.tensors[1];
  writeSync(fd, new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer), 0, 16, small.fileOffsets[0]);
  closeSync(fd);
  expect(statSync(path).size).toBeGreaterThan(6e9);
  expect(small.fileOffsets[0]).toBeGreaterThan(2 ** 32); // positions beyond 32 bits work

  const before = process.memoryUsage().arrayBuffers;
  const ckpt = SafetensorsCheckpoint.open(tmp.dir);
  expect(ckpt.info("a.embed_tokens.weight").byteLength).toBe(151936 * 10000 * 4);
  expect(ckpt.read("z.norm.weight").data).toEqual(Float32Array.of(1, 2, 3, 4));
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 << 20);
  ckpt.close();
});
