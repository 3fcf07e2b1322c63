// applyLora: PEFT's get_peft_model for LoRA, with one deliberate difference: by default only the language
// model takes adapters. Suffixes like "q_proj" also match CLIP's attention, which silently puts adapters
// into a vision tower meant to stay frozen; here that takes an explicit scope.
import { ConfigError, Linear, type Module, Rng } from "@llava-ts/core";
import { type LoraConfig, type LoraConfigInput, loraConfig } from "./lora-config.js";
import {
  findModulesToSave,
  layerSeed,
  loraLayers,
  markTrainable,
  wrapModuleToSave,
  wrapWithLora,
} from "./lora-layers.js";
import { LoraSummary } from "./lora-summary.js";
import { exactTargetRegex, matchesTargetModules } from "./target-modules.js";

/** "language_model" (default; the whole model if it has no such child), "all", or module-path prefixes. */
export type LoraScope = "language_model" | "all" | readonly string[];

export interface ApplyLoraOptions {
  scope?: LoraScope;
  /** Seeds the initial LoRA weights and the dropout streams (default 0). */
  seed?: number;
}

/** PEFT's default target_modules for qwen2 and llava (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export const DEFAULT_TARGET_MODULES = ["q_proj", "v_proj"] as const;

/**
 * Wraps the Linear layers that `config.target_modules` selects within `scope` in LoraLinear, wraps
 * `modules_to_save` in ModulesToSaveWrapper, and freezes everything else. Returns what was done.
 */
export function applyLora(
  model: Module,
  input: LoraConfig | LoraConfigInput,
  options: ApplyLoraOptions = {},
): LoraSummary {
  const config = loraConfig(input);
  if (loraLayers(model).length)
    throw new ConfigError("the model already has LoRA adapters (one adapter per model is supported)");
  const targets = config.target_modules ?? [...DEFAULT_TARGET_MODULES];
  const { prefixes, label } = resolveScope(model, options.scope ?? "language_model");
  const saved = findModulesToSave(model, config.modules_to_save);

  const inScope: string[] = [];
  const outOfScope: string[] = [];
  const modules = [...model.namedModules()].map(([path]) => path).filter((path) => path !== "");
  for (const path of modules) {
    if (!matchesTargetModules(path, targets)) continue;
    if (saved.some((s) => path === s || path.startsWith(`${s}.`))) continue; // trained in full anyway
    (prefixes === null || prefixes.some((p) => path === p || path.startsWith(`${p}.`))
      ? inScope
      : outOfScope
    ).push(path);
  }
  if (inScope.length === 0) throw noMatchError(model, targets, outOfScope, label);

  // Check every target before changing anything, so a bad config leaves the model as it was.
  for (const path of inScope) {
    const m = model.getSubmodule(path);
    if (!(m instanceof Linear))
      throw new ConfigError(
        `target_modules selects "${path}", a ${m.constructor.name}; only Linear layers can take LoRA`,
        "target_modules",
      );
  }
  // What the adapter file says: a regex PEFT's whole-model matching turns into exactly these layers.
  const resolved: LoraConfig = {
    ...config,
    target_modules: exactTargetRegex(inScope, modules, targets, prefixes),
  };
  const rng = new Rng(options.seed ?? 0);
  inScope.forEach((path, i) => {
    wrapWithLora(model, path, resolved, rng, layerSeed(options.seed ?? 0, i));
  });
  for (const path of saved) wrapModuleToSave(model, path, resolved);
  markTrainable(model, true);
  return new LoraSummary(
    label,
    inScope,
    outOfScope,
    saved,
    model.numParameters({ trainableOnly: true }),
    model.numParameters(),
  );
}

function resolveScope(model: Module, scope: LoraScope): { prefixes: string[] | null; label: string } {
  if (scope === "all") return { prefixes: null, label: "all" };
  if (scope === "language_model") {
    const has = model.children().some(([n]) => n === "language_model");
    return has ? { prefixes: ["language_model"], label: "language_model" } : { prefixes: null, label: "all" };
  }
  if (!Array.isArray(scope) || scope.length === 0)
    throw new ConfigError(
      `scope: expected "language_model", "all" or a list of module prefixes, found ${JSON.stringify(scope)}`,
    );
  for (const p of scope) {
    try {
      model.getSubmodule(p);
    } catch {
      throw new ConfigError(
        `scope: no module "${p}" (top-level modules: ${model
          .children()
          .map(([n]) => n)
          .join(", ")})`,
      );
    }
  }
  return { prefixes: [...scope], label: JSON.stringify(scope) };
}

function noMatchError(
  model: Module,
  targets: readonly string[] | string,
  outOfScope: string[],
  scope: string,
): Error {
  const shown = JSON.stringify(targets);
  if (outOfScope.length)
    return new ConfigError(
      `target_modules ${shown} matched ${outOfScope.length} module(s), all outside the scope ${scope} ` +
        `(e.g. ${outOfScope.slice(0, 3).join(", ")}); pass scope: "all" or a prefix list to include them`,
      "target_modules",
    );
  const linears = [...model.namedModules()].filter(([, m]) => m instanceof Linear).map(([n]) => n);
  const suffixes = [...new Set(linears.map((n) => n.split(".").pop()!))];
  return new ConfigError(
    `target_modules ${shown} matches no module. Linear layers are named e.g. ` +
      `${linears.slice(0, 5).join(", ")}${linears.length > 5 ? ", …" : ""} (suffixes: ${suffixes.join(", ")})`,
    "target_modules",
  );
}
