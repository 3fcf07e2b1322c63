// The error classes live in @llava-ts/errors, which has no tensors: the tokenizer throws them without
// installing tfjs. Core re-exports them, so `import { ConfigError } from "@llava-ts/core"` still works.
export * from "@llava-ts/errors";

/** Bytes as people read them: "512 B", "3.1 MB", "2.40 GB" (decimal units, as file sizes). */
export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  const [unit, d] = n < 1e6 ? ["kB", 1e3] : n < 1e9 ? ["MB", 1e6] : ["GB", 1e9];
  const v = n / d;
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${unit}`;
}
