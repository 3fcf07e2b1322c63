// Weights holding NaN or ±Inf load (as in torch), and every output computed from them is then NaN — an
// answer of "!!!" with no hint why. They are counted as they are first widened and warned about once per
// tensor, naming it; rows read again later (an offloaded layer, a vocabulary chunk) are not rescanned.

interface Scan {
  checked: Uint8Array; // per row: scanned already
  values: number;
  bad: number;
  warned: boolean;
}

// By file and tensor name for weights read from a file (however often they are reopened), by object for
// values held in memory.
const byName = new Map<string, Scan>();
const byObject = new WeakMap<object, Scan>();

export interface FiniteCheck {
  /** What identifies the tensor: its origin string for file tensors, the holding object otherwise. */
  key: string | object;
  /** How the warning names it, e.g. `model.safetensors: tensor "lm_head.weight"`. */
  origin: string;
  /** Rows of the whole tensor (1 for a tensor read whole), where `data` starts among them, and its rows. */
  totalRows: number;
  start?: number;
  rows?: number;
}

/** Counts the non-finite values in `data` (whole rows of the tensor) the first time each row is seen. */
export function checkFinite(data: Float32Array, c: FiniteCheck): void {
  const start = c.start ?? 0;
  const key = typeof c.key === "string" ? `${c.key}\0${c.totalRows}` : c.key;
  let scan = typeof key === "string" ? byName.get(key) : byObject.get(key);
  if (!scan) {
    scan = { checked: new Uint8Array(Math.max(1, c.totalRows)), values: 0, bad: 0, warned: false };
    if (typeof key === "string") byName.set(key, scan);
    else byObject.set(key, scan);
  }
  const rows = Math.max(1, Math.min(c.rows ?? c.totalRows - start, scan.checked.length - start));
  const perRow = Math.floor(data.length / rows);
  for (let r = 0; r < rows; r++) {
    if (scan.checked[start + r]) continue;
    scan.checked[start + r] = 1;
    for (let i = r * perRow; i < (r + 1) * perRow; i++) if (data[i] - data[i] !== 0) scan.bad++; // NaN, ±Inf
    scan.values += perRow;
  }
  if (scan.bad > 0 && !scan.warned) {
    scan.warned = true;
    console.warn(
      `llava-ts: warning: ${c.origin} has ${scan.bad} non-finite value(s) (NaN or ±Inf) among ${scan.values}`,
    );
  }
}
