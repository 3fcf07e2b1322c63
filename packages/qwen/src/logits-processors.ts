// Per-row next-token scoring as transformers' generation/logits_process.py, on one row's float32 scores
// [V] in JS (the row is read back anyway to pick the token). Order as HF: repetition penalty, then
// (sampling only) temperature → top-k → top-p.
import { ConfigError, type Rng } from "@llava-ts/core";

/** RepetitionPenaltyLogitsProcessor: tokens already present get positive scores divided, negative ones multiplied. */
export function applyRepetitionPenalty(scores: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    const s = scores[id];
    scores[id] = s < 0 ? s * penalty : s / penalty;
  }
}

/** Index of the largest score; the first one on ties, as torch.argmax. */
export function argmax(scores: Float32Array): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  return best;
}

/** TopKLogitsWarper: scores below the k-th largest become -Infinity (ties with it are kept). */
export function applyTopK(scores: Float32Array, k: number): void {
  if (k <= 0 || k >= scores.length) return;
  const sorted = Float32Array.from(scores).sort(); // ascending
  const threshold = sorted[scores.length - k];
  for (let i = 0; i < scores.length; i++) if (scores[i] < threshold) scores[i] = Number.NEGATIVE_INFINITY;
}

/**
 * TopPLogitsWarper: sort ascending, drop the tokens whose cumulative probability is ≤ 1 - p, always keeping
 * the most likely token.
 */
export function applyTopP(scores: Float32Array, p: number): void {
  if (p >= 1) return;
  const ids: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] > Number.NEGATIVE_INFINITY) ids.push(i);
  ids.sort((a, b) => scores[a] - scores[b]);
  const probs = softmax(ids.map((i) => scores[i]));
  let cumulative = 0;
  for (let j = 0; j < ids.length - 1; j++) {
    cumulative += probs[j];
    if (cumulative > 1 - p) break;
    scores[ids[j]] = Number.NEGATIVE_INFINITY;
  }
}

function softmax(xs: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < xs.length; i++) max = Math.max(max, xs[i]);
  const out = new Float64Array(xs.length);
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += out[i] = Math.exp(xs[i] - max);
  for (let i = 0; i < xs.length; i++) out[i] /= sum;
  return out;
}

/** Draws one id from softmax(scores) with `rng` (deterministic given its state). */
export function sampleFrom(scores: Float32Array, rng: Rng): number {
  const probs = softmax(scores);
  const u = rng.next();
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] === 0) continue;
    cumulative += probs[i];
    last = i;
    if (u < cumulative) return i;
  }
  return last; // u landed in the rounding gap above the final cumulative sum
}

export interface SamplingOptions {
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
}

export function checkSamplingOptions(o: SamplingOptions): void {
  if (!(o.repetitionPenalty > 0))
    throw new ConfigError(
      `repetitionPenalty must be > 0, found ${o.repetitionPenalty}`,
      "repetition_penalty",
    );
  if (!o.doSample) return;
  if (!(o.temperature > 0))
    throw new ConfigError(`temperature must be > 0 when sampling, found ${o.temperature}`, "temperature");
  if (!Number.isInteger(o.topK) || o.topK < 0)
    throw new ConfigError(`topK must be a non-negative integer, found ${o.topK}`, "top_k");
  if (!(o.topP > 0 && o.topP <= 1)) throw new ConfigError(`topP must be in (0, 1], found ${o.topP}`, "top_p");
}

/** The next token of one row: penalty, then argmax or temperature/top-k/top-p sampling. */
export function nextToken(
  scores: Float32Array,
  seen: Iterable<number>,
  o: SamplingOptions,
  rng: Rng,
): number {
  applyRepetitionPenalty(scores, seen, o.repetitionPenalty);
  if (!o.doSample) return argmax(scores);
  if (o.temperature !== 1) for (let i = 0; i < scores.length; i++) scores[i] /= o.temperature;
  applyTopK(scores, o.topK);
  applyTopP(scores, o.topP);
  return sampleFrom(scores, rng);
}
