// @llava-ts/eval: text generation metrics as the COCO caption evaluation (pycocoevalcap) computes them.
export { type BleuCounts, type BleuResult, bleu, bleuFromCounts, sentenceBleuCounts } from "./bleu.js";
export { type CaptionScores, exactMatch, type SampleScores, scoreCaptions } from "./caption-scores.js";
export { type CiderOptions, type CiderResult, ciderD } from "./cider.js";
export { COCO_PUNCTUATION, cocoTokenize } from "./coco-tokenize.js";
export { NEWLINE_TOKEN, type PtbOptions, ptbTokenize } from "./ptb-tokenize.js";
