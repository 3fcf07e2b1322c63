// The two key layouts of HF LLaVA checkpoints. transformers ≥ 4.52 wraps the parts in a LlavaModel under
// `model.` and moves the head up (`model.language_model.*`, `model.vision_tower.*`,
// `model.multi_modal_projector.*`, `lm_head.*`); earlier releases — and this package's modules — use
// `language_model.model.*`, `vision_tower.*`, `multi_modal_projector.*`, `language_model.lm_head.*`.
// transformers converts on load with LlavaForConditionalGeneration._checkpoint_conversion_mapping
// (models/llava/modeling_llava.py): the first pattern that matches a key renames it. These are its rules.

export type CheckpointLayout = "legacy" | "current";

/** legacy → current, in transformers' order (its `_checkpoint_conversion_mapping`). */
const TO_CURRENT: readonly (readonly [RegExp, string])[] = [
  [/^language_model\.model/, "model.language_model"],
  [/^vision_tower/, "model.vision_tower"],
  [/^multi_modal_projector/, "model.multi_modal_projector"],
  [/^language_model\.lm_head/, "lm_head"],
];

/** current → legacy: the same rules reversed, as transformers reverses them to save the original keys. */
const TO_LEGACY: readonly (readonly [RegExp, string])[] = [
  [/^model\.language_model/, "language_model.model"],
  [/^model\.vision_tower/, "vision_tower"],
  [/^model\.multi_modal_projector/, "multi_modal_projector"],
  [/^lm_head/, "language_model.lm_head"],
];

function firstRule(rules: readonly (readonly [RegExp, string])[], key: string): string {
  for (const [pattern, replacement] of rules) if (pattern.test(key)) return key.replace(pattern, replacement);
  return key;
}

/** A legacy key in transformers ≥ 4.52's layout ("language_model.model.norm.weight" → "model.language_model.norm.weight"). */
export function toCurrentKey(key: string): string {
  return firstRule(TO_CURRENT, key);
}

/** Any LLaVA checkpoint key in the legacy layout these modules use; legacy keys pass unchanged. */
export function toLegacyKey(key: string): string {
  return firstRule(TO_LEGACY, key);
}

/** Which layout a checkpoint's keys are in (current if any key has the `model.` wrapper). */
export function checkpointLayout(keys: Iterable<string>): CheckpointLayout {
  for (const k of keys)
    if (/^model\.(language_model|vision_tower|multi_modal_projector)\./.test(k)) return "current";
  return "legacy";
}
