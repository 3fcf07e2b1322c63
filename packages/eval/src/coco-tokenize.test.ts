import { describe, expect, it } from "vitest";
import { cocoTokenize } from "./coco-tokenize.js";

describe("cocoTokenize", () => {
  it("lowercases, splits and drops pycocoevalcap's punctuation list", () => {
    expect(cocoTokenize(["A man, riding a horse.", "The dog's \"toy\" isn't here..."])).toEqual([
      "a man riding a horse",
      "the dog 's toy is n't here",
    ]);
  });

  it('keeps what the list misses after lowercasing: "-lrb-", "-lsb-", "%" and CJK punctuation', () => {
    expect(cocoTokenize(["a (red) [big] cat 50%", "一只猫。"])).toEqual([
      "a -lrb- red -rrb- -lsb- big -rsb- cat 50 %",
      "一只猫 。",
    ]);
  });

  it("tokenizes the captions as one text, one per line, as the jar sees them", () => {
    // "U.S." before a line starting with "The" is split off as a sentence end: the jar's context rule.
    expect(cocoTokenize(["made in the U.S.", "The end", "", "made in the U.S."])).toEqual([
      "made in the u.s.",
      "the end",
      "",
      "made in the u.s.",
    ]);
    expect(cocoTokenize(["two\nlines", "next"])).toEqual(["two lines", "next"]);
  });
});
