// The real-size flags as a user types them: merge --dtype, train --gradient-checkpointing --bf16 --max-heap.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsCheckpoint, setMaxHeap } from "@llava-ts/core";
import { afterAll, describe, expect, it } from "vitest";
import {
  ADAPTER_FLAGS,
  inferArgs,
  mergeArgs,
  runMain as run,
  trainArgs,
  useTinyFixture,
} from "../../test/tiny-llava.js";

const fx = useTinyFixture();
let adapter: string;
afterAll(() => setMaxHeap());

describe("llava train with --gradient-checkpointing --bf16 --max-heap", () => {
  it("trains a LoRA adapter with all three, and names a size it cannot read", async () => {
    adapter = join(fx.root, "adapter-real-size-flags");
    const args = trainArgs(fx, ...ADAPTER_FLAGS, "--gradient-checkpointing", "--bf16");
    const r = await run([...args, "--max-heap", "1GB", "--output-dir", adapter]);
    expect(r.err).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(existsSync(join(adapter, "adapter_model.safetensors"))).toBe(true);
    const bad = await run([...args, "--max-heap", "lots", "--output-dir", join(fx.root, "never")]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/max heap: cannot read "lots" as a size/);
  });
});

describe("llava merge --dtype", () => {
  it("stores every weight in the dtype asked for (config's torch_dtype too); by default keeps the base's", async () => {
    const out = join(fx.root, "merged-bf16");
    const r = await run(mergeArgs(fx.model, adapter, out, "--dtype", "bf16"));
    expect(r.err).toMatch(/^llava merge: backend [^\n]*\n$/); // the backend line, nothing else
    expect(r.code).toBe(0);
    const ckpt = SafetensorsCheckpoint.open(out);
    expect(new Set(ckpt.keys().map((k) => ckpt.info(k).dtype))).toEqual(new Set(["BF16"]));
    ckpt.close();
    expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).torch_dtype).toBe("bfloat16");
    const image = join(fx.data.imagesDir!, fx.data.records[0].image);
    const answer = await run(inferArgs(out, image, "?", "--max-new-tokens", "3"));
    expect(answer.code).toBe(0);

    const plain = join(fx.root, "merged-default");
    expect((await run(mergeArgs(fx.model, adapter, plain))).code).toBe(0);
    const base = SafetensorsCheckpoint.open(fx.model);
    const merged = SafetensorsCheckpoint.open(plain);
    for (const k of base.keys()) expect(merged.info(k).dtype, k).toBe(base.info(k).dtype);
    base.close();
    merged.close();
    expect((await run(mergeArgs(fx.model, adapter, plain, "--dtype", "fp8"))).err).toMatch(
      /--dtype must be one of bf16, f16, f32; got "fp8"/,
    );
  });
});
