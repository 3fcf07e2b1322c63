// Merging adapters into the base weights (PEFT's merge_adapter / unmerge_adapter / merge_and_unload).
import type { Module } from "@llava-ts/core";
import { loraLayers, modulesToSaveWrappers } from "./lora-layers.js";

/** W += (B A) · scaling in every LoRA layer; forward then skips the LoRA branch. Returns the layer count. */
export function mergeLora(model: Module): number {
  const layers = loraLayers(model).filter(([, l]) => !l.merged);
  for (const [, l] of layers) l.merge();
  return layers.length;
}

/** W -= (B A) · scaling in every merged LoRA layer (exact up to float32 rounding). */
export function unmergeLora(model: Module): number {
  const layers = loraLayers(model).filter(([, l]) => l.merged);
  for (const [, l] of layers) l.unmerge();
  return layers.length;
}

/**
 * Merges every adapter and puts plain modules back: each LoraLinear becomes its base Linear with merged
 * weights, each modules_to_save wrapper becomes its trained module. Trainable flags stay as they were
 * (frozen except the modules_to_save), as with PEFT; call `model.unfreeze()` for full fine-tuning.
 */
export function mergeAndUnload<M extends Module>(model: M): M {
  for (const [path, layer] of loraLayers(model)) model.setSubmodule(path, layer.fuse());
  unwrapModulesToSave(model);
  return model;
}

/** Removes the adapters without merging them: the base model as it was (modules_to_save keep their trained weights). */
export function unloadLora<M extends Module>(model: M): M {
  for (const [path, layer] of loraLayers(model)) model.setSubmodule(path, layer.unload());
  unwrapModulesToSave(model);
  return model;
}

function unwrapModulesToSave(model: Module): void {
  for (const [path, w] of modulesToSaveWrappers(model)) model.setSubmodule(path, w.unwrap());
}
