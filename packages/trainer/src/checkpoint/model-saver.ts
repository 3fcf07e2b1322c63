// How a checkpoint stores the model: HF layout for full training (config.json + model.safetensors, via
// the model's own savePretrained when it has one), PEFT layout for LoRA (the lora package's functions).
import { join } from "node:path";
import { loadSafetensorsWeights, type Module, saveSafetensorsWeights, WeightLoadError } from "@llava-ts/core";
import { loadAdapter, saveAdapter } from "@llava-ts/lora";

export interface ModelSaver {
  /** Writes the weights a resumed run needs (at least every trainable parameter) into `dir`. */
  save(dir: string): Promise<void>;
  /** Reads them back into the same model. */
  load(dir: string): void | Promise<void>;
}

interface Pretrained {
  savePretrained(dir: string): Promise<void>;
}

/**
 * The whole model as `model.safetensors` under its HF keys (sharded past 5 GB); with `savePretrained`
 * when the model has it, so the folder also has config.json and loads in transformers.
 */
export function fullModelSaver(model: Module): ModelSaver {
  return {
    async save(dir) {
      const p = model as unknown as Partial<Pretrained>;
      if (typeof p.savePretrained === "function") await p.savePretrained(dir);
      else await saveSafetensorsWeights(model, dir);
    },
    load(dir) {
      loadSafetensorsWeights(model, dir, { strict: true });
    },
  };
}

/** Adapter-style saving from a pair of functions (e.g. the lora package's saveAdapter / loadAdapter). */
export function adapterSaver(
  save: (dir: string) => Promise<void>,
  load: (dir: string) => void | Promise<void>,
): ModelSaver {
  return { save, load };
}

/** Only the trainable parameters, under the module's own names, as `trainable.safetensors`. */
export function trainableSaver(model: Module): ModelSaver {
  const trainable = () => new Set(model.trainableParameters().map(([n]) => n));
  return {
    async save(dir) {
      const names = trainable();
      await saveSafetensorsWeights(model, dir, { prefix: "trainable", include: (n) => names.has(n) });
    },
    load(dir) {
      const file = join(dir, "trainable.safetensors");
      const { missing, unexpected } = loadSafetensorsWeights(model, file, { strict: false });
      const names = trainable();
      const lacking = missing.filter((n) => names.has(n));
      if (lacking.length || unexpected.length) throw new WeightLoadError(lacking, unexpected, [], file);
    },
  };
}

const LORA_PARAM = /(^|\.)lora_[AB]\./;
/** What a PEFT adapter file holds: LoRA weights and the trained copies of modules_to_save. */
const IN_ADAPTER = (name: string) => LORA_PARAM.test(name) || /(^|\.)modules_to_save\./.test(name);
const EXTRA_PREFIX = "trainable_extra";

/**
 * PEFT layout (adapter_config.json + adapter_model.safetensors) through the lora package. Trainable
 * parameters an adapter cannot hold (e.g. a projector trained without modules_to_save) go beside it in
 * trainable_extra.safetensors, so resuming stays exact. Loading keeps the trainer's trainable flags.
 */
export function loraAdapterSaver(model: Module): ModelSaver {
  const extras = () =>
    new Set(
      model
        .trainableParameters()
        .map(([n]) => n)
        .filter((n) => !IN_ADAPTER(n)),
    );
  return {
    async save(dir) {
      await saveAdapter(model, dir);
      const names = extras();
      if (names.size)
        await saveSafetensorsWeights(model, dir, { prefix: EXTRA_PREFIX, include: (n) => names.has(n) });
    },
    load(dir) {
      const flags = new Map([...model.namedParameters()].map(([n, p]) => [n, p.trainable]));
      const names = extras();
      loadAdapter(model, dir, { trainable: true });
      for (const [n, p] of model.namedParameters()) p.trainable = flags.get(n) ?? p.trainable;
      if (names.size) {
        const file = join(dir, `${EXTRA_PREFIX}.safetensors`);
        const { missing } = loadSafetensorsWeights(model, file, { strict: false });
        const lacking = missing.filter((n) => names.has(n));
        if (lacking.length) throw new WeightLoadError(lacking, [], [], file);
      }
    },
  };
}

/** LoRA layers present → the PEFT adapter format; otherwise the full model in HF layout. */
export function defaultSaver(model: Module): ModelSaver {
  const lora = [...model.namedParameters()].some(([n]) => LORA_PARAM.test(n));
  return lora ? loraAdapterSaver(model) : fullModelSaver(model);
}
