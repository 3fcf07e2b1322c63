// PEFT's adapter file names (peft/utils/save_and_load.py, get_peft_model_state_dict): the in-memory
// names minus the adapter name, under the PeftModel prefix.
//   <path>.lora_A.default.weight              ↔ base_model.model.<path>.lora_A.weight
//   <path>.lora_B.default.weight              ↔ base_model.model.<path>.lora_B.weight
//   <path>.modules_to_save.default.<param>    ↔ base_model.model.<path>.<param>
//   <path>.original_module.<param>            — not saved
import { FormatError, type Module, type Parameter } from "@llava-ts/core";
import { loraLayers, modulesToSaveWrappers } from "./lora-layers.js";

export const PEFT_PREFIX = "base_model.model.";

/** The parameters saveAdapter writes, keyed by their names in the adapter file (the parameters themselves). */
export function adapterStateDict(model: Module): Map<string, Parameter> {
  const out = new Map<string, Parameter>();
  for (const [path, layer] of loraLayers(model)) {
    out.set(`${PEFT_PREFIX}${path}.lora_A.weight`, layer.weightA);
    out.set(`${PEFT_PREFIX}${path}.lora_B.weight`, layer.weightB);
  }
  for (const [path, w] of modulesToSaveWrappers(model))
    for (const [name, p] of w.trained.namedParameters(path)) out.set(`${PEFT_PREFIX}${name}`, p);
  return out;
}

export type AdapterKey =
  | { kind: "lora_A" | "lora_B"; module: string }
  /** A full parameter of a modules_to_save module: `name` is its path in the base model. */
  | { kind: "param"; name: string };

/** Classifies one adapter-file key; anything PEFT writes for features we lack is an error naming it. */
export function parseAdapterKey(key: string, file?: string): AdapterKey {
  if (!key.startsWith(PEFT_PREFIX))
    throw new FormatError(`key does not start with "${PEFT_PREFIX}" (is this a PEFT adapter?)`, file, key);
  const name = key.slice(PEFT_PREFIX.length);
  const m = /^(.+)\.(lora_A|lora_B)\.weight$/.exec(name);
  if (m) return { kind: m[2] as "lora_A" | "lora_B", module: m[1] };
  if (/\.(lora_[A-Za-z_]+|lora_magnitude_vector)(\.|$)/.test(name))
    throw new FormatError(
      "unsupported LoRA tensor (DoRA, embedding or conv LoRA are not implemented)",
      file,
      key,
    );
  return { kind: "param", name };
}
