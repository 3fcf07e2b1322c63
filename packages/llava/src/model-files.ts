// A usable model folder is its weights and config.json plus the files the processor and generation read:
// tokenizer, chat template, preprocessor and processor configs, generation config.
import { nodeBuiltin } from "@llava-ts/files";

/** Whether `name` is a weights file of a checkpoint folder (a safetensors file or the shard index). */
export function isWeightFile(name: string): boolean {
  return name.endsWith(".safetensors") || name === "model.safetensors.index.json";
}

/**
 * Copies everything but the weights and config.json from `from` to `to` (files `to` has already are
 * kept): what makes a folder of trained weights a model that loads and runs. Returns the names copied.
 */
export function copyModelFiles(from: string, to: string): string[] {
  const { copyFileSync, existsSync, readdirSync } = nodeBuiltin(
    "node:fs",
    `copying the model files of ${from}`,
  );
  const { join } = nodeBuiltin("node:path", `copying the model files of ${from}`);
  const copied: string[] = [];
  for (const name of readdirSync(from, { withFileTypes: true })) {
    if (!name.isFile() || isWeightFile(name.name) || name.name === "config.json") continue;
    if (existsSync(join(to, name.name))) continue;
    copyFileSync(join(from, name.name), join(to, name.name));
    copied.push(name.name);
  }
  return copied;
}
