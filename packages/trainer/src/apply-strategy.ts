// The four training strategies of the reference tutorial (--train-type), as trainable flags on the
// parameters of a LLaVA model whose children are vision_tower, multi_modal_projector, language_model.
import type { Module } from "@llava-ts/core";
import { applyLora, type LoraConfig, type LoraConfigInput } from "@llava-ts/lora";
import { TrainingError } from "./training-error.js";

export type Strategy = "use_lora" | "freeze_vision" | "none" | "projector_only";

export const STRATEGIES: readonly Strategy[] = ["use_lora", "freeze_vision", "none", "projector_only"];

export interface StrategyOptions {
  /**
   * use_lora, when the model has no LoRA layers yet: a LoRA config to apply (PEFT keys, e.g. r, lora_alpha,
   * target_modules, modules_to_save), or a function adding them (e.g. loading an adapter).
   */
  lora?: LoraConfig | LoraConfigInput | ((model: Module) => void);
  /** use_lora: keep the projector frozen even when it is in modules_to_save. */
  freezeProjector?: boolean;
  /** Modules (path prefixes) kept frozen whatever the strategy, e.g. "language_model.model.embed_tokens". */
  freeze?: readonly string[];
}

export interface PartSummary {
  trainable: number;
  total: number;
}

export interface StrategySummary {
  strategy: Strategy;
  /** Parameter counts (values, not tensors) per top-level child: vision_tower, multi_modal_projector, … */
  parts: Record<string, PartSummary>;
  trainable: number;
  total: number;
}

/** LoRA weights as the lora package names them (PEFT's `lora_A.default.weight`). */
const LORA_PARAM = /(^|\.)lora_[AB]\./;
/** The trained copy of a modules_to_save wrapper (its `original_module` stays frozen). */
const SAVED_PARAM = /(^|\.)modules_to_save\./;

const PARTS = ["vision_tower", "multi_modal_projector", "language_model"] as const;

/** Sets every parameter's trainable flag for `strategy` and returns the resulting counts. */
export function applyStrategy(
  model: Module,
  strategy: Strategy,
  options: StrategyOptions = {},
): StrategySummary {
  if (!STRATEGIES.includes(strategy))
    throw new TrainingError(`unknown strategy "${strategy}"; expected one of ${STRATEGIES.join(", ")}`);
  const children = new Set(model.children().map(([name]) => name));
  const missing = PARTS.filter((p) => !children.has(p));
  if (missing.length)
    throw new TrainingError(
      `applyStrategy: the model has no ${missing.join(", ")} (children: ${[...children].join(", ")})`,
    );

  if (strategy === "use_lora") {
    const hasLora = () => [...model.namedParameters()].some(([n]) => LORA_PARAM.test(n));
    const lora = options.lora;
    if (!hasLora() && lora) typeof lora === "function" ? lora(model) : applyLora(model, lora);
    if (!hasLora())
      throw new TrainingError(
        'strategy "use_lora": the model has no LoRA layers; pass { lora } or apply an adapter first',
      );
    model.freeze();
    // The projector trains as in the tutorial: its modules_to_save copy, or the module itself when unwrapped.
    const projector = (n: string) =>
      n.startsWith("multi_modal_projector.") && !n.includes(".original_module.");
    model.unfreeze((n) => LORA_PARAM.test(n) || SAVED_PARAM.test(n) || projector(n));
    if (options.freezeProjector) model.freeze("multi_modal_projector");
  } else {
    model.unfreeze();
    if (strategy === "freeze_vision") model.freeze("vision_tower");
    if (strategy === "projector_only") {
      model.freeze();
      model.unfreeze("multi_modal_projector");
    }
  }
  for (const prefix of options.freeze ?? []) model.freeze(prefix);
  return summarizeTrainable(model, strategy);
}

export function summarizeTrainable(model: Module, strategy: Strategy): StrategySummary {
  const parts: Record<string, PartSummary> = {};
  let trainable = 0;
  let total = 0;
  for (const [name, p] of model.namedParameters()) {
    const part = name.split(".")[0];
    parts[part] ??= { trainable: 0, total: 0 };
    parts[part].total += p.size;
    total += p.size;
    if (p.trainable) {
      parts[part].trainable += p.size;
      trainable += p.size;
    }
  }
  return { strategy, parts, trainable, total };
}

/** One line per part, e.g. "vision_tower: 0 / 303,507,456 trainable". */
export function formatStrategySummary(s: StrategySummary): string {
  const fmt = (n: number) => n.toLocaleString("en-US");
  const lines = [`strategy ${s.strategy}: ${fmt(s.trainable)} of ${fmt(s.total)} parameters train`];
  for (const [part, c] of Object.entries(s.parts))
    lines.push(`  ${part}: ${fmt(c.trainable)} / ${fmt(c.total)}`);
  return lines.join("\n");
}
