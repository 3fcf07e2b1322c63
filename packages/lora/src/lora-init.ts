// LoRA weight initialisation as PEFT's LoraLayer.reset_lora_parameters, from a seeded Rng.
import { type Initializer, normalInit, type Rng, size, zerosInit } from "@llava-ts/core";
import type { InitLoraWeights } from "./lora-config.js";

/** torch.nn.init.kaiming_uniform_(w, a=√5) on a [out, in] weight: U(-1/√in, 1/√in). */
export function kaimingUniformInit(rng: Rng): Initializer {
  return (shape) => {
    const bound = 1 / Math.sqrt(shape[1]);
    const out = new Float32Array(size(shape));
    for (let i = 0; i < out.length; i++) out[i] = (2 * rng.next() - 1) * bound;
    return out;
  };
}

/**
 * Initialisers for lora_A [r, in] and lora_B [out, r]. true: kaiming A, zero B (the adapter starts as a
 * no-op); "gaussian": A ~ N(0, 1/r²), zero B; false: torch's default Linear init for both (not a no-op).
 */
export function loraInitializers(
  mode: InitLoraWeights,
  r: number,
  rng: Rng,
): { a: Initializer; b: Initializer } {
  if (mode === "gaussian") return { a: normalInit(1 / r, rng), b: zerosInit };
  if (mode === false) return { a: kaimingUniformInit(rng), b: kaimingUniformInit(rng) };
  return { a: kaimingUniformInit(rng), b: zerosInit };
}
