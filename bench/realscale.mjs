// pnpm bench -- --realscale: the tutorial's real model sizes on this machine, with the default backend.
// Builds real-shaped CLIP-L/336 + Qwen2.5-{0.5B,3B,7B} LLaVA folders with `llava build` (sparse zero weights,
// in a temporary folder removed at the end), then measures, each in a fresh process for its own peak RSS:
//   realscale.infer.<size>   load, prefill of the ~600-token one-image prompt, decode tokens/s, peak RSS
//   realscale.train.3B       one use_lora step (batch 1, one image, 64 answer tokens, gradient checkpointing)
// and, when the Python reference stack is set up (../shared/reference, LLAVA_REFERENCE or /tmp/ref),
// transformers on the same 0.5B folder in the same run.
//   node bench/realscale.mjs [--sizes 0.5B,3B,7B] [--new-tokens 32] [--peak GFLOPS] [--keep DIR] [--out FILE]
import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FIXTURES, QWEN_SIZES, readConfig, writeClipL, writeQwen } from "./real-shaped.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const CLI = resolve(here, "../packages/cli/dist/bin.js");
const IMAGE = join(FIXTURES, "image-processor/images/astronaut.png");
const PROMPT = "What is this?";

function peakRssGb() {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]) / 1e6;
}

// ---- model FLOPs (one multiply-add = 2 FLOPs; matmul-shaped work only, as bench/flops.mjs) ----

/** FLOPs of the vision tower up to vision_feature_layer -2 and the projector, for one image. */
function visionFlops(v, E) {
  const P = v.patch_size;
  const patches = (v.image_size / P) ** 2;
  const S = patches + 1;
  const dv = v.hidden_size;
  const layer = 2 * (4 * dv * dv + 2 * dv * v.intermediate_size) * S + 4 * S * S * dv;
  const projector = 2 * (dv * E + E * E) * patches;
  return { vision: 2 * 3 * P * P * dv * patches + (v.num_hidden_layers - 1) * layer, projector };
}

/** Per decoder layer: FLOPs of the weights for t rows, and of attention for t queries over s keys. */
function decoderLayer(c) {
  const E = c.hidden_size;
  const kv = (E / c.num_attention_heads) * c.num_key_value_heads;
  const weights = E * E + 2 * E * kv + E * E + 3 * E * c.intermediate_size;
  return { weights, attention: (t, s) => 4 * t * s * E };
}

function prefillFlops(v, c, T) {
  const { vision, projector } = visionFlops(v, c.hidden_size);
  const d = decoderLayer(c);
  const lm = c.num_hidden_layers * (2 * d.weights * T + d.attention(T, T));
  return vision + projector + lm + 2 * c.vocab_size * c.hidden_size; // logits of the last position only
}

/**
 * Model FLOPs of one use_lora step (frozen tower forward; trained projector; frozen base layers pass
 * gradients: 4·n·t; LoRA r 16 adapters 6·n·t; attention 3× forward; lm_head at the labelled rows 4·V·E·N),
 * and the hardware FLOPs with gradient checkpointing's second forward of each decoder layer.
 */
function loraStepFlops(v, c, T, labelled, r = 16) {
  const E = c.hidden_size;
  const { vision, projector } = visionFlops(v, E);
  const d = decoderLayer(c);
  const kv = (E / c.num_attention_heads) * c.num_key_value_heads;
  const loraParams = r * (E + E) * 2 + r * (E + kv) * 2 + r * (E + E) + r * 3 * (E + c.intermediate_size);
  const layerFwd = 2 * d.weights * T + d.attention(T, T);
  const layer = 4 * d.weights * T + 3 * d.attention(T, T) + 6 * loraParams * T;
  const model = vision + 2.5 * projector + c.num_hidden_layers * layer + 4 * c.vocab_size * E * labelled;
  return { model, hardware: model + c.num_hidden_layers * layerFwd + 2 * c.vocab_size * E * labelled };
}

// ---- the measured children ----

async function childInfer(dir, newTokens) {
  const { initBackend, heapCacheStats } = await import("@llava-ts/core");
  const { LlavaSession } = await import("@llava-ts/cli");
  const tf = await import("@tensorflow/tfjs-core");
  const backend = await initBackend();
  let t = performance.now();
  const session = await LlavaSession.load(dir);
  const loadS = (performance.now() - t) / 1000;
  const S = session.model.config.vision_config.image_size;
  const pixels = tf.tensor4d(await session.pixels(IMAGE), [1, 3, S, S]);
  const { inputIds } = session.processor.buildPrompt([{ role: "user", content: `<image>\n${PROMPT}` }]);
  t = performance.now();
  const out = session.model.forward({ inputIds, pixelValues: pixels, logitsMode: "last" });
  out.logits.dataSync();
  tf.dispose([out.logits]);
  const prefillS = (performance.now() - t) / 1000;
  t = performance.now();
  let firstS = 0;
  let n = 0;
  for await (const _ of session.model.stream(inputIds, {
    pixelValues: pixels,
    maxNewTokens: newTokens,
    eosTokenId: [],
  })) {
    if (n === 0) firstS = (performance.now() - t) / 1000;
    n++;
  }
  const genS = (performance.now() - t) / 1000;
  return {
    backend,
    load_s: loadS,
    prompt_tokens: inputIds.length,
    // The first forward also reads every weight from its checkpoint into the heap (transformers reads them
    // while loading); generate's first token comes after a second, warm prefill.
    cold_prefill_s: prefillS,
    prefill_s: firstS,
    generate_s: genS,
    new_tokens: n,
    decode_tokens_per_second: n > 1 ? (n - 1) / (genS - firstS) : 0,
    peak_rss_gb: peakRssGb(),
    heap: heapCacheStats(),
  };
}

async function childTrain(dir, answerTokens) {
  const { initBackend } = await import("@llava-ts/core");
  const { trainLlava } = await import("@llava-ts/trainer");
  const { LlavaSession } = await import("@llava-ts/cli");
  const backend = await initBackend();
  // One sample as the tutorial's data gives it: the image prompt, then a 64-token answer that trains.
  const session = await LlavaSession.load(dir);
  const prompt = session.processor.buildPrompt([{ role: "user", content: `<image>\n${PROMPT}` }]).inputIds;
  const pixelValues = await session.pixels(IMAGE);
  const S = session.model.config.vision_config.image_size;
  session.dispose();
  const answer = Array.from({ length: answerTokens }, (_, i) => 1000 + ((i * 7919) % 50000));
  const ids = Int32Array.from([...prompt, ...answer]);
  const labels = Int32Array.from([...prompt.map(() => -100), ...answer]);
  const batch = {
    indices: [0],
    skipped: [],
    truncated: [],
    batchSize: 1,
    seqLength: ids.length,
    inputIds: ids,
    attentionMask: new Int32Array(ids.length).fill(1),
    labels,
    pixelValues,
    pixelShape: [1, 3, S, S],
  };
  const steps = 2; // the first one warms up (kernels, the page cache)
  const result = await trainLlava({
    modelDir: dir,
    strategy: "use_lora",
    lora: {
      r: 16,
      lora_alpha: 32,
      target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      modules_to_save: ["multi_modal_projector"],
    },
    data: { batches: [batch] },
    gradientCheckpointing: true,
    trainer: { maxSteps: steps, optimizer: { lr: 1e-4 } },
  });
  return {
    backend,
    tokens: ids.length,
    labelled: answerTokens,
    seconds_per_step: result.stepMs[0][steps - 1] / 1000,
    first_step_s: result.stepMs[0][0] / 1000,
    losses: result.losses,
    trainable: result.trainable,
    peak_rss_gb: peakRssGb(),
  };
}

// ---- the parent ----

/** Runs a child (this script or another command) under /usr/bin/time: its output and peak RSS. */
function timed(cmd, args, env = process.env) {
  const r = spawnSync("/usr/bin/time", ["-f", "%M %e", cmd, ...args], {
    env,
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  const lines = r.stderr.trim().split("\n");
  const [kb, seconds] = lines[lines.length - 1].split(" ").map(Number);
  if (r.status !== 0) {
    // The error's own line (its class and message), not the stack frames under it.
    const error = lines.find((l) => /^\w*(Error|Exception)\b|^error:|Aborted/.test(l.trim()));
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${r.status}: ${(error ?? lines.slice(-6, -1).join(" | ")).slice(0, 1500)}`,
    );
  }
  return { stdout: r.stdout, peak_rss_gb: kb / 1e6, seconds };
}

function child(mode, ...args) {
  const r = timed(process.execPath, [fileURLToPath(import.meta.url), "--child", mode, ...args]);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

/** The checkpoint's index ({ metadata.total_size, weight_map }), read from the header of a single-file one. */
function weightMap(dir) {
  const index = join(dir, "model.safetensors.index.json");
  if (existsSync(index)) return JSON.parse(readFileSync(index, "utf8"));
  const file = join(dir, "model.safetensors");
  const fd = openSync(file, "r");
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const header = Buffer.alloc(Number(len.readBigUInt64LE(0)));
    readSync(fd, header, 0, header.length, 8);
    const tensors = JSON.parse(header.toString("utf8"));
    delete tensors.__metadata__;
    const total = Object.values(tensors).reduce((s, t) => s + t.data_offsets[1] - t.data_offsets[0], 0);
    const weight_map = Object.fromEntries(Object.keys(tensors).map((k) => [k, "model.safetensors"]));
    return { metadata: { total_size: total }, weight_map };
  } finally {
    closeSync(fd);
  }
}

function weightBytes(dir) {
  return weightMap(dir).metadata.total_size;
}

/** Whether the vision tower's and projector's key names equal those of llava-hf/llava-1.5-7b-hf. */
function sameVisionKeys(dir) {
  const names = (m) =>
    Object.keys(m.weight_map)
      .filter((k) => !k.startsWith("language_model."))
      .sort();
  const ours = names(weightMap(dir));
  const theirs = names(weightMap(join(FIXTURES, "configs/llava-1.5-7b-hf")));
  return ours.length === theirs.length && ours.every((k, i) => k === theirs[i]);
}

/** The reference stack's folder (setup.sh's DEST), or undefined when it is not set up. */
function referenceStack(flag) {
  if (flag === "none") return undefined;
  const dir = flag ?? process.env.LLAVA_REFERENCE ?? "/tmp/ref";
  return existsSync(join(dir, "src/transformers")) ? dir : undefined;
}

function referenceInfer(ref, dir, newTokens) {
  const script = join(FIXTURES, "../reference/hf_infer.py");
  const env = { ...process.env, PYTHONPATH: `${ref}/shim:${ref}/src` };
  const r = timed("/usr/bin/python3", [script, dir, IMAGE, String(newTokens), "2"], env);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === "--child") {
    const [, mode, dir, n] = args;
    try {
      const out = mode === "infer" ? await childInfer(dir, Number(n)) : await childTrain(dir, Number(n));
      process.stdout.write(`${JSON.stringify(out)}\n`);
      process.exit(0);
    } catch (e) {
      // One line for the parent's figure (Node's own report of an uncaught error quotes the minified
      // source line it came from: 30 kB of emscripten glue when it came from there).
      process.stderr.write(`${e.name}: ${e.message}\n`);
      process.exit(1);
    }
  }
  const opt = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const sizes = (opt("--sizes") ?? "0.5B,3B,7B").split(",");
  for (const s of sizes) if (!QWEN_SIZES[s]) throw new Error(`--sizes: unknown size ${s}`);
  const newTokens = Number(opt("--new-tokens") ?? 32);
  const peak = opt("--peak") ? Number(opt("--peak")) : undefined;
  const ref = referenceStack(opt("--reference"));
  const work = opt("--keep") ? resolve(opt("--keep")) : mkdtempSync(join(tmpdir(), "llava-realscale-"));
  const figures = {};
  const log = (s) => process.stderr.write(`realscale: ${s}\n`);
  const write = () => {
    const out = JSON.stringify({ figures }, null, 2);
    if (opt("--out")) writeFileSync(opt("--out"), `${out}\n`);
    return out;
  };
  /** One figure: a failure is recorded as the figure's error and the others still run. */
  const measure = (name, fn) => {
    try {
      figures[name] = fn();
    } catch (e) {
      log(`${name} failed: ${e.message}`);
      figures[name] = { error: e.message };
    }
    write();
    return figures[name].error ? undefined : figures[name];
  };
  try {
    const clip = join(work, "clip-vit-large-patch14-336");
    if (!existsSync(join(clip, "config.json"))) writeClipL(clip);
    const v = readConfig("clip-vit-large-patch14-336").vision_config;
    for (const size of sizes) {
      const c = readConfig(QWEN_SIZES[size]);
      const qwen = join(work, QWEN_SIZES[size]);
      const dir = join(work, `llava-${size}`);
      if (!existsSync(join(dir, "config.json"))) {
        writeQwen(qwen, size);
        log(`llava build (CLIP-L/336 + Qwen2.5-${size}) …`);
        const built = measure(`realscale.build.${size}`, () => {
          const b = timed(process.execPath, [CLI, "build", "--vision", clip, "--llm", qwen, "--out", dir]);
          return {
            seconds: b.seconds,
            peak_rss_gb: b.peak_rss_gb,
            weights_gb: weightBytes(dir) / 1e9,
            vision_and_projector_keys_equal_llava_1_5: sameVisionKeys(dir),
          };
        });
        rmSync(qwen, { recursive: true, force: true });
        if (!built) continue;
      }
      // 3B decodes ~9 GB of streamed weights per token and 7B is timed to its first token only.
      const n = size === "0.5B" ? newTokens : size === "3B" ? 4 : 1;
      log(`infer ${size}, ${n} new token(s) …`);
      const f = measure(`realscale.infer.${size}`, () => {
        const f = child("infer", dir, String(n));
        f.prefill_flops = prefillFlops(v, c, f.prompt_tokens);
        if (peak) f.prefill_vs_matmul_peak = f.prefill_flops / f.prefill_s / (peak * 1e9);
        return f;
      });
      if (size === "0.5B" && ref) {
        log("reference (transformers) infer 0.5B …");
        const r = measure("realscale.infer.0.5B.reference", () => referenceInfer(ref, dir, n));
        if (f && r) {
          f.decode_vs_reference = f.decode_tokens_per_second / r.decode_tok_s;
          f.prefill_vs_reference = r.prefill_s / f.prefill_s;
          f.peak_rss_vs_reference = f.peak_rss_gb / r.peak_rss_gb;
          write();
        }
      }
      if (size === "3B") {
        log(
          "train 3B use_lora, one step after a warm-up (batch 1, 64 answer tokens, gradient checkpointing) …",
        );
        measure("realscale.train.3B.use_lora", () => {
          const t = child("train", dir, "64");
          const flops = loraStepFlops(v, c, t.tokens, t.labelled);
          t.model_flops = flops.model;
          t.hardware_flops = flops.hardware;
          if (peak) {
            t.mfu = flops.model / t.seconds_per_step / (peak * 1e9);
            t.hfu = flops.hardware / t.seconds_per_step / (peak * 1e9);
          }
          return t;
        });
      }
      if (!opt("--keep")) rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    if (!opt("--keep")) rmSync(work, { recursive: true, force: true });
  }
  const out = write();
  if (!opt("--out")) process.stdout.write(`${out}\n`);
}

await main();
