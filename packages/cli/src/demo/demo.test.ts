// The demo's plumbing end to end with tiny settings (the full run is `pnpm demo`, minutes long).
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { beforeAll, describe, expect, it } from "vitest";
import { captureIO } from "../../test/tiny-llava.js";
import { formatEvalLines } from "../eval/run-eval.js";
import { main } from "../main.js";
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
    expect(text).toMatch(/base model, English captions:\n\s+4 records: eval_loss \d+\.\d{4}/);
    expect(text).toMatch(/exact match \d+\.\d%, BLEU-4 \d\.\d{4}, CIDEr-D \d+\.\d{4}/);
    expect(text).toContain(r.baseLossCurve);
    expect(text).toMatch(/try it: +llava infer --model /);
    expect(existsSync(r.baseLossCurve)).toBe(true);
    expect(existsSync(r.loraLossCurve)).toBe(true);
    expect(existsSync(join(out, "adapter-zh", "adapter_model.safetensors"))).toBe(true);
    expect(readFileSync(join(out, "data/en/chat.json"), "utf8")).toContain('"from":"gpt"');
    expect(r.baseAccuracy).toBeGreaterThanOrEqual(0);
    expect(QUICK_DEMO.base.steps).toBeLessThan(10);

    // `llava eval` on the demo's held-out sets gives the demo's own figures, prediction for prediction.
    for (const [demo, model, adapter, set] of [
      [r.baseEval, "llava-base", undefined, "held-out-en"],
      [r.adapterEval, "llava-base", "adapter-zh", "held-out-zh"],
    ] as const) {
      const evalOut = join(out, `eval-${set}`);
      const e = captureIO();
      const argv = ["eval", "--model", join(out, model), "--data", join(out, "data", set, "chat.json")];
      argv.push("--images", join(out, "data", set, "images.zip"), "--output-dir", evalOut);
      argv.push("--per-device-eval-batch-size", "32", "--max-new-tokens", "24");
      if (adapter) argv.push("--adapter", join(out, adapter));
      expect(await main(argv, e), e.err()).toBe(0);
      const metrics = JSON.parse(readFileSync(join(evalOut, "eval_results.json"), "utf8"));
      expect(metrics.eval_samples).toBe(QUICK_DEMO.heldOutImages);
      expect(metrics.exact_match).toBe(demo.scores!.exactMatch);
      expect(metrics.bleu4).toBe(demo.scores!.bleu4);
      expect(metrics.cider).toBe(demo.scores!.cider);
      expect(metrics.eval_loss).toBe(demo.loss);
      const predictions = readFileSync(join(evalOut, "predictions.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(predictions).toEqual(demo.predictions);
      expect(e.out()).toContain(formatEvalLines(demo).join("\n"));
    }
  }, 600_000); // minutes when the other test files share the two cores
});
