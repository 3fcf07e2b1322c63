// One base class for every error llava-ts throws; subclasses carry the context needed to act on them.
// Branded, so `e instanceof DataError` holds whichever copy of this package threw it.
import { brandClass } from "./brand-class.js";

export class LlavaError extends Error {
  override name = "LlavaError";
  static {
    brandClass(LlavaError, "@llava-ts/errors:LlavaError");
  }
}

/** A config.json value that is missing, of the wrong type, or inconsistent with another key. */
export class ConfigError extends LlavaError {
  override name = "ConfigError";
  static {
    brandClass(ConfigError, "@llava-ts/errors:ConfigError");
  }
  constructor(
    message: string,
    readonly key?: string,
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
  }
}

/** A tensor whose shape is not what an operation needs; the message gives both shapes. */
export class ShapeError extends LlavaError {
  override name = "ShapeError";
  static {
    brandClass(ShapeError, "@llava-ts/errors:ShapeError");
  }
  constructor(
    message: string,
    readonly expected?: readonly (number | string)[],
    readonly found?: readonly number[],
  ) {
    super(message);
  }
}

export interface WeightMismatch {
  key: string;
  expected: readonly number[];
  found: readonly number[];
}

/** A state dict that does not fit a module: lists missing, unexpected and wrong-shaped keys. */
export class WeightLoadError extends LlavaError {
  override name = "WeightLoadError";
  static {
    brandClass(WeightLoadError, "@llava-ts/errors:WeightLoadError");
  }
  constructor(
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
    readonly mismatched: readonly WeightMismatch[],
    readonly source?: string,
  ) {
    super(WeightLoadError.describe(missing, unexpected, mismatched, source));
  }

  private static describe(
    missing: readonly string[],
    unexpected: readonly string[],
    mismatched: readonly WeightMismatch[],
    source?: string,
  ): string {
    const list = (xs: readonly string[]) =>
      xs.slice(0, 20).join(", ") + (xs.length > 20 ? `, … (${xs.length - 20} more)` : "");
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.length} key(s): ${list(missing)}`);
    if (unexpected.length) parts.push(`unexpected ${unexpected.length} key(s): ${list(unexpected)}`);
    if (mismatched.length)
      parts.push(
        `wrong shape for ${mismatched.length} key(s): ${list(
          mismatched.map((m) => `${m.key} (expected [${m.expected}], found [${m.found}])`),
        )}`,
      );
    return `${source ? `${source}: ` : ""}state dict does not fit the model: ${parts.join("; ")}`;
  }
}

/** A file that is not what its format says: truncated, out-of-range offsets, unknown dtype. */
export class FormatError extends LlavaError {
  override name = "FormatError";
  static {
    brandClass(FormatError, "@llava-ts/errors:FormatError");
  }
  constructor(
    message: string,
    readonly file?: string,
    readonly tensor?: string,
  ) {
    super(`${file ? `${file}: ` : ""}${tensor ? `tensor "${tensor}": ` : ""}${message}`);
  }
}

/** A dataset record or image that cannot be used; names the file and the record index. */
export class DataError extends LlavaError {
  override name = "DataError";
  static {
    brandClass(DataError, "@llava-ts/errors:DataError");
  }
  constructor(
    message: string,
    readonly file?: string,
    readonly record?: number,
    readonly reason?: string,
  ) {
    super(
      `${file ? file : ""}${record !== undefined ? `${file ? " " : ""}record ${record}` : ""}${file || record !== undefined ? ": " : ""}${message}`,
    );
  }
}

/**
 * The wasm heap (wasm32: 4 GiB at most) cannot hold an allocation. `requested` is the size asked for in
 * bytes, `heap` the heap's size when it failed; the message says both, and what to try.
 */
export class OutOfMemoryError extends LlavaError {
  override name = "OutOfMemoryError";
  static {
    brandClass(OutOfMemoryError, "@llava-ts/errors:OutOfMemoryError");
  }
  constructor(
    message: string,
    readonly requested?: number,
    readonly heap?: number,
  ) {
    super(message);
  }
}

/**
 * The heap budget (`--max-heap`, a cap below the wasm heap's end) cannot hold what has to be resident at
 * once. An OutOfMemoryError too: whoever handles running out of heap handles both.
 */
export class HeapBudgetError extends OutOfMemoryError {
  override name = "HeapBudgetError";
  static {
    brandClass(HeapBudgetError, "@llava-ts/errors:HeapBudgetError");
  }
}
