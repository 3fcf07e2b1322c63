// torch.nn.ModuleDict: children keyed by adapter name, so parameter names read "lora_A.default.weight"
// exactly as PEFT's.
import { Module } from "@llava-ts/core";

export class ModuleDict<M extends Module> extends Module {
  constructor(entries: Record<string, M> = {}) {
    super();
    for (const [name, m] of Object.entries(entries)) this.module(name, m);
  }
  get(name: string): M {
    return this.getSubmodule(name) as M;
  }
}
