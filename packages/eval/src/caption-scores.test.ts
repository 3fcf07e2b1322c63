import { describe, expect, it } from "vitest";
import { exactMatch, scoreCaptions } from "./caption-scores.js";

describe("scoreCaptions", () => {
  it("tokenizes as COCO before BLEU and CIDEr-D: case and punctuation do not count, exact match does", () => {
    const s = scoreCaptions(["A cat.", "a dog"], ["a cat", ["A dog!", "a puppy"]]);
    expect(s.count).toBe(2);
    expect(s.perSample.map((p) => p.exactMatch)).toEqual([false, false]);
    expect(s.exactMatch).toBe(0);
    expect(s.bleu[0]).toBeCloseTo(1, 8);
    // Sample 0: "a cat" vs "a cat" → 5 (see cider.test.ts); sample 1: (5 + 0) / 2 refs.
    expect(s.perSample[0].cider).toBeCloseTo(5, 12);
    expect(s.cider).toBeCloseTo((5 + 2.5) / 2, 12);
  });

  it("counts exact matches against any reference, ignoring surrounding whitespace", () => {
    expect(exactMatch(" 上边 ", "上边")).toBe(true);
    expect(exactMatch("下边", ["上边", "下边"])).toBe(true);
    expect(exactMatch("a cat.", "a cat")).toBe(false);
    const s = scoreCaptions(["上边", "左边"], ["上边", "右边"]);
    expect(s.exactMatch).toBe(0.5);
  });

  it("rejects mismatched inputs with the counts", () => {
    expect(() => scoreCaptions(["a"], [])).toThrow("1 predictions but 0 references");
    expect(() => scoreCaptions(["a"], [[]])).toThrow("sample 0 has no reference");
  });
});
