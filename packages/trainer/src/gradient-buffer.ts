// Gradients of the trainable parameters in one contiguous Float32Array (a view per parameter), summed
// over micro-batches. Contiguous so ZeRO-2's reduce-scatter works on buckets of it directly (the
// optimizer that owns it allocates it in memory the other ranks can read); JS memory so the norm and the
// update need no tensors.
import { sharedFloat32, splitLoop, valuesOf } from "@llava-ts/core/internal";
import type * as tf from "@tensorflow/tfjs-core";
import { TrainingError } from "./training-error.js";

export class GradientBuffer {
  readonly flat: Float32Array;
  /** Start of each parameter's gradient in `flat`. */
  readonly offsets: number[];
  readonly views: Float32Array[];
  /** Whether each parameter has received a gradient since the last `zero()` (torch: grad is not None). */
  readonly present: boolean[];

  /** `storage`, when given, becomes `flat` (ZeRO-2's shared contiguous buffer); it must hold Σ sizes values. */
  constructor(
    readonly sizes: readonly number[],
    storage?: Float32Array,
  ) {
    this.offsets = [];
    let n = 0;
    for (const s of sizes) {
      this.offsets.push(n);
      n += s;
    }
    if (storage && storage.length !== n)
      throw new TrainingError(`GradientBuffer: storage has ${storage.length} values, the parameters ${n}`);
    this.flat = storage ?? sharedFloat32(n); // shared: the optimizer's loops can use a second core
    this.views = sizes.map((s, i) => this.flat.subarray(this.offsets[i], this.offsets[i] + s));
    this.present = sizes.map(() => false);
  }

  /** Adds a gradient tensor (read synchronously; the caller still owns and disposes it). */
  add(i: number, grad: tf.Tensor): void {
    const data = valuesOf(grad); // on wasm a view of the heap: no copy to allocate
    const view = this.views[i];
    if (data.length !== view.length)
      throw new TrainingError(`gradient ${i} has ${data.length} values, expected ${view.length}`);
    if (!this.present[i]) {
      view.set(data);
      this.present[i] = true;
      return;
    }
    for (let k = 0; k < view.length; k++) view[k] += data[k];
  }

  /**
   * Adds `values` ([rows.length, rowSize]) into rows `rows` of parameter i's gradient, seen as
   * [size / rowSize, rowSize]: the gradient of a lookup of those rows. Repeated rows add up.
   */
  addRows(i: number, rows: Int32Array, values: Float32Array): void {
    const view = this.views[i];
    const rowSize = rows.length === 0 ? 0 : values.length / rows.length;
    if (!Number.isInteger(rowSize) || (rowSize > 0 && view.length % rowSize !== 0))
      throw new TrainingError(
        `row gradient for parameter ${i}: ${values.length} values for ${rows.length} rows do not divide its ${view.length}`,
      );
    const count = rowSize === 0 ? 0 : view.length / rowSize;
    if (!this.present[i]) {
      view.fill(0);
      this.present[i] = true;
    }
    for (let p = 0; p < rows.length; p++) {
      const r = rows[p];
      if (r < 0 || r >= count)
        throw new TrainingError(
          `row gradient for parameter ${i}: row ${r} at position ${p} is outside [0, ${count})`,
        );
      const to = r * rowSize;
      const from = p * rowSize;
      for (let j = 0; j < rowSize; j++) view[to + j] += values[from + j];
    }
  }

  zero(): void {
    this.flat.fill(0);
    this.present.fill(false);
  }

  /**
   * Marks every gradient absent without touching the values (the next `add` overwrites a view whole):
   * what the trainer does before each step, instead of zeroing ~100 M values. Absent views hold stale
   * values until `zeroAbsent()`.
   */
  reset(): void {
    this.present.fill(false);
  }

  /** Zeroes the views of absent gradients, for a consumer of `flat` as a whole (ZeRO-2's reduce-scatter). */
  zeroAbsent(): void {
    this.views.forEach((v, i) => {
      if (!this.present[i]) v.fill(0);
    });
  }

  /** The gradients the optimizer sees: undefined where no gradient arrived (torch skips those). */
  gradients(): (Float32Array | undefined)[] {
    return this.views.map((v, i) => (this.present[i] ? v : undefined));
  }

  /**
   * Σ g² over the present gradients' values in flat range [from, to) (default all; ZeRO-2: this rank's
   * partition), in double precision, long runs on two cores.
   */
  sumOfSquares(from = 0, to = this.flat.length): number {
    let s = 0;
    this.offsets.forEach((offset, i) => {
      const a = Math.max(from, offset);
      const b = Math.min(to, offset + this.sizes[i]);
      if (a < b && this.present[i]) s += splitLoop(sumOfSquaresPart, [this.flat.subarray(a, b)], b - a);
    });
    return s;
  }
}

/** torch.nn.utils.clip_grad_norm_'s factor for a global L2 norm: max_norm / (norm + 1e-6), at most 1. */
export function clipCoefficient(totalNorm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (totalNorm + 1e-6));
}

/** Σ x² over [from, to) of arrays[0], in double (also run by the second-core helper from its text). */
function sumOfSquaresPart(a: Float32Array[], from: number, to: number): number {
  const x = a[0];
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return s;
}
