// Core modules have no train/eval switch; LoRA dropout needs one, so it is set here for every layer.
import type { Module } from "@llava-ts/core";
import { loraLayers } from "./lora-layers.js";

/** Turns LoRA dropout on (training) or off (evaluation, the default) in every LoRA layer. */
export function setLoraTraining(model: Module, training: boolean): void {
  for (const [, layer] of loraLayers(model)) layer.training = training;
}
