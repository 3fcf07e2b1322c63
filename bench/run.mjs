// pnpm bench: every figure of ../shared/bench/README.md, each in its own child process (so each peak RSS
// is that figure's own), as a table and as bench-results.json at the repo root.
//   pnpm bench [-- --only <figure>[,<figure>…]] [--reps N] [--out file.json] [--reference DIR|none]
//              [--realscale [--sizes 0.5B,3B,7B]]
// The Python reference's figures come from ../shared/bench/reference.json, or — when its stack is set up
// (../shared/reference/setup.sh; LLAVA_REFERENCE, --reference or /tmp/ref) — are measured in the same run.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SPEC } from "./bench-model.mjs";
import { FIXTURES } from "./real-shaped.mjs";

const SHARED = join(FIXTURES, "..");
const PUBLISHED = JSON.parse(readFileSync(join(SHARED, "bench/reference.json"), "utf8"));
/** reference.json's figure → this bench's key, for the ratios. */
const REFERENCE_KEYS = {
  "train_step.freeze_vision": ["tokens_per_second", "tokens_per_second"],
  "train_step.use_lora": ["tokens_per_second", "tokens_per_second"],
  "generate.greedy": ["new_tokens_per_second", "new_tokens_per_second"],
};

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
const realscale = args.includes("--realscale");
const referenceDir = (() => {
  const flag = opt("--reference");
  if (flag === "none") return undefined;
  const dir = flag ?? process.env.LLAVA_REFERENCE ?? "/tmp/ref";
  return existsSync(join(dir, "src/transformers")) ? dir : undefined;
})();
const outFile = opt("--out") ?? join(root, "bench-results.json");
// --realscale alone measures the real model sizes (and the matmul peak they are compared with).
let selected = realscale && !opt("--only") ? ["backend.matmul_peak"] : FIGURES;
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
      // ZeRO-2 with one rank runs in this process: on one thread, one core, as each rank of zero2.2 has,
      // so that zero2.2 over zero2.1 is the data-parallel scaling.
      env: name === "train_step.zero2.1" ? { ...process.env, LLAVA_THREADS: "1" } : process.env,
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

// The Python reference in the same run, when its stack is set up: the machine's load moves both alike.
const measuredReference = {};
if (referenceDir && selected.some((f) => REFERENCE_KEYS[f])) {
  process.stderr.write(`bench: the Python reference (transformers + PEFT, ${referenceDir}) …`);
  const t0 = Date.now();
  const r = spawnSync(
    "/usr/bin/python3",
    [join(SHARED, "reference/bench_reference.py"), join(SHARED, "bench/bench-model.json"), "2"],
    { env: { ...process.env, PYTHONPATH: `${referenceDir}/shim:${referenceDir}/src` }, encoding: "utf8" },
  );
  if (r.status !== 0) process.stderr.write(` failed (${r.status}): ${r.stderr.slice(-500)}\n`);
  else {
    for (const line of r.stdout.split("\n").filter((l) => l.startsWith("{"))) {
      const m = JSON.parse(line);
      measuredReference[m.what] = {
        seconds_per_step: m.what.startsWith("train_step") ? m.seconds : undefined,
        tokens_per_second: m.tokens_per_s,
        new_tokens_per_second: m.new_tokens_per_s,
      };
    }
    process.stderr.write(` ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
}

if (realscale) {
  process.stderr.write("bench: realscale (real-shaped CLIP-L/336 + Qwen2.5 LLaVA folders) …\n");
  const out = join(tmp, "realscale.json");
  const peak = figures["backend.matmul_peak"]?.gflops;
  const child = spawnSync(
    process.execPath,
    [
      fileURLToPath(new URL("./realscale.mjs", import.meta.url)),
      "--out",
      out,
      ...(peak ? ["--peak", String(peak)] : []),
      ...(opt("--sizes") ? ["--sizes", opt("--sizes")] : []),
      "--reference",
      referenceDir ?? "none",
    ],
    { stdio: ["ignore", "inherit", "inherit"], env: process.env },
  );
  // What was measured before a failure is kept (realscale.mjs writes its file after each figure).
  if (existsSync(out))
    for (const [name, f] of Object.entries(JSON.parse(readFileSync(out, "utf8")).figures))
      figures[name] = { ...f, date: new Date().toISOString() };
  if (child.status !== 0) figures.realscale = { error: `exit ${child.status ?? child.signal}` };
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
// Ratios against the reference of this run when it was measured, else against reference.json.
const reference = {};
for (const [name, [ours, theirs]] of Object.entries(REFERENCE_KEYS)) {
  const measured = measuredReference[name];
  const published = PUBLISHED[name];
  const ref = measured ?? published;
  if (!ref) continue;
  reference[name] = { ...ref, source: measured ? "measured in this run" : "../shared/bench/reference.json" };
  const f = figures[name];
  if (f && !f.error && !f.skipped) f.vs_reference = f[ours] / ref[theirs];
}

const results = {
  date: started.toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg(), node: process.version },
  reps,
  model: SPEC,
  reference,
  figures,
  mfu,
};
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);

const rows = [["figure", "value", "per", "vs Python", "peak RSS"]];
const mb = (f) => (f.peak_rss_mb ? `${f.peak_rss_mb.toFixed(0)} MB` : "");
const ratio = (f) => (f.vs_reference ? `${f.vs_reference.toFixed(2)}×` : "");
const gb = (f) => (f.peak_rss_gb ? `${f.peak_rss_gb.toFixed(2)} GB` : "");
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
  else if (name.startsWith("realscale.build"))
    rows.push([name, `${f.seconds.toFixed(0)} s`, "llava build (CLIP-L/336 + Qwen2.5)", "", gb(f)]);
  else if (name.endsWith(".reference"))
    rows.push([
      name,
      `${f.decode_tok_s.toFixed(2)} new tokens/s`,
      `transformers: load ${f.load_s} s, prefill ${f.prefill_s} s (${f.prompt_tokens} tokens)`,
      "",
      gb(f),
    ]);
  else if (name.startsWith("realscale.infer"))
    rows.push([
      name,
      f.new_tokens > 1 ? `${f.decode_tokens_per_second.toFixed(2)} new tokens/s` : "first token",
      `load ${f.load_s.toFixed(1)} s, prefill ${f.prefill_s.toFixed(1)} s (cold ${f.cold_prefill_s.toFixed(1)} s, ${f.prompt_tokens} tokens${f.prefill_vs_matmul_peak ? `, ${f.prefill_vs_matmul_peak.toFixed(2)} of the matmul peak` : ""})`,
      f.decode_vs_reference
        ? `decode ${f.decode_vs_reference.toFixed(2)}×, prefill ${f.prefill_vs_reference.toFixed(2)}×, RSS ${f.peak_rss_vs_reference.toFixed(2)}×`
        : "",
      gb(f),
    ]);
  else if (name.startsWith("realscale.train"))
    rows.push([
      name,
      `${f.seconds_per_step.toFixed(0)} s/step`,
      `${f.tokens} tokens, ${f.labelled} labelled, gradient checkpointing${f.mfu ? `; MFU ${f.mfu.toFixed(2)}, HFU ${f.hfu.toFixed(2)}` : ""}`,
      "",
      gb(f),
    ]);
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
