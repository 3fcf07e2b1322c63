// The COCO caption evaluation's tokenization (pycocoevalcap tokenizer/ptbtokenizer.py): every caption through
// PTBTokenizer with -preserveLines -lowerCase, one caption per line, then its punctuation tokens dropped.
import { NEWLINE_TOKEN, ptbTokenize } from "./ptb-tokenize.js";

/** The tokens pycocoevalcap removes after tokenizing (compared after lowercasing, so "-lrb-" stays). */
export const COCO_PUNCTUATION: ReadonlySet<string> = new Set([
  "''",
  "'",
  "``",
  "`",
  "-LRB-",
  "-RRB-",
  "-LCB-",
  "-RCB-",
  ".",
  "?",
  "!",
  ",",
  ":",
  "-",
  "--",
  "...",
  ";",
]);

/**
 * Tokenizes captions as COCOEvalCap does: returns each caption as lowercase tokens joined by single spaces,
 * punctuation removed ("A man, riding." → "a man riding"). The captions are tokenized as one text, one per
 * line, as the Java tokenizer sees them (an abbreviation at the end of one caption can depend on the
 * first word of the next). Line breaks inside a caption become spaces (pycocoevalcap replaces only "\n";
 * a "\r" there would shift every later caption by a line).
 */
export function cocoTokenize(captions: readonly string[]): string[] {
  const text = captions.map((c) => c.replace(/\r\n|[\r\n\v\f\u2028\u2029\u0085]/g, " ")).join("\n");
  const out: string[] = [];
  let line: string[] = [];
  for (const token of ptbTokenize(text, { keepNewlines: true })) {
    if (token === NEWLINE_TOKEN) {
      out.push(line.join(" "));
      line = [];
    } else if (!COCO_PUNCTUATION.has(token)) line.push(token);
  }
  out.push(line.join(" "));
  return out;
}
