// How a checkpoint stores the model: HF layout for full training (config.json + model.safetensors, via
// the model's own savePretrained when it has one), PEFT layout for LoRA (the lora package's functions).
import { join } from "node:path";
import { loadSafetensorsWeights, type Module, saveSafetensorsWeights, WeightLoadError } from "@llava-ts/core";

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

/** LoRA layers present → their weights and modules_to_save (trainableSaver until the adapter format is wired); else the full model. */
export function defaultSaver(model: Module): ModelSaver {
  const lora = [...model.namedParameters()].some(([n]) => /(^|\.)lora_[AB]\./.test(n));
  return lora ? trainableSaver(model) : fullModelSaver(model);
}
