// Loading over HTTP and from memory: the fixture LLaVA served by a local static server that records every
// body it sends. The weights equal those read from disk, every tensor came by its own Range request, and a
// loader that needs part of a checkpoint (the vision tower) fetches only that part — never the whole file.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ClipVisionModel } from "@llava-ts/clip";
import { initBackend, memoryFolder, SafetensorsFile } from "@llava-ts/core";
import { type FolderServer, fixturePath, serveFolder } from "@llava-ts/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlavaForConditionalGeneration } from "./llava-model.js";

const dir = fixturePath("hf/llava");
const weights = join(dir, "model.safetensors");
let server: FolderServer;
let base: URL;

beforeAll(async () => {
  await initBackend();
  server = await serveFolder(fixturePath());
  base = new URL(`${server.url}/hf/llava/`);
});
afterAll(() => server.close());

function expectSameWeights(a: LlavaForConditionalGeneration | ClipVisionModel, b: typeof a): void {
  const pb = new Map(b.namedParameters());
  expect([...pb.keys()].sort()).toEqual([...a.namedParameters()].map(([n]) => n).sort());
  for (const [name, p] of a.namedParameters())
    expect(
      Buffer.from((p.dataSync() as Float32Array).buffer).equals(Buffer.from(pb.get(name)!.dataSync().buffer)),
      name,
    ).toBe(true);
}

describe("LlavaForConditionalGeneration.fromPretrained", () => {
  it("loads from a URL, tensor by tensor with Range requests, the same weights as from disk", async () => {
    server.served.length = 0;
    const remote = await LlavaForConditionalGeneration.fromPretrained(base);
    const local = LlavaForConditionalGeneration.fromPretrained(dir);
    try {
      expectSameWeights(remote, local);
      const file = SafetensorsFile.open(weights);
      const tensors = server.served.filter((r) => r.path === "/hf/llava/model.safetensors");
      // The length prefix, the header, then one request per tensor: none of them the whole file.
      expect(tensors.length).toBe(2 + file.keys().length);
      expect(tensors.every((r) => r.range !== undefined && r.bytes < file.fileSize)).toBe(true);
      file.close();
    } finally {
      remote.dispose();
      local.dispose();
    }
  });

  it("loads from files in memory (Blobs, as a page's file input gives them)", async () => {
    const names = ["config.json", "model.safetensors"];
    const files = Object.fromEntries(names.map((n) => [n, new Blob([readFileSync(join(dir, n))])]));
    const remote = await LlavaForConditionalGeneration.fromPretrained(memoryFolder(files));
    const local = LlavaForConditionalGeneration.fromPretrained(dir);
    try {
      expectSameWeights(remote, local);
    } finally {
      remote.dispose();
      local.dispose();
    }
  });

  it("refuses a URL string on the synchronous path with what to do instead", () => {
    expect(() => LlavaForConditionalGeneration.fromPretrained(base.href)).toThrow(
      `LlavaForConditionalGeneration.fromPretrained("${base.href}"): a URL loads asynchronously — pass new URL("${base.href}") and await the result`,
    );
  });
});

describe("a partial load over HTTP", () => {
  it("fetches only the vision tower's bytes of the LLaVA checkpoint, not the whole file", async () => {
    server.served.length = 0;
    const remote = await ClipVisionModel.fromPretrained(base);
    const local = ClipVisionModel.fromPretrained(dir);
    try {
      expectSameWeights(remote, local);
      const file = SafetensorsFile.open(weights);
      const vision = file
        .keys()
        .filter((k) => k.startsWith("vision_tower.vision_model.") && !k.endsWith("position_ids"))
        .reduce((n, k) => n + file.info(k).byteLength, 0);
      const sent = server.served
        .filter((r) => r.path === "/hf/llava/model.safetensors")
        .reduce((n, r) => n + r.bytes, 0);
      // Exactly the header and the vision tensors; the language model's bytes never left the server.
      expect(sent).toBe(file.dataStart + vision);
      expect(sent).toBeLessThan(statSync(weights).size);
      file.close();
    } finally {
      remote.dispose();
      local.dispose();
    }
  });
});
