// CIDEr-D as the COCO caption evaluation computes it (pycocoevalcap cider/cider_scorer.py, "CIDEr" there):
// TF-IDF vectors of 1- to 4-grams with document frequencies counted over the references of the corpus
// being scored, the candidate's weights clipped to the reference's, a Gaussian penalty on the length
// difference (σ = 6), the mean over n-gram orders and references, times 10.
import { ngramCounts, ngramOrder, words } from "./ngrams.js";

export interface CiderOptions {
  /** Largest n-gram order. Default 4. */
  n?: number;
  /** Standard deviation of the length penalty. Default 6. */
  sigma?: number;
}

export interface CiderResult {
  /** The corpus score: the mean of the per-sample scores. */
  score: number;
  perSample: number[];
}

interface Vec {
  /** Per order: n-gram → tf-idf weight. */
  weights: Map<string, number>[];
  norms: number[];
  /** Bigram count: the scorer's `length` (it counts n-grams of index 1, i.e. bigrams). */
  length: number;
}

/**
 * CIDEr-D of tokenized candidates (one per sample) against their tokenized references. The document
 * frequencies come from these references, so a score depends on the whole set scored (as in COCO).
 */
export function ciderD(
  candidates: readonly string[],
  references: readonly (readonly string[])[],
  options: CiderOptions = {},
): CiderResult {
  const n = options.n ?? 4;
  const sigma = options.sigma ?? 6;
  if (candidates.length !== references.length)
    throw new RangeError(`CIDEr: ${candidates.length} candidates but ${references.length} reference lists`);
  const refCounts = references.map((refs, i) => {
    if (refs.length === 0) throw new RangeError(`CIDEr: sample ${i} has no reference`);
    return refs.map((r) => ngramCounts(words(r), n));
  });
  // Document frequency: in how many samples' reference sets an n-gram appears.
  const df = new Map<string, number>();
  for (const refs of refCounts) {
    const seen = new Set<string>();
    for (const counts of refs) for (const g of counts.keys()) seen.add(g);
    for (const g of seen) df.set(g, (df.get(g) ?? 0) + 1);
  }
  const logDocs = Math.log(references.length);

  const vectorize = (counts: Map<string, number>): Vec => {
    const weights = Array.from({ length: n }, () => new Map<string, number>());
    const norms = new Array<number>(n).fill(0);
    let length = 0;
    for (const [g, tf] of counts) {
      const k = ngramOrder(g) - 1;
      const w = tf * (logDocs - Math.log(Math.max(1, df.get(g) ?? 0)));
      weights[k].set(g, w);
      norms[k] += w * w;
      if (k === 1) length += tf;
    }
    return { weights, norms: norms.map(Math.sqrt), length };
  };

  const similarity = (hyp: Vec, ref: Vec): number[] => {
    const delta = hyp.length - ref.length;
    const penalty = Math.E ** (-(delta * delta) / (2 * sigma * sigma));
    return hyp.weights.map((wh, k) => {
      let v = 0;
      for (const [g, w] of wh) {
        const r = ref.weights[k].get(g) ?? 0;
        v += Math.min(w, r) * r; // clipping: a repeated n-gram earns no more than the reference has
      }
      if (hyp.norms[k] !== 0 && ref.norms[k] !== 0) v /= hyp.norms[k] * ref.norms[k];
      return v * penalty;
    });
  };

  const perSample = candidates.map((cand, i) => {
    const hyp = vectorize(ngramCounts(words(cand), n));
    const sum = new Array<number>(n).fill(0);
    for (const counts of refCounts[i]) {
      const s = similarity(hyp, vectorize(counts));
      for (let k = 0; k < n; k++) sum[k] += s[k];
    }
    const mean = sum.reduce((a, b) => a + b, 0) / n;
    return (mean / refCounts[i].length) * 10;
  });
  const score = perSample.length ? perSample.reduce((a, b) => a + b, 0) / perSample.length : 0;
  return { score, perSample };
}
