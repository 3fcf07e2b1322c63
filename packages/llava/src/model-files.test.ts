import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { copyModelFiles } from "./model-files.js";

describe("copyModelFiles", () => {
  it("carries the tokenizer, processor and generation files, never a run's records or weights", () => {
    const root = mkdtempSync(join(tmpdir(), "llava-model-files-"));
    const from = join(root, "trained");
    const to = join(root, "merged");
    mkdirSync(join(from, "checkpoint-10"), { recursive: true });
    mkdirSync(to);
    const model = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "preprocessor_config.json"];
    const run = ["metrics.jsonl", "loss-curve.png", "trainer_state.json", "adapter_config.json", "notes.txt"];
    for (const f of [...model, ...run, "config.json", "model.safetensors", "generation_config.json"])
      writeFileSync(join(from, f), f);
    writeFileSync(join(to, "generation_config.json"), "the merged model's own");

    const copied = copyModelFiles(from, to);
    expect(copied.sort()).toEqual([...model].sort());
    expect(readdirSync(to).sort()).toEqual([...model, "generation_config.json"].sort());
    expect(readFileSync(join(to, "generation_config.json"), "utf8")).toBe("the merged model's own");
  });
});
