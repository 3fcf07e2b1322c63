// PEFT writes adapter_config.json with `json.dumps(d, indent=2, sort_keys=True)`; writing the same bytes
// lets a saved config be diffed against a PEFT one. Floats need Python's repr ("0.0", "1e-05").

/** A number that Python would hold (and print) as a float even when it is whole. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Python's repr of a float: "16.0", "0.05", "1e-05". */
export function pyFloatRepr(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  const abs = Math.abs(x);
  if (abs < 1e-4 || abs >= 1e16) {
    const [mant, exp] = x.toExponential().split("e");
    const sign = exp.startsWith("-") ? "-" : "+";
    return `${mant}e${sign}${exp.replace(/^[+-]/, "").padStart(2, "0")}`;
  }
  return String(x);
}

/** JSON text exactly as Python's json.dumps(value, indent=2, sort_keys=True) (ensure_ascii on). */
export function pythonJsonDumps(value: unknown, indent = 2, level = 0): string {
  const pad = " ".repeat(indent * (level + 1));
  const end = " ".repeat(indent * level);
  if (value === null || value === undefined) return "null";
  if (value instanceof PyFloat) return pyFloatRepr(value.value);
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : pyFloatRepr(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") return asciiString(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => pad + pythonJsonDumps(v, indent, level + 1)).join(",\n")}\n${end}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  if (entries.length === 0) return "{}";
  const body = entries.map(([k, v]) => `${pad}${asciiString(k)}: ${pythonJsonDumps(v, indent, level + 1)}`);
  return `{\n${body.join(",\n")}\n${end}}`;
}

function asciiString(s: string): string {
  return JSON.stringify(s).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
