// n-gram counts of a tokenized sentence, as pycocoevalcap's precook: words split on whitespace (Python's
// str.split()), 1- to n-grams counted in order of first appearance.

/**
 * Python's str.split() separators: Unicode whitespace, including the no-break space PTB puts in "1 1/2"
 * (and U+001C–U+001F, left out here: the tokenizer drops them).
 */
const PY_WHITESPACE = /[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+/u;

export function words(sentence: string): string[] {
  return sentence.split(PY_WHITESPACE).filter((w) => w !== "");
}

/** n-gram (words joined by U+0001) → count, for n = 1..maxN. */
export function ngramCounts(ws: readonly string[], maxN: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let k = 1; k <= maxN; k++)
    for (let i = 0; i + k <= ws.length; i++) {
      const g = ws.slice(i, i + k).join("\u0001");
      counts.set(g, (counts.get(g) ?? 0) + 1);
    }
  return counts;
}

/** The order (1-based) of a key made by ngramCounts. */
export function ngramOrder(key: string): number {
  let n = 1;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 1) n++;
  return n;
}
