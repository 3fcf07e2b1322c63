#!/usr/bin/env node
// Builds a LLaVA from checkpoints with the real shapes of clip-vit-large-patch14-336 (F32, vision tower only)
// and Qwen2.5-0.5B-Instruct (BF16, as published), filled with zeros, and reports the build's peak resident
// memory against the size of the weights. Run after `pnpm build`:
//   node packages/llava/scripts/real-shaped-build.mjs [--keep DIR]
// Needs ../shared/fixtures/configs (real config files) and ../shared/fixtures/tokenizers/qwen2.5.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = process.env.LLAVA_FIXTURES ?? resolve(here, "../../../../shared/fixtures");
const { writeSafetensorsCheckpoint, dtypeSize } = await import("@llava-ts/core");

if (process.argv[2] === "--child") {
  // The measured process: only the build runs here.
  const { buildLlava } = await import("@llava-ts/llava");
  const [vision, llm, tokenizer, out] = process.argv.slice(3);
  const t0 = performance.now();
  const result = await buildLlava({ vision, llm, tokenizer, out, maxShardSize: "1GB" });
  const status = readFileSync("/proc/self/status", "utf8");
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) * 1024;
  process.stdout.write(
    JSON.stringify({
      seconds: (performance.now() - t0) / 1000,
      peakRss: hwm,
      totalSize: result.checkpoint.totalSize,
    }),
  );
  process.exit(0);
}

function clipVisionSpecs(c) {
  const D = c.hidden_size;
  const I = c.intermediate_size;
  const P = c.patch_size;
  const positions = (c.image_size / P) ** 2 + 1;
  const specs = [
    ["vision_model.embeddings.class_embedding", [D]],
    ["vision_model.embeddings.patch_embedding.weight", [D, 3, P, P]],
    ["vision_model.embeddings.position_embedding.weight", [positions, D]],
    ["vision_model.pre_layrnorm.weight", [D]],
    ["vision_model.pre_layrnorm.bias", [D]],
    ["vision_model.post_layernorm.weight", [D]],
    ["vision_model.post_layernorm.bias", [D]],
  ];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `vision_model.encoder.layers.${i}`;
    for (const proj of ["q_proj", "k_proj", "v_proj", "out_proj"])
      specs.push([`${p}.self_attn.${proj}.weight`, [D, D]], [`${p}.self_attn.${proj}.bias`, [D]]);
    specs.push(
      [`${p}.mlp.fc1.weight`, [I, D]],
      [`${p}.mlp.fc1.bias`, [I]],
      [`${p}.mlp.fc2.weight`, [D, I]],
      [`${p}.mlp.fc2.bias`, [D]],
    );
    for (const n of ["layer_norm1", "layer_norm2"])
      specs.push([`${p}.${n}.weight`, [D]], [`${p}.${n}.bias`, [D]]);
  }
  return specs;
}

function qwenSpecs(c) {
  const E = c.hidden_size;
  const kv = (E / c.num_attention_heads) * c.num_key_value_heads;
  const specs = [
    ["model.embed_tokens.weight", [c.vocab_size, E]],
    ["model.norm.weight", [E]],
  ];
  if (!c.tie_word_embeddings) specs.push(["lm_head.weight", [c.vocab_size, E]]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    specs.push(
      [`${p}.self_attn.q_proj.weight`, [E, E]],
      [`${p}.self_attn.q_proj.bias`, [E]],
      [`${p}.self_attn.k_proj.weight`, [kv, E]],
      [`${p}.self_attn.k_proj.bias`, [kv]],
      [`${p}.self_attn.v_proj.weight`, [kv, E]],
      [`${p}.self_attn.v_proj.bias`, [kv]],
      [`${p}.self_attn.o_proj.weight`, [E, E]],
      [`${p}.mlp.gate_proj.weight`, [c.intermediate_size, E]],
      [`${p}.mlp.up_proj.weight`, [c.intermediate_size, E]],
      [`${p}.mlp.down_proj.weight`, [E, c.intermediate_size]],
      [`${p}.input_layernorm.weight`, [E]],
      [`${p}.post_attention_layernorm.weight`, [E]],
    );
  }
  return specs;
}

async function writeZeros(dir, specs, dtype) {
  mkdirSync(dir, { recursive: true });
  const entries = specs.map(([name, shape]) => ({
    name,
    dtype,
    shape,
    read: () => new Uint8Array(shape.reduce((a, b) => a * b, 1) * dtypeSize(dtype)),
  }));
  return (await writeSafetensorsCheckpoint(dir, entries, { maxShardSize: "2GB" })).totalSize;
}

const work =
  process.argv[2] === "--keep" ? resolve(process.argv[3]) : mkdtempSync(join(tmpdir(), "llava-real-shaped-"));
try {
  const clipCfg = JSON.parse(
    readFileSync(join(fixtures, "configs/clip-vit-large-patch14-336/config.json"), "utf8"),
  );
  const qwenDir = join(fixtures, "configs/Qwen2.5-0.5B-Instruct");
  const qwenCfg = JSON.parse(readFileSync(join(qwenDir, "config.json"), "utf8"));
  const vision = join(work, "clip-vit-large-patch14-336");
  const llm = join(work, "Qwen2.5-0.5B-Instruct");
  console.log("writing zero checkpoints with the real shapes…");
  const visionBytes = await writeZeros(vision, clipVisionSpecs(clipCfg.vision_config), "F32");
  writeFileSync(join(vision, "config.json"), JSON.stringify(clipCfg));
  cpSync(
    join(fixtures, "configs/clip-vit-large-patch14-336/preprocessor_config.json"),
    join(vision, "preprocessor_config.json"),
  );
  const llmBytes = await writeZeros(llm, qwenSpecs(qwenCfg), "BF16");
  cpSync(qwenDir, llm, { recursive: true });
  const out = join(work, "llava");
  console.log(
    `inputs: vision ${(visionBytes / 1e9).toFixed(2)} GB (F32), language model ${(llmBytes / 1e9).toFixed(2)} GB (BF16)`,
  );
  const report = JSON.parse(
    execFileSync(
      process.execPath,
      [fileURLToPath(import.meta.url), "--child", vision, llm, join(fixtures, "tokenizers/qwen2.5"), out],
      {
        encoding: "utf8",
        maxBuffer: 1 << 20,
      },
    ),
  );
  const index = JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8"));
  const real = JSON.parse(
    readFileSync(join(fixtures, "configs/llava-1.5-7b-hf/model.safetensors.index.json"), "utf8"),
  );
  const ours = Object.keys(index.weight_map)
    .filter((k) => !k.startsWith("language_model."))
    .sort();
  const theirs = Object.keys(real.weight_map)
    .filter((k) => !k.startsWith("language_model."))
    .sort();
  const same = ours.length === theirs.length && ours.every((k, i) => k === theirs[i]);
  console.log(
    JSON.stringify(
      {
        weightsBytes: report.totalSize,
        peakRssBytes: report.peakRss,
        peakRssOverWeights: +(report.peakRss / report.totalSize).toFixed(3),
        seconds: +report.seconds.toFixed(1),
        visionAndProjectorKeysEqualLlava15: same,
        keys: ours.length,
      },
      null,
      2,
    ),
  );
  if (!same) process.exitCode = 1;
} finally {
  if (process.argv[2] !== "--keep") rmSync(work, { recursive: true, force: true });
}
