// The demo's plumbing end to end with tiny settings (the full run is `pnpm demo`, minutes long).
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { beforeAll, describe, expect, it } from "vitest";
import { captureIO } from "../testing/tiny-llava.js";
import { QUICK_DEMO } from "./demo-settings.js";
import { runDemo } from "./run-demo.js";

beforeAll(async () => {
  await initBackend();
});

describe("runDemo --quick", () => {
  it("draws, builds, trains (ZeRO-2), fine-tunes with LoRA, captions and prints the figures", async () => {
    const out = mkdtempSync(join(tmpdir(), "llava-demo-"));
    const io = captureIO();
    const r = await runDemo({ out, quick: true, ranks: 2 }, io);
    const text = io.out();
    expect(text).toContain("<image> = 151665");
    expect(text).toMatch(/base model \(English captions\):\s+\d+\.\d%/);
    expect(text).toMatch(/base \+ LoRA adapter \(Chinese captions\):\s+\d+\.\d%/);
    expect(text).toContain(r.baseLossCurve);
    expect(existsSync(r.baseLossCurve)).toBe(true);
    expect(existsSync(r.loraLossCurve)).toBe(true);
    expect(existsSync(join(out, "adapter-zh", "adapter_model.safetensors"))).toBe(true);
    expect(readFileSync(join(out, "data/en/chat.json"), "utf8")).toContain('"from":"gpt"');
    expect(r.baseAccuracy).toBeGreaterThanOrEqual(0);
    expect(QUICK_DEMO.base.steps).toBeLessThan(10);
  });
});
