// The loss curve of a run as an SVG line chart (axes, ticks, the curve), rasterised to PNG with sharp:
// drawn by `llava train` and the demo from the run's log history, after training.
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LlavaError } from "@llava-ts/core";
import { evalLossPoints, type LogEntry, lossPoints } from "@llava-ts/trainer";

export interface CurvePoint {
  step: number;
  loss: number;
}

export interface CurveOptions {
  width?: number;
  height?: number;
  title?: string;
  /** A second series: the eval loss at the steps it was evaluated (drawn orange, with dots). */
  evalPoints?: readonly CurvePoint[];
}

/** "Nice" tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function lossCurveSvg(points: readonly CurvePoint[], options: CurveOptions = {}): string {
  const W = options.width ?? 800;
  const H = options.height ?? 450;
  const m = { left: 70, right: 20, top: 40, bottom: 50 };
  const finite = points.filter((p) => Number.isFinite(p.loss));
  const evals = (options.evalPoints ?? []).filter((p) => Number.isFinite(p.loss));
  const xs = [...finite, ...evals].map((p) => p.step);
  const ys = [...finite, ...evals].map((p) => p.loss);
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-family="sans-serif" font-size="16">${esc(options.title ?? "training loss")}</text>`,
  ];
  for (const t of niceTicks(y0, y1)) {
    const y = py(t).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(
      `<text x="${m.left - 8}" y="${y}" dy="4" text-anchor="end" font-family="sans-serif" font-size="12">${t}</text>`,
    );
  }
  for (const t of niceTicks(x0, x1).filter((t) => Number.isInteger(t))) {
    const x = px(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${H - m.bottom}" y2="${H - m.bottom + 5}" stroke="black"/>`);
    parts.push(
      `<text x="${x}" y="${H - m.bottom + 20}" text-anchor="middle" font-family="sans-serif" font-size="12">${t}</text>`,
    );
  }
  parts.push(
    `<line x1="${m.left}" x2="${W - m.right}" y1="${H - m.bottom}" y2="${H - m.bottom}" stroke="black"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${H - m.bottom}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 10}" text-anchor="middle" font-family="sans-serif" font-size="13">step</text>`,
  );
  if (finite.length > 0) {
    const d = finite
      .map((p, i) => `${i ? "L" : "M"}${px(p.step).toFixed(1)},${py(p.loss).toFixed(1)}`)
      .join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
    if (finite.length === 1) parts.push(`<circle cx="${px(xs[0])}" cy="${py(ys[0])}" r="3" fill="#1f77b4"/>`);
  }
  if (evals.length > 0) {
    const d = evals
      .map((p, i) => `${i ? "L" : "M"}${px(p.step).toFixed(1)},${py(p.loss).toFixed(1)}`)
      .join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="#ff7f0e" stroke-width="2"/>`);
    for (const p of evals)
      parts.push(
        `<circle cx="${px(p.step).toFixed(1)}" cy="${py(p.loss).toFixed(1)}" r="3" fill="#ff7f0e"/>`,
      );
    parts.push(
      `<text x="${W - m.right}" y="${m.top - 8}" text-anchor="end" font-family="sans-serif" font-size="12"><tspan fill="#1f77b4">training loss</tspan>  <tspan fill="#ff7f0e">eval loss</tspan></text>`,
    );
  }
  parts.push("</svg>");
  return parts.join("\n");
}

/** Writes the chart as PNG (and, beside it, the SVG when `svgPath` is given). */
export async function writeLossCurve(
  pngPath: string,
  points: readonly CurvePoint[],
  options: CurveOptions & { svgPath?: string } = {},
): Promise<void> {
  const svg = lossCurveSvg(points, options);
  let sharp: typeof import("sharp");
  try {
    sharp = (await import("sharp")).default;
  } catch (e) {
    throw new LlavaError(`writing ${pngPath} needs the "sharp" package: ${(e as Error).message}`);
  }
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  if (options.svgPath) writeWhole(options.svgPath, svg);
  writeWhole(pngPath, png);
}

/** Writes `path` through a temporary file: a full disk leaves the old file or none, never half of one. */
function writeWhole(path: string, data: string | Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** `dir`/loss-curve.png and .svg from a run's log history; returns the PNG's path. */
export async function writeRunLossCurve(dir: string, history: readonly LogEntry[]): Promise<string> {
  const png = join(dir, "loss-curve.png");
  await writeLossCurve(png, lossPoints(history), {
    svgPath: join(dir, "loss-curve.svg"),
    evalPoints: evalLossPoints(history),
  });
  return png;
}
