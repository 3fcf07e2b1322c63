// Model FLOPs of one training step (docs/performance.md, "Counting FLOPs"). Only matmul-shaped work is
// counted (linear layers, patch convolution, attention's two batched matmuls, the tied lm_head);
// elementwise work, norms, softmax and the optimizer count zero. One multiply-add = 2 FLOPs.
//   forward:  2·n·t for a weight of n values applied to t rows;
//   backward: 2·n·t for the input gradient when a trained parameter lies upstream, plus 2·n·t for the
//             weight gradient when the weight itself trains (so a trained layer deep in the net costs
//             6·n·t in all, a frozen layer that gradients pass through 4·n·t, a frozen leaf 2·n·t);
//   attention: 2·B·H·T·S·D for q·kᵀ and again for p·v (the full T×S square, as computed), doubled
//             again in the backward when gradients pass through it;
//   lm_head:  only at the N labelled positions (the logits the loss needs), tied weight [V, E].
import { imageTokens, SPEC } from "./bench-model.mjs";

/** @param {"freeze_vision" | "use_lora"} strategy; `rows` samples per step. */
export function trainStepFlops(strategy, rows = SPEC.batch.size) {
  const v = SPEC.vision_config;
  const c = SPEC.text_config;
  const L = imageTokens();
  const T = L + SPEC.batch.text_tokens;
  const tokens = rows * T;
  const labelled = rows * SPEC.batch.answer_tokens;
  const E = c.hidden_size;
  const D = E / c.num_attention_heads;
  const KD = c.num_key_value_heads * D;
  const lora = strategy === "use_lora";
  const r = 16;
  const parts = {};

  // Vision tower, frozen: forward only, up to vision_feature_layer -2 (the layers the model runs).
  const Sv = L + 1; // patches + CLS
  const dv = v.hidden_size;
  const visionLayer = 4 * dv * dv + 2 * dv * v.intermediate_size;
  const visionAttn = 2 * 2 * rows * Sv * Sv * dv;
  const patch = 3 * v.patch_size * v.patch_size * dv;
  parts.vision_tower =
    2 * patch * L * rows + (v.num_hidden_layers - 1) * (2 * visionLayer * Sv * rows + visionAttn);

  // Projector, trained: linear_1 needs no input gradient (frozen tower below), linear_2 does.
  const imageRows = rows * L;
  parts.projector = 2 * dv * E * imageRows * 2 + 2 * E * E * imageRows * 3;

  // Decoder layers: gradients always pass through (the projector below trains).
  const linears = [
    E * E,
    E * KD,
    E * KD,
    E * E,
    E * c.intermediate_size,
    E * c.intermediate_size,
    c.intermediate_size * E,
  ];
  const inOut = [
    [E, E],
    [E, KD],
    [E, KD],
    [E, E],
    [E, c.intermediate_size],
    [E, c.intermediate_size],
    [c.intermediate_size, E],
  ];
  let layer = 0;
  for (const [i, n] of linears.entries()) {
    layer += (lora ? 4 : 6) * n * tokens; // base: fwd + dX (+ dW when trained)
    if (lora) layer += 6 * r * (inOut[i][0] + inOut[i][1]) * tokens; // A and B: fwd + dX + dW
  }
  const attn = 2 * 2 * rows * c.num_attention_heads * T * T * D;
  parts.decoder = c.num_hidden_layers * (layer + 3 * attn);

  // Tied lm_head at the labelled rows: fwd + dX, + dW when the embedding trains (freeze_vision).
  parts.lm_head = (lora ? 4 : 6) * E * c.vocab_size * labelled;

  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  return { total, parts, tokens, labelled };
}
