// Penn Treebank tokenization as Stanford CoreNLP 3.4.1's PTBTokenizer does it with its default options (the
// jar behind the COCO caption evaluation): the rules of PTBLexer.flex in their order, the longest match winning
// and the earlier rule on a tie (JFlex's semantics), trailing contexts counted in the match length.
import * as X from "./ptb-lexicon.js";

/** What `ptbTokenize` returns for a line break when asked to keep them (`-preserveLines`). */
export const NEWLINE_TOKEN = "*NL*";

type Action = (text: string) => string | null | [token: string | null, consumed: number];

interface Rule {
  re: RegExp;
  /**
   * Set on rules whose matches hold no whitespace: a regex returns its first match, the flex scanner its
   * longest ("www.a.com/b'" — the domain may swallow "/b"), so these also try every longer end up to the
   * next space.
   */
  whole?: RegExp;
  /** Group 1 is the token; the rest of the match is trailing context (read, not consumed). */
  trailing: boolean;
  act: Action;
}

const asIs: Action = (t) => t;
const skip: Action = () => null;
const softHyphens: Action = (t) => {
  const s = t.replaceAll("\u00AD", "");
  return s === "" ? "-" : s;
};
const amp: Action = (t) => t.replace(/&amp;/gi, "&");
const parens = (t: string) => t.replaceAll("(", "-LRB-").replaceAll(")", "-RRB-");
const nbsp = (t: string) => t.replaceAll(" ", "\u00A0");
const FRACTIONS: Record<string, string> = { "¼": "1/4", "½": "1/2", "¾": "3/4", "⅓": "1/3", "⅔": "2/3" };

/** Latex-style quotes (the default): ` `` for opening, ' '' for closing, curly quotes mapped by shape. */
function quotes(left: boolean): Action {
  return (t) =>
    t
      .replace(/&apos;|'/g, left ? "`" : "'")
      .replace(/"|&quot;/g, left ? "``" : "''")
      .replace(/[\u0091\u2018\u201B\u2039]/g, "`")
      .replace(/[\u0092\u2019\u203A]/g, "'")
      .replace(/[\u0093\u201C\u00AB]/g, "``")
      .replace(/[\u0094\u201D\u00BB]/g, "''");
}

/** Returns the text minus its last `n` characters as the token (JFlex's yypushback). */
const pushback =
  (n: number): Action =>
  (t) => [t.slice(0, t.length - n), t.length - n];

function rule(
  src: string | readonly string[],
  act: Action = asIs,
  trailing?: string,
  longest = false,
): Rule[] {
  return (typeof src === "string" ? [src] : src).map((s) => {
    const body = trailing === undefined ? X.caseless(s) : `(${X.caseless(s)})(?:${X.caseless(trailing)})`;
    const r: Rule = { re: new RegExp(body, "uy"), trailing: trailing !== undefined, act };
    if (longest) r.whole = new RegExp(`^(?:${body})$`, "u");
    return r;
  });
}

/** The longest match of `r` at `pos` (see Rule.whole), or null. */
function longestMatch(r: Rule, text: string, pos: number): RegExpExecArray | null {
  r.re.lastIndex = pos;
  const m = r.re.exec(text);
  if (!m || !r.whole) return m;
  const space = /[ \t\n\f\r]/g;
  space.lastIndex = pos;
  const bound = space.exec(text)?.index ?? text.length;
  for (let end = bound; end > pos + m[0].length; end--) {
    const w = r.whole.exec(text.slice(pos, end));
    if (w) return w;
  }
  return m;
}

const FILENAME = `(?:${X.LETTER}|${X.DIGIT})+(?:[.](?:${X.LETTER}|${X.DIGIT})+)*[.](?:bat|bmp|class|cgi|cpp|c|dll|docx|doc|exe|gif|gz|html|htm|h|jar|java|jpeg|jpg|mov|mp3|pdf|php|pl|png|ppt|ps|py|sql|tar|txt|wav|xml|x|zip)`;

const RULES: Rule[] = [
  ...rule("c[+][+]"),
  ...rule("(?:c|f)#"),
  ...rule("cannot", pushback(3)),
  ...rule("'twas", pushback(3)),
  ...rule("'tis", pushback(2)),
  ...rule("gonna|gotta|lemme|gimme|wanna", pushback(2)),
  ...rule(X.SGML, nbsp),
  ...rule(X.SPMDASH, () => "--"),
  ...rule(X.SPAMP, amp),
  ...rule(X.SPPUNC),
  ...rule(X.WORD, softHyphens, X.REDAUX, true),
  ...rule(X.SWORD, softHyphens, X.SREDAUX, true),
  ...rule(X.WORD, softHyphens, undefined, true),
  ...rule(X.APOWORDS, asIs, undefined, true),
  ...rule(X.APOWORD2, asIs, "\\p{L}"),
  ...rule(X.FULLURL, asIs, undefined, true),
  ...rule(X.LIKELYURL, asIs, undefined, true),
  ...rule(X.EMAIL, asIs, undefined, true),
  ...rule(X.TWITTER),
  ...rule(X.REDAUX, quotes(false), "[^A-Za-z]"),
  ...rule(X.SREDAUX, quotes(false), "[^A-Za-z]"),
  ...rule(X.DATE, asIs, undefined, true),
  ...rule(X.NUMBER, softHyphens, undefined, true),
  ...rule(X.SUBSUPNUM),
  ...rule(X.FRAC, nbsp),
  ...rule(X.FRAC2, (t) => FRACTIONS[t] ?? t),
  ...rule(X.TBSPEC, amp),
  ...rule(X.THING3, asIs, undefined, true),
  ...rule(X.DOLSIGN),
  ...rule(X.DOLSIGN2, (t) =>
    t
      .replace(/\u00A2/g, "cents")
      .replace(/\u00A3/g, "#")
      .replace(/[\u0080\u00A4\u20A0\u20AC]/g, "$"),
  ),
  // An acronym before a word that usually starts a sentence: "U.S." then "." again; "I." splits.
  ...rule(
    X.ACRONYM,
    (t) => (t.length === 2 ? [t.slice(0, 1), 1] : [t, t.length - 1]),
    `${X.SPACENL}+(?:${X.SENTENCE_STARTERS}|${X.SGML})${X.SPACENL}`,
  ),
  ...rule(X.ABBREV3, asIs, `${X.SPACENL}?${X.DIGIT}`),
  ...rule("(?:pt[eyEY]|co)\\.", asIs, `${X.SPACE}(?:ltd|lim)`),
  // A sentence-final abbreviation is returned whole and its period again.
  ...rule(X.ABBREV1, (t) => [t, t.length - 1], X.SENTEND),
  ...rule(X.ABBREV1, asIs, "[^][^]"),
  ...rule(X.ABBREV1, (t) => [t, t.length - 1]),
  ...rule(X.ABBREV2),
  ...rule(X.ABBREV4, asIs, X.SPACE),
  ...rule(X.ACRO, asIs, X.SPACENL),
  ...rule(X.TBSPEC2, asIs, X.SPACENL),
  ...rule(FILENAME, asIs, `(?:${X.SPACENL}|[.?!,])`, true),
  ...rule(`${X.WORD}\\.`, softHyphens, X.INSENTP, true),
  ...rule(X.PHONE, (t) => parens(nbsp(t))),
  ...rule(X.DBLQUOT, quotes(true), "[A-Za-z0-9$]"),
  ...rule(X.DBLQUOT, quotes(false)),
  ...rule("\\u007F", skip),
  ...rule("<|&lt;", () => "<"),
  ...rule(">|&gt;", () => ">"),
  ...rule(X.SMILEY, parens, "[^A-Za-z0-9]"),
  ...rule(X.ASIANSMILEY, parens),
  ...rule("\\{", () => "-LCB-"),
  ...rule("\\}", () => "-RCB-"),
  ...rule("\\[", () => "-LSB-"),
  ...rule("\\]", () => "-RSB-"),
  ...rule("\\(", () => "-LRB-"),
  ...rule("\\)", () => "-RRB-"),
  ...rule("-+", (t) => (t.length >= 3 && t.length <= 4 ? "--" : t)),
  ...rule(X.LDOTS, () => "..."),
  ...rule(X.FNMARKS),
  ...rule(X.ASTS),
  ...rule(X.INSENTP),
  ...rule("[?!]+"),
  ...rule("[.¡¿\\u037E\\u0589\\u061F\\u06D4\\u0700-\\u0702\\u07FA\\u3002]"),
  ...rule("="),
  ...rule("\\/"),
  ...rule(`${X.HTHING}\\.`, softHyphens, X.INSENTP, true),
  ...rule(X.HTHING, softHyphens, undefined, true),
  ...rule(`${X.THING}\\.`, asIs, X.INSENTP, true),
  ...rule(X.THING, asIs, undefined, true),
  ...rule(`${X.THINGA}\\.`, amp, X.INSENTP, true),
  ...rule(X.THINGA, amp, undefined, true),
  ...rule("'", quotes(true), "[A-Za-z][^ \\t\\n\\r\\u00A0]"),
  ...rule(X.REDAUX, quotes(false)),
  ...rule(X.SREDAUX, quotes(false)),
  ...rule(X.QUOTES, quotes(false)),
  ...rule("<<|>>"),
  ...rule(X.MISCSYMBOL),
  ...rule(`\\u0000|${X.SPACE}+|[\\u200B\\u200E-\\u200F\\uFEFF]`, skip),
  ...rule(X.NEWLINE, () => NEWLINE_TOKEN),
  ...rule("&nbsp;", skip),
  // Anything else is untokenizable and dropped (the default "firstDelete").
  ...rule("[^\\n]", skip),
];

export interface PtbOptions {
  /** Lowercase every token, as `-lowerCase` (and the COCO evaluation) does. Default true. */
  lowerCase?: boolean;
  /** Return line breaks as NEWLINE_TOKEN (`-preserveLines`) instead of treating them as spaces. */
  keepNewlines?: boolean;
}

/**
 * The tokens of `text` as PTBTokenizer 3.4.1 gives them: punctuation split off, contractions split
 * ("isn't" → "is" "n't"), quotes as `` and '', brackets as -LRB- -RRB- -LSB- -RSB- -LCB- -RCB-.
 */
export function ptbTokenize(text: string, options: PtbOptions = {}): string[] {
  const lower = options.lowerCase ?? true;
  const out: string[] = [];
  for (let pos = 0; pos < text.length; ) {
    let best: Rule | undefined;
    let match: RegExpExecArray | null = null;
    for (const r of RULES) {
      const m = longestMatch(r, text, pos);
      if (m && m[0].length > (match?.[0].length ?? 0)) {
        best = r;
        match = m;
      }
    }
    if (!best || !match) break; // unreachable: the last rule matches any character but \n, NEWLINE matches \n
    const text0 = best.trailing ? match[1] : match[0];
    const result = best.act(text0);
    const [token, consumed] = Array.isArray(result) ? result : [result, text0.length];
    pos += consumed;
    if (token === null || (token === NEWLINE_TOKEN && !options.keepNewlines)) continue;
    out.push(lower && token !== NEWLINE_TOKEN ? token.toLowerCase() : token);
  }
  return out;
}
