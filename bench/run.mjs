// pnpm bench: every figure of ../shared/bench/README.md, each in its own child process (so each peak RSS
// is that figure's own), as a table and as bench-results.json at the repo root.
//   pnpm bench [-- --only <figure>[,<figure>…]] [--reps N] [--out file.json]
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SPEC } from "./bench-model.mjs";

const REFERENCE = {
  "train_step.freeze_vision": { seconds_per_step: 8.5, tokens_per_second: 60 },
  "train_step.use_lora": { seconds_per_step: 6.1, tokens_per_second: 83 },
  "generate.greedy": { new_tokens_per_second: 5.9 },
};
const TARGET = { "train_step.freeze_vision": 1.5, "train_step.use_lora": 1.5, "generate.greedy": 5 };

const FIGURES = [
  "backend.matmul_peak",
  "train_step.freeze_vision",
  "train_step.use_lora",
  "train_step.zero2.1",
  "train_step.zero2.2",
  "train_step.zero2.2.use_lora",
  "generate.greedy",
  "image_processor",
];

const args = process.argv.slice(2).filter((a) => a !== "--");
const opt = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const reps = Number(opt("--reps") ?? SPEC.reps);
if (!Number.isInteger(reps) || reps < 1)
  throw new Error(`--reps must be a positive integer, got ${opt("--reps")}`);
const root = fileURLToPath(new URL("..", import.meta.url));
const outFile = opt("--out") ?? join(root, "bench-results.json");
let selected = FIGURES;
if (opt("--only")) {
  selected = opt("--only").split(",");
  const unknown = selected.filter((f) => !FIGURES.includes(f) && f !== "mfu");
  if (unknown.length)
    throw new Error(`unknown figure(s) ${unknown.join(", ")}; known: ${FIGURES.join(", ")}, mfu`);
  // MFU divides by the matmul peak of the same run.
  if (
    selected.some((f) => f.startsWith("train_step") || f === "mfu") &&
    !selected.includes("backend.matmul_peak")
  )
    selected = ["backend.matmul_peak", ...selected];
  if (selected.includes("mfu") && !selected.some((f) => f.startsWith("train_step")))
    selected.push("train_step.freeze_vision", "train_step.use_lora");
  selected = FIGURES.filter((f) => selected.includes(f));
}

const tmp = mkdtempSync(join(tmpdir(), "llava-bench-"));
// With --only, the other figures of an earlier results file are kept (and marked with their date).
const figures = {};
if (opt("--only") && existsSync(outFile)) {
  const earlier = JSON.parse(readFileSync(outFile, "utf8"));
  for (const [name, f] of Object.entries(earlier.figures ?? {}))
    figures[name] = { ...f, date: f.date ?? earlier.date };
}
const started = new Date();
for (const name of selected) {
  process.stderr.write(`bench: ${name} (${reps} reps after a warm-up) …`);
  const out = join(tmp, `${name}.json`);
  const t0 = Date.now();
  const child = spawnSync(
    process.execPath,
    [fileURLToPath(new URL("./figures.mjs", import.meta.url)), name, "--reps", String(reps), "--out", out],
    {
      stdio: ["ignore", "inherit", "inherit"],
      env: process.env,
    },
  );
  if (child.status !== 0) {
    figures[name] = { error: `exit ${child.status ?? child.signal}` };
    process.stderr.write(` failed (${child.status ?? child.signal})\n`);
    continue;
  }
  figures[name] = { ...JSON.parse(readFileSync(out, "utf8")), date: new Date().toISOString() };
  process.stderr.write(` ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}
rmSync(tmp, { recursive: true, force: true });

// MFU: model FLOPs per second of each train step over the matmul peak of the cores it used: a single
// process runs every thread of the backend; a ZeRO-2 rank is one thread (one core) each.
const peakFigure = figures["backend.matmul_peak"];
const mfu = {};
for (const [name, f] of Object.entries(figures)) {
  if (!name.startsWith("train_step") || !f.model_flops_per_second || !peakFigure?.gflops) continue;
  const ranks = f.ranks ?? 1;
  const zero2 = name.startsWith("train_step.zero2");
  const peak = zero2 ? ranks * (peakFigure.one_thread_gflops ?? peakFigure.gflops) : peakFigure.gflops;
  mfu[name] = f.model_flops_per_second / (peak * 1e9);
}
for (const [name, f] of Object.entries(figures)) {
  const ref = REFERENCE[name];
  if (!ref || f.error || f.skipped) continue;
  const key = "tokens_per_second" in ref ? "tokens_per_second" : "new_tokens_per_second";
  f.vs_reference = f[key] / ref[key];
  f.target = TARGET[name];
}

const results = {
  date: started.toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg(), node: process.version },
  reps,
  model: SPEC,
  reference: REFERENCE,
  figures,
  mfu,
};
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);

const rows = [["figure", "value", "per", "vs Python", "peak RSS"]];
const mb = (f) => (f.peak_rss_mb ? `${f.peak_rss_mb.toFixed(0)} MB` : "");
const ratio = (f) => (f.vs_reference ? `${f.vs_reference.toFixed(2)}× (target ${f.target}×)` : "");
for (const [name, f] of Object.entries(figures)) {
  if (f.error || f.skipped) rows.push([name, f.error ?? `skipped: ${f.skipped}`, "", "", ""]);
  else if (name === "backend.matmul_peak")
    rows.push([
      name,
      `${f.gflops.toFixed(1)} GFLOP/s`,
      `1024×1024 f32, ${f.threads ?? 1} thread${f.threads > 1 ? "s" : ""}${f.one_thread_gflops ? `; 1 thread ${f.one_thread_gflops.toFixed(1)}` : ""}`,
      "",
      mb(f),
    ]);
  else if (name.startsWith("train_step"))
    rows.push([
      name,
      `${f.tokens_per_second.toFixed(1)} tokens/s`,
      `${f.seconds_per_step.toFixed(2)} s/step${f.cpu_seconds_per_step ? ` (cpu ${f.cpu_seconds_per_step.toFixed(2)} s)` : ""}, ${f.ranks} rank${f.ranks > 1 ? "s" : ""}`,
      ratio(f),
      mb(f),
    ]);
  else if (name === "generate.greedy")
    rows.push([
      name,
      `${f.new_tokens_per_second.toFixed(1)} new tokens/s`,
      `prefill ${f.prefill_seconds.toFixed(2)} s, decode ${f.decode_tokens_per_second.toFixed(1)} tok/s`,
      ratio(f),
      mb(f),
    ]);
  else if (name === "image_processor")
    rows.push([name, `${f.images_per_second.toFixed(1)} images/s`, f.image, "", mb(f)]);
}
for (const [name, m] of Object.entries(mfu))
  rows.push([
    `mfu (${name.slice("train_step.".length)})`,
    m.toFixed(2),
    name.startsWith("train_step.zero2") ? "model FLOPs/s ÷ (ranks × 1-thread peak)" : "model FLOPs/s ÷ peak",
    "",
    "",
  ]);
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(line(rows[0]));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows.slice(1)) console.log(line(r));
console.log(
  `\nbackend ${Object.values(figures).find((f) => f.backend)?.backend ?? "?"}, ${reps} reps (median after a warm-up), load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}; written to ${outFile}`,
);
