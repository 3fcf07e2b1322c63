// What applyLora / loadAdapter did, per top-level part of the model, so a vision tower that quietly got
// adapters (the tutorial's pitfall) shows up in the first log line instead of in a bad eval.

export interface PartCount {
  /** Linear layers wrapped with LoRA. */
  wrapped: number;
  /** Layers target_modules matched but the scope left alone. */
  outOfScope: number;
}

export class LoraSummary {
  constructor(
    /** How the layers were chosen: "language_model", "all", a prefix list, or "adapter file". */
    readonly scope: string,
    readonly wrapped: readonly string[],
    readonly outOfScope: readonly string[],
    readonly modulesToSave: readonly string[],
    readonly trainableParameters: number,
    readonly totalParameters: number,
  ) {}

  /** Counts keyed by the first component of the module path ("language_model", "vision_tower", …). */
  get parts(): Record<string, PartCount> {
    const out: Record<string, PartCount> = {};
    const part = (name: string) => {
      const top = name.split(".")[0];
      out[top] ??= { wrapped: 0, outOfScope: 0 };
      return out[top];
    };
    for (const n of this.wrapped) part(n).wrapped++;
    for (const n of this.outOfScope) part(n).outOfScope++;
    return out;
  }

  toString(): string {
    const lines = [`LoRA on ${this.wrapped.length} linear layer(s), scope ${this.scope}:`];
    for (const [name, c] of Object.entries(this.parts)) {
      const skipped = c.outOfScope
        ? `; ${c.outOfScope} matched target_modules but are outside the scope`
        : "";
      lines.push(`  ${name}: ${c.wrapped} wrapped${skipped}`);
    }
    if (this.outOfScope.length) lines.push(`  (pass scope: "all" or a prefix list to include them)`);
    if (this.modulesToSave.length)
      lines.push(`modules_to_save (trained in full): ${this.modulesToSave.join(", ")}`);
    const pct = this.totalParameters
      ? ((100 * this.trainableParameters) / this.totalParameters).toFixed(2)
      : "0";
    lines.push(`trainable parameters: ${this.trainableParameters} of ${this.totalParameters} (${pct}%)`);
    return lines.join("\n");
  }
}
