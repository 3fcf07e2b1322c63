// Checkpoints with the real shapes of clip-vit-large-patch14-336 (vision tower, F32 as published) and
// Qwen2.5-0.5B/3B/7B-Instruct (BF16 as published), from the real config files in ../shared/fixtures/configs.
// The weights are zeros in sparse files: a 15 GB 7B shard costs no disk until it is read, and reading it
// costs what reading real weights costs (values do not change the work of a float32 matmul). Only what keeps
// the model from being degenerate is written: norm weights of 1, a small pseudo-random token embedding (tied
// lm_head) and attention biases, so hidden states, logits and the LoRA gradients of a training step are not
// all zero (the trainer stops on a zero gradient norm, as it should on a real model).
import {
  closeSync,
  copyFileSync,
  cpSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES = process.env.LLAVA_FIXTURES ?? resolve(here, "../../shared/fixtures");
export const QWEN_SIZES = {
  "0.5B": "Qwen2.5-0.5B-Instruct",
  "3B": "Qwen2.5-3B-Instruct",
  "7B": "Qwen2.5-7B-Instruct",
};
const DTYPE_BYTES = { F32: 4, BF16: 2, F16: 2 };

export function readConfig(name) {
  return JSON.parse(readFileSync(join(FIXTURES, "configs", name, "config.json"), "utf8"));
}

/** [key, shape] of CLIPVisionModel's weights under `vision_model.` (HF names). */
export function clipVisionSpecs(c) {
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
    specs.push([`${p}.mlp.fc1.weight`, [I, D]], [`${p}.mlp.fc1.bias`, [I]]);
    specs.push([`${p}.mlp.fc2.weight`, [D, I]], [`${p}.mlp.fc2.bias`, [D]]);
    for (const n of ["layer_norm1", "layer_norm2"])
      specs.push([`${p}.${n}.weight`, [D]], [`${p}.${n}.bias`, [D]]);
  }
  return specs;
}

/** [key, shape] of Qwen2ForCausalLM's weights (HF names; lm_head only when untied). */
export function qwenSpecs(c) {
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

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bytes of one value in `dtype` (F32, or BF16/F16 cut from it). */
function encode(value, dtype, out, at) {
  if (dtype === "F32") return out.writeFloatLE(value, at);
  f32[0] = value;
  const bits = u32[0];
  if (dtype === "BF16") return out.writeUInt16LE(bits >>> 16, at);
  // F16: values under 1e-4 are written as 0, the others (1, and |x| ≤ 0.02) are normal halves.
  if (Math.abs(value) < 1e-4) return out.writeUInt16LE(0, at);
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  out.writeUInt16LE(((bits >>> 16) & 0x8000) | (exp << 10) | ((bits >>> 13) & 0x3ff), at);
}

/**
 * Writes the values of the tensors that must not be zero: norm weights (1), the token embedding and the
 * attention's biases (small random values: with zero weights, the value bias is what makes the attention's
 * output, and so o_proj's LoRA gradient, non-zero).
 */
function writeValues(fd, start, t, dtype) {
  const norm = /norm\d?\.weight$/.test(t.name);
  const random = /embed_tokens\.weight$|_proj\.bias$/.test(t.name);
  if (!norm && !random) return;
  const size = DTYPE_BYTES[dtype];
  const n = t.bytes / size;
  const chunk = Buffer.alloc(Math.min(n, 1 << 22) * size);
  let seed = 0x9e3779b9;
  for (let i0 = 0; i0 < n; i0 += chunk.length / size) {
    const m = Math.min(chunk.length / size, n - i0);
    for (let i = 0; i < m; i++) {
      // xorshift32: a uniform value in ±0.02 for the embedding
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      encode(norm ? 1 : ((seed >>> 0) / 2 ** 32 - 0.5) * 0.04, dtype, chunk, i * size);
    }
    writeSync(fd, chunk, 0, m * size, start + i0 * size);
  }
}

/**
 * A sparse, zero-filled safetensors checkpoint of `specs` in `dtype`, sharded past `maxShard` bytes with
 * transformers' index: headers are written, the data is a hole. Returns the bytes of weights.
 */
export function writeSparseCheckpoint(dir, specs, dtype, maxShard = 5e9) {
  mkdirSync(dir, { recursive: true });
  const shards = [[]];
  let size = 0;
  for (const [name, shape] of specs) {
    const bytes = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (size > 0 && size + bytes > maxShard) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push({ name, shape, bytes });
    size += bytes;
  }
  const names =
    shards.length === 1
      ? ["model.safetensors"]
      : shards.map(
          (_, i) =>
            `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`,
        );
  const weightMap = {};
  let total = 0;
  shards.forEach((tensors, i) => {
    const header = {};
    let offset = 0;
    for (const t of tensors) {
      header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes] };
      offset += t.bytes;
      weightMap[t.name] = names[i];
    }
    let json = JSON.stringify(header);
    json += " ".repeat((8 - (json.length % 8)) % 8);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    const fd = openSync(join(dir, names[i]), "w");
    writeSync(fd, Buffer.concat([prefix, Buffer.from(json)]));
    ftruncateSync(fd, 8 + json.length + offset);
    for (const t of tensors) writeValues(fd, 8 + json.length + header[t.name].data_offsets[0], t, dtype);
    closeSync(fd);
    total += offset;
  });
  if (names.length > 1)
    writeFileSync(
      join(dir, "model.safetensors.index.json"),
      `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`,
    );
  return total;
}

/** The CLIP-L/336 vision folder `llava build` reads: config, preprocessor config, sparse F32 weights. */
export function writeClipL(dir) {
  const name = "clip-vit-large-patch14-336";
  const config = readConfig(name);
  const bytes = writeSparseCheckpoint(dir, clipVisionSpecs(config.vision_config), "F32");
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  copyFileSync(
    join(FIXTURES, "configs", name, "preprocessor_config.json"),
    join(dir, "preprocessor_config.json"),
  );
  return bytes;
}

/** A Qwen2.5 folder (`size` 0.5B, 3B or 7B): its real config and tokenizer, sparse BF16 weights. */
export function writeQwen(dir, size) {
  const name = QWEN_SIZES[size];
  if (!name) throw new Error(`unknown Qwen2.5 size ${size}; expected ${Object.keys(QWEN_SIZES).join(", ")}`);
  const bytes = writeSparseCheckpoint(dir, qwenSpecs(readConfig(name)), "BF16");
  // As downloaded from the Hub: the tokenizer files, then the model's own configs.
  cpSync(join(FIXTURES, "tokenizers/qwen2.5"), dir, { recursive: true });
  cpSync(join(FIXTURES, "configs", name), dir, { recursive: true });
  return bytes;
}
