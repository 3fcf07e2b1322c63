// Every random stream a resumed run must continue: the trainer's Rng and any Rng a module owns (LoRA
// dropout keeps one per layer), saved as their 32-bit states by module path and property name.
import type { Module, Rng } from "@llava-ts/core";
import { TrainingError } from "../training-error.js";

export interface RngStateJson {
  seed: number;
  state: number;
  /** "<module path>:<property>" → state, e.g. "language_model.model.layers.0.self_attn.q_proj:dropoutRng". */
  modules: Record<string, number>;
}

export function captureRngState(rng: Rng, seed: number, model: Module): RngStateJson {
  const modules: Record<string, number> = {};
  for (const [k, r] of model.namedRandomStreams()) modules[k] = r.state;
  return { seed, state: rng.state, modules };
}

export function restoreRngState(json: RngStateJson, rng: Rng, model: Module, file: string): void {
  if (typeof json.state !== "number") throw new TrainingError(`${file}: no "state" number`);
  rng.state = json.state;
  const rngs = new Map(model.namedRandomStreams());
  for (const [k, state] of Object.entries(json.modules ?? {})) {
    const r = rngs.get(k);
    if (!r) throw new TrainingError(`${file}: the model has no random stream "${k}" to restore`);
    r.state = state;
  }
}
