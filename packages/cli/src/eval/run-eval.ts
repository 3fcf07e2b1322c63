// `llava eval`: a model (and adapter) on a dataset → loss, perplexity, exact match, BLEU-4 and CIDEr-D,
// with HF's eval_results.json and a JSONL of predictions in --output-dir.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { type DatasetSpec, LlavaDataset } from "@llava-ts/datasets";
import type { PreprocessMode } from "@llava-ts/processor";
import type { CliIO } from "../io.js";
import { type GenerationSettings, LlavaSession } from "../llava-session.js";
import { prepareOutputDir } from "../output-dir.js";
import { type EvalResult, evaluate } from "./evaluate.js";

export interface EvalCommandOptions {
  model: string;
  adapter?: string;
  merged?: boolean;
  data: DatasetSpec;
  batchSize?: number;
  generation?: GenerationSettings;
  lossOnly?: boolean;
  imageMode?: PreprocessMode;
  /** Cut longer records to this many tokens (as `llava train --model-max-length` does). */
  modelMaxLength?: number;
  /** eval_results.json and predictions.jsonl go here. */
  outputDir?: string;
  /** Print the metrics as one JSON object instead of the summary lines. */
  json?: boolean;
}

export async function runEval(o: EvalCommandOptions, io: CliIO): Promise<EvalResult> {
  if (o.outputDir)
    prepareOutputDir("eval", "--output-dir", o.outputDir, [
      { flag: "--model", path: o.model, holds: "the model" },
      ...(o.adapter ? [{ flag: "--adapter", path: o.adapter, holds: "the adapter" }] : []),
    ]);
  await initBackend();
  const session = await LlavaSession.load(o.model, { adapter: o.adapter, merge: o.merged });
  const dataset = LlavaDataset.open(o.data);
  let result: EvalResult;
  try {
    io.stderr.write(
      `evaluating ${o.model}${o.adapter ? ` + ${o.adapter}` : ""} on ${dataset.length} records…\n`,
    );
    result = await evaluate(session, dataset, {
      batchSize: o.batchSize,
      generation: o.generation,
      lossOnly: o.lossOnly,
      imageMode: o.imageMode,
      modelMaxLength: o.modelMaxLength,
    });
  } finally {
    dataset.close();
    session.dispose();
  }
  const metrics = evalMetrics(result);
  if (o.outputDir) {
    writeFileSync(join(o.outputDir, "eval_results.json"), `${JSON.stringify(metrics, null, 2)}\n`);
    if (!o.lossOnly)
      writeFileSync(
        join(o.outputDir, "predictions.jsonl"),
        result.predictions.map((p) => `${JSON.stringify(p)}\n`).join(""),
      );
  }
  if (o.json) io.stdout.write(`${JSON.stringify(metrics)}\n`);
  else {
    io.stdout.write(`${formatEvalLines(result).join("\n")}\n`);
    if (o.outputDir)
      io.stdout.write(
        `written: ${join(o.outputDir, "eval_results.json")}${o.lossOnly ? "" : `, ${join(o.outputDir, "predictions.jsonl")}`}\n`,
      );
  }
  return result;
}

/** HF's eval_results.json keys (eval_loss, eval_samples, perplexity) plus the generation metrics. */
export function evalMetrics(r: EvalResult): Record<string, number> {
  const m: Record<string, number> = {
    eval_loss: r.loss,
    perplexity: r.perplexity,
    eval_samples: r.samples,
    eval_skipped: r.skipped,
  };
  if (r.scores) {
    m.exact_match = r.scores.exactMatch;
    m.bleu4 = r.scores.bleu4;
    m.cider = r.scores.cider;
  }
  return m;
}

/** The summary lines `llava eval` and `pnpm demo` print. */
export function formatEvalLines(r: EvalResult): string[] {
  const lines = [
    `${r.samples} records${r.skipped ? ` (${r.skipped} skipped)` : ""}: eval_loss ${r.loss.toFixed(4)}, perplexity ${r.perplexity.toFixed(3)}`,
  ];
  if (r.scores)
    lines.push(
      `exact match ${(100 * r.scores.exactMatch).toFixed(1)}%, BLEU-4 ${r.scores.bleu4.toFixed(4)}, CIDEr-D ${r.scores.cider.toFixed(4)}`,
    );
  return lines;
}
