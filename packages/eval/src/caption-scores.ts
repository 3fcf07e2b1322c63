// Generation metrics of predicted answers against reference answers: exact match, and BLEU-1…4 and CIDEr-D
// after the COCO caption evaluation's tokenization — what COCOEvalCap reports for the same captions.
import { bleu } from "./bleu.js";
import { ciderD } from "./cider.js";
import { cocoTokenize } from "./coco-tokenize.js";

export interface SampleScores {
  exactMatch: boolean;
  bleu4: number;
  cider: number;
}

export interface CaptionScores {
  count: number;
  /** Share of predictions equal to one of their references (surrounding whitespace ignored). */
  exactMatch: number;
  /** Corpus BLEU-1 … BLEU-4. */
  bleu: number[];
  bleu4: number;
  /** CIDEr-D (COCO's "CIDEr"), document frequencies from these references. */
  cider: number;
  perSample: SampleScores[];
}

/** Whether `prediction` equals one of `references`, ignoring whitespace at either end. */
export function exactMatch(prediction: string, references: string | readonly string[]): boolean {
  const p = prediction.trim();
  return (typeof references === "string" ? [references] : references).some((r) => r.trim() === p);
}

/**
 * Scores predictions (one per sample) against references (one string or several per sample), tokenizing
 * both as COCOEvalCap does before BLEU and CIDEr-D.
 */
export function scoreCaptions(
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
): CaptionScores {
  if (predictions.length !== references.length)
    throw new RangeError(`${predictions.length} predictions but ${references.length} references`);
  const refLists = references.map((r) => (typeof r === "string" ? [r] : r));
  refLists.forEach((r, i) => {
    if (r.length === 0) throw new RangeError(`sample ${i} has no reference`);
  });
  if (predictions.length === 0)
    return { count: 0, exactMatch: 0, bleu: [0, 0, 0, 0], bleu4: 0, cider: 0, perSample: [] };
  // COCOEvalCap tokenizes all references in one pass and all predictions in another.
  const flat = cocoTokenize(refLists.flat());
  const refTokens: string[][] = [];
  for (const r of refLists) refTokens.push(flat.splice(0, r.length));
  const predTokens = cocoTokenize(predictions);
  const b = bleu(predTokens, refTokens, 4);
  const c = ciderD(predTokens, refTokens);
  const perSample = predictions.map((p, i) => ({
    exactMatch: exactMatch(p, refLists[i]),
    bleu4: b.perSample[i][3],
    cider: c.perSample[i],
  }));
  return {
    count: predictions.length,
    exactMatch: perSample.filter((s) => s.exactMatch).length / predictions.length,
    bleu: b.bleu,
    bleu4: b.bleu[3],
    cider: c.score,
    perSample,
  };
}
