// An adapter without a file system, as a page handles one: loaded from files in memory and saved as bytes
// (what a page offers for download) — the same files as PEFT's, byte for byte.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { initBackend, memoryFolder } from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { LlavaForConditionalGeneration } from "../test/test-models.js";
import { loadAdapter } from "./load-adapter.js";
import { adapterStateDict } from "./peft-keys.js";
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, adapterFiles } from "./save-adapter.js";

beforeAll(async () => {
  await initBackend();
});

const fixture = (name: string) => fixturePath("hf", name);
const baseModel = () => new LlavaForConditionalGeneration(join(fixture("llava"), "model.safetensors"));
const NAMES = [ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME] as const;

describe("adapters in memory", () => {
  it("loadAdapter from Blobs, then adapterFiles, gives PEFT's two files byte for byte", async () => {
    const dir = fixture("llava-lora-trained");
    const model = baseModel();
    const files = Object.fromEntries(NAMES.map((n) => [n, new Blob([readFileSync(join(dir, n))])]));
    const s = await loadAdapter(model, memoryFolder(files));
    expect(s.modulesToSave).toEqual(["multi_modal_projector"]);
    const out = await adapterFiles(model);
    for (const n of NAMES) expect(Buffer.from(out[n]).equals(readFileSync(join(dir, n))), n).toBe(true);

    // The same weights as the synchronous load from disk.
    const fromDisk = baseModel();
    loadAdapter(fromDisk, dir);
    const a = adapterStateDict(model);
    for (const [k, p] of adapterStateDict(fromDisk))
      expect([...(a.get(k)!.dataSync() as Float32Array)], k).toEqual([...(p.dataSync() as Float32Array)]);
  });

  it("names what is missing from an in-memory adapter folder", async () => {
    await expect(loadAdapter(baseModel(), { [ADAPTER_CONFIG_NAME]: "{}" })).rejects.toThrow(
      /memory\/adapter_model\.safetensors/,
    );
    await expect(loadAdapter(baseModel(), {})).rejects.toThrow(
      /no adapter_config\.json in the adapter folder/,
    );
  });
});
