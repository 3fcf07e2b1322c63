// Tolerance checks that say where the largest error is, so a failing parity test points at the bug.
import * as tf from "@tensorflow/tfjs-core";

export interface CloseOptions {
  /** Absolute tolerance (default 1e-4). */
  atol?: number;
  /** Relative tolerance applied where |expected| > 1 (default = atol), as the fixtures' README states. */
  rtol?: number;
  label?: string;
}

export interface CloseReport {
  maxAbs: number;
  maxIndex: number[];
  actual: number;
  expected: number;
  meanAbs: number;
}

function unravel(i: number, shape: readonly number[]): number[] {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(i % shape[d]);
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

type Arrayish = tf.Tensor | ArrayLike<number>;

function values(x: Arrayish): { data: ArrayLike<number>; shape: number[] } {
  if (x instanceof tf.Tensor) return { data: x.dataSync() as ArrayLike<number>, shape: x.shape };
  return { data: x, shape: [x.length] };
}

/** Compares element by element; returns the largest error and where it is. */
export function compareTensors(actual: Arrayish, expected: Arrayish): CloseReport {
  const a = values(actual);
  const e = values(expected);
  let maxAbs = -1;
  let at = 0;
  let sum = 0;
  for (let i = 0; i < e.data.length; i++) {
    const d = Math.abs(a.data[i] - e.data[i]);
    sum += d;
    if (d > maxAbs || Number.isNaN(d)) {
      maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      at = i;
    }
  }
  return {
    maxAbs,
    maxIndex: unravel(at, e.shape),
    actual: a.data[at],
    expected: e.data[at],
    meanAbs: sum / Math.max(1, e.data.length),
  };
}

/** Throws unless shapes agree and every |a - e| ≤ atol (or ≤ rtol·|e| where |e| > 1). */
export function expectTensorsClose(
  actual: Arrayish,
  expected: Arrayish,
  options: CloseOptions = {},
): CloseReport {
  const atol = options.atol ?? 1e-4;
  const rtol = options.rtol ?? atol;
  const label = options.label ? `${options.label}: ` : "";
  const a = values(actual);
  const e = values(expected);
  if (
    a.data.length !== e.data.length ||
    (actual instanceof tf.Tensor && expected instanceof tf.Tensor && a.shape.join() !== e.shape.join())
  )
    throw new Error(`${label}shape [${a.shape}] differs from expected [${e.shape}]`);
  let worst = -1;
  let at = 0;
  for (let i = 0; i < e.data.length; i++) {
    const d = Math.abs(a.data[i] - e.data[i]);
    const allowed = Math.abs(e.data[i]) > 1 ? rtol * Math.abs(e.data[i]) : atol;
    const excess = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d - allowed;
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  const report = compareTensors(actual, expected);
  if (worst > 0)
    throw new Error(
      `${label}not close: at [${unravel(at, e.shape)}] got ${a.data[at]}, expected ${e.data[at]} ` +
        `(|Δ| = ${Math.abs(a.data[at] - e.data[at])}, atol ${atol}); largest |Δ| ${report.maxAbs} at [${report.maxIndex}]`,
    );
  return report;
}
