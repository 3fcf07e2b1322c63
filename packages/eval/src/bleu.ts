// BLEU as the COCO caption evaluation computes it (pycocoevalcap bleu/bleu_scorer.py, option "closest"):
// clipped n-gram matches summed over the corpus, the effective reference length the closest one to each
// candidate (the shorter on a tie), the brevity penalty on the corpus totals, and the scorer's smoothing
// constants (1e-15 on matches, 1e-9 on counts) so an n-gram order without matches gives ~0 rather than NaN.
import { ngramCounts, ngramOrder, words } from "./ngrams.js";

const TINY = 1e-15;
const SMALL = 1e-9;

/** What BLEU needs of a corpus (or of one sentence): lengths, n-gram counts and clipped matches. */
export interface BleuCounts {
  testlen: number;
  reflen: number;
  /** Candidate n-grams, n = 1..N. */
  guess: number[];
  /** Clipped matching n-grams, n = 1..N. */
  correct: number[];
}

export interface BleuResult {
  /** BLEU-1 … BLEU-N of the corpus (BLEU-4 is `bleu[3]`). */
  bleu: number[];
  /** Per sentence, BLEU-1 … BLEU-N with the sentence's own brevity penalty. */
  perSample: number[][];
  counts: BleuCounts;
}

/** BLEU-1 … BLEU-N from counts (the geometric mean of the first k precisions, times the brevity penalty). */
export function bleuFromCounts(c: BleuCounts): number[] {
  const out: number[] = [];
  let product = 1;
  for (let k = 0; k < c.guess.length; k++) {
    product *= (c.correct[k] + TINY) / (c.guess[k] + SMALL);
    out.push(product ** (1 / (k + 1)));
  }
  const ratio = (c.testlen + TINY) / (c.reflen + SMALL);
  if (ratio < 1) for (let k = 0; k < out.length; k++) out[k] *= Math.exp(1 - 1 / ratio);
  return out;
}

/** One candidate's counts against its references (already tokenized: words separated by spaces). */
export function sentenceBleuCounts(candidate: string, references: readonly string[], n = 4): BleuCounts {
  if (references.length === 0) throw new RangeError("BLEU needs at least one reference per candidate");
  const maxRef = new Map<string, number>();
  const refLens: number[] = [];
  for (const ref of references) {
    const ws = words(ref);
    refLens.push(ws.length);
    for (const [g, c] of ngramCounts(ws, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c));
  }
  const ws = words(candidate);
  const testlen = ws.length;
  // The closest reference length; ties go to the shorter one (Python's min over (|diff|, len) tuples).
  let reflen = refLens[0];
  for (const l of refLens) {
    const d = Math.abs(l - testlen);
    const best = Math.abs(reflen - testlen);
    if (d < best || (d === best && l < reflen)) reflen = l;
  }
  const guess = Array.from({ length: n }, (_, k) => Math.max(0, testlen - k));
  const correct = new Array<number>(n).fill(0);
  for (const [g, c] of ngramCounts(ws, n)) correct[ngramOrder(g) - 1] += Math.min(maxRef.get(g) ?? 0, c);
  return { testlen, reflen, guess, correct };
}

/**
 * Corpus BLEU-1 … BLEU-n of tokenized candidates, one per sample, each against its list of tokenized
 * references (see cocoTokenize for the COCO tokenization).
 */
export function bleu(
  candidates: readonly string[],
  references: readonly (readonly string[])[],
  n = 4,
): BleuResult {
  if (candidates.length !== references.length)
    throw new RangeError(`BLEU: ${candidates.length} candidates but ${references.length} reference lists`);
  const total: BleuCounts = {
    testlen: 0,
    reflen: 0,
    guess: new Array(n).fill(0),
    correct: new Array(n).fill(0),
  };
  const perSample = candidates.map((cand, i) => {
    const c = sentenceBleuCounts(cand, references[i], n);
    total.testlen += c.testlen;
    total.reflen += c.reflen;
    for (let k = 0; k < n; k++) {
      total.guess[k] += c.guess[k];
      total.correct[k] += c.correct[k];
    }
    return bleuFromCounts(c);
  });
  return { bleu: bleuFromCounts(total), perSample, counts: total };
}
