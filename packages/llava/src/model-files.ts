// A usable model folder is its weights and config.json plus the files the processor and generation read:
// tokenizer, chat template, preprocessor and processor configs, generation config.
import { nodeBuiltin } from "@llava-ts/files";

/** Whether `name` is a weights file of a checkpoint folder (a safetensors file or the shard index). */
export function isWeightFile(name: string): boolean {
  return name.endsWith(".safetensors") || name === "model.safetensors.index.json";
}

/**
 * The files besides weights and config.json that make a model folder (what save_pretrained of the model,
 * its tokenizer, processor and generation config writes), plus llava-ts' record of the prompt layout the
 * model was trained with. A folder's other files — a training run's metrics.jsonl, loss curve,
 * trainer_state.json, an adapter — describe something else and are never carried along.
 */
export const MODEL_FILES: readonly string[] = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "vocab.json",
  "merges.txt",
  "chat_template.json",
  "chat_template.jinja",
  "preprocessor_config.json",
  "processor_config.json",
  "generation_config.json",
  "prompt_format.json",
];

/**
 * Copies the MODEL_FILES `from` has to `to` (files `to` has already are kept): what makes a folder of
 * trained weights a model that loads and runs. Returns the names copied.
 */
export function copyModelFiles(from: string, to: string): string[] {
  const { copyFileSync, existsSync, readdirSync } = nodeBuiltin(
    "node:fs",
    `copying the model files of ${from}`,
  );
  const { join } = nodeBuiltin("node:path", `copying the model files of ${from}`);
  const copied: string[] = [];
  for (const name of readdirSync(from, { withFileTypes: true })) {
    if (!name.isFile() || !MODEL_FILES.includes(name.name)) continue;
    if (existsSync(join(to, name.name))) continue;
    copyFileSync(join(from, name.name), join(to, name.name));
    copied.push(name.name);
  }
  return copied;
}
