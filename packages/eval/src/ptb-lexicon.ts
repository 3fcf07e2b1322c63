// The character classes and token shapes of Stanford CoreNLP 3.4.1's PTBLexer.flex (the tokenizer the COCO
// caption evaluation runs), as JavaScript regex sources for the "u" flag. Names follow the flex macros.
// JFlex's %caseless applies to literal letters but not inside [...] classes: `caseless()` does the same.

/** Makes the letters of `src` outside character classes match either case, as JFlex's %caseless does. */
export function caseless(src: string): string {
  let out = "";
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") {
      // Keep escapes whole: \uXXXX, \p{…}, \. etc.
      const n = src[i + 1];
      const len = n === "u" ? 6 : n === "p" || n === "P" ? src.indexOf("}", i) - i + 1 : 2;
      out += src.slice(i, i + len);
      i += len - 1;
    } else if (c === "[") {
      let j = i + 1;
      while (src[j] !== "]") j += src[j] === "\\" ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j;
    } else if (c === "(" && src[i + 1] === "?") {
      out += src.slice(i, i + 3); // (?: (?= (?!
      i += 2;
    } else if (/[a-zA-Z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
    } else if (c === "{" && /^\{\d/.test(src.slice(i))) {
      const j = src.indexOf("}", i);
      out += src.slice(i, j + 1); // a {n,m} quantifier
      i = j;
    } else out += c;
  }
  return out;
}

const L = "\\p{L}"; // JFlex [:letter:] (Java's Character.isLetter)
const D = "\\p{Nd}"; // [:digit:]
const alt = (...xs: string[]) => `(?:${xs.join("|")})`;

export const SPACE = "[ \\t\\u00A0\\u2000-\\u200A\\u3000]";
export const NEWLINE = "(?:\\r\\n|\\r|\\n|\\u2028|\\u2029|\\u000B|\\u000C|\\u0085)";
export const SPACENL = alt(SPACE, NEWLINE);
export const SGML =
  "<(?:[!?][A-Za-z\\-][^>\\r\\n]*|[A-Za-z][A-Za-z0-9_:.\\-]*(?:[ ]+(?:[A-Za-z][A-Za-z0-9_:.\\-]*|[A-Za-z][A-Za-z0-9_:.\\-]*[ ]*=[ ]*(?:'[^']*'|\"[^\"]*\")))*[ ]*\\/?|\\/[A-Za-z][A-Za-z0-9_:.\\-]*)[ ]*>";
export const SENTEND = `${SPACENL}${alt(SPACENL, "\\p{Lu}", SGML)}`;
export const DIGIT = `[${D}]`;
const SPLET = "&[aeiouAEIOU](?:acute|grave|uml);";
export const LETTER = alt(
  L,
  SPLET,
  "[\\u00AD\\u0237-\\u024F\\u02C2-\\u02C5\\u02D2-\\u02DF\\u02E5-\\u02FF\\u0300-\\u036F\\u0370-\\u037D\\u0384\\u0385\\u03CF\\u03F6\\u03FC-\\u03FF\\u0483-\\u0487\\u04CF\\u04F6-\\u04FF\\u0510-\\u0525\\u055A-\\u055F\\u0591-\\u05BD\\u05BF\\u05C1\\u05C2\\u05C4\\u05C5\\u05C7\\u0615-\\u061A\\u063B-\\u063F\\u064B-\\u065E\\u0670\\u06D6-\\u06EF\\u06FA-\\u06FF\\u070F\\u0711\\u0730-\\u074F\\u0750-\\u077F\\u07A6-\\u07B1\\u07CA-\\u07F5\\u07FA\\u0900-\\u0903\\u093C\\u093E-\\u094E\\u0951-\\u0955\\u0962-\\u0963\\u0981-\\u0983\\u09BC-\\u09C4\\u09C7\\u09C8\\u09CB-\\u09CD\\u09D7\\u09E2\\u09E3\\u0A01-\\u0A03\\u0A3C\\u0A3E-\\u0A4F\\u0A81-\\u0A83\\u0ABC-\\u0ACF\\u0B82\\u0BBE-\\u0BC2\\u0BC6-\\u0BC8\\u0BCA-\\u0BCD\\u0C01-\\u0C03\\u0C3E-\\u0C56\\u0D3E-\\u0D44\\u0D46-\\u0D48\\u0E30-\\u0E3A\\u0E47-\\u0E4E\\u0EB1-\\u0EBC\\u0EC8-\\u0ECD]",
);
const LD = alt(LETTER, DIGIT);
export const WORD = `${LETTER}${LD}*(?:[.!?]${LETTER}${LD}*)*`;
// Longer alternatives first where one is a prefix of another: a regex takes the first alternative that
// matches, the flex scanner the longest.
export const NUM = alt(`${DIGIT}*(?:[.:,\\u00AD\\u066B\\u066C]${DIGIT}+)+`, `${DIGIT}+`);
export const NUMBER = `[\\-+]?${NUM}`;
export const DATE = `${DIGIT}{1,2}[\\-\\/]${DIGIT}{1,2}[\\-\\/]${DIGIT}{2,4}`;
export const SUBSUPNUM =
  "[\\u207A\\u207B\\u208A\\u208B]?(?:[\\u2070\\u00B9\\u00B2\\u00B3\\u2074-\\u2079]+|[\\u2080-\\u2089]+)";
export const FRAC = `(?:${DIGIT}{1,4}[- \\u00A0])?${DIGIT}{1,4}(?:\\\\?\\/|\\u2044)${DIGIT}{1,4}`;
export const FRAC2 = "[\\u00BC\\u00BD\\u00BE\\u2153-\\u215E]";
export const DOLSIGN = "(?:[A-Z]*\\$|#)";
export const DOLSIGN2 =
  "[\\u00A2\\u00A3\\u00A4\\u00A5\\u0080\\u20A0\\u20AC\\u060B\\u0E3F\\u20A4\\uFFE0\\uFFE1\\uFFE5\\uFFE6]";
export const APOS = "(?:['\\u0092\\u2019]|&apos;)";
export const APOSETCETERA = alt(APOS, "[`\\u0091\\u2018\\u201B]");
export const HYPHEN = "[-_\\u058A\\u2010\\u2011]";
const LDRAW = `[${L}${D}]`;
const DOL = `(?:[dDoOlL]${APOSETCETERA}${LDRAW})?`;
export const THING = `${DOL}${LDRAW}+(?:${HYPHEN}${DOL}${LDRAW}+)*`;
export const SPAMP = "&amp;";
export const THINGA = `[A-Z]+(?:(?:[+&]|${SPAMP})[A-Z]+)+`;
export const THING3 = "[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\\\?\\/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}";
const ACRO_SPECIAL = "(?:Canada|Sino|Korean|EU|Japan|non)-U\\.S|U\\.S\\.-(?:U\\.K|U\\.S\\.S\\.R)";
export const ACRO = alt(ACRO_SPECIAL, "[A-Za-z](?:\\.[A-Za-z])*");
export const ACRO2 = alt(ACRO_SPECIAL, "[A-Za-z](?:\\.[A-Za-z])+");
export const HTHING = `[A-Za-z0-9][A-Za-z0-9.,\\u00AD]*(?:-(?:${ACRO2}\\.|[A-Za-z0-9\\u00AD]+))+`;
export const REDAUX = `${APOS}(?:[msdMSD]|re|ve|ll)`;
export const SWORD = "[A-Za-z\\u00AD]*[A-MO-Za-mo-z]\\u00AD*";
export const SREDAUX = `n${APOSETCETERA}t`;
/** APOWORD's alternatives, each tried on its own (longest wins). */
export const APOWORDS = [
  `${APOS}n${APOS}?`,
  `[lLdDjJ]${APOS}`,
  `Dunkin${APOS}`,
  `somethin${APOS}`,
  `ol${APOS}`,
  `${APOS}em`,
  `[A-HJ-XZn]${APOSETCETERA}${L}{2}${L}*`,
  `${APOS}[2-9]0s`,
  `${APOS}till?`,
  `${L}${L}*[aeiouyAEIOUY]${APOSETCETERA}[aeiouA-Z]${L}*`,
  `${APOS}cause`,
  "cont'd\\.?",
  "'twas",
  "nor'easter",
  "c'mon",
  "e'er",
  "s'mores",
  "ev'ry",
  "li'l",
  "nat'l",
  `O${APOSETCETERA}o`,
];
export const APOWORD2 = `y${APOS}`;
export const FULLURL = 'https?:\\/\\/[^ \\t\\n\\f\\r"<>|(){}]+[^ \\t\\n\\f\\r"<>|.!?(){},-]';
// `,-_` in the second class is a range (U+002C–U+005F), as in the flex source.
export const LIKELYURL = `(?:(?:www\\.(?:[^ \\t\\n\\f\\r"<>|.!?(){},]+\\.)+[a-zA-Z]{2,4})|(?:(?:[^ \\t\\n\\f\\r"\`'<>|.!?(){},-_$]+\\.)+(?:com|net|org|edu)))(?:\\/[^ \\t\\n\\f\\r"<>|()]+[^ \\t\\n\\f\\r"<>|.!?(){},-])?`;
export const EMAIL =
  '(?:&lt;|<)?[a-zA-Z0-9][^ \\t\\n\\f\\r"<>|()\\u00A0{}]*@(?:[^ \\t\\n\\f\\r"<>|(){}.\\u00A0]+\\.)*(?:[^ \\t\\n\\f\\r"<>|(){}.\\u00A0]+)(?:&gt;|>)?';
export const TWITTER = [`@[a-zA-Z_][a-zA-Z_0-9]*`, `#${LETTER}+`];

const ABMONTH = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec";
const ABDAYS = "Mon|Tues|Tue|Wed|Thurs|Thu|Fri";
const ABSTATE =
  "Ala|Ariz|[A]z|[A]rk|Calif|Colo|Conn|Ct|Dak|[D]el|Fla|Ga|[I]ll|Ind|Kans?|Ky|[L]a|[M]ass|Md|Mich|Minn|[M]iss|Mo|Mont|Neb|Nev|Okla|[O]re|[P]a|Penn|Tenn|[T]ex|Va|Vt|[W]ash|Wisc?|Wyo";
const ABCOMP = "Inc|Cos?|Corp|Pp?t[ye]s?|Ltd|Plc|Rt|Bancorp|Bhd|Assn|Univ|Intl|Sys";
const ABNUM = "tel|est|ext|sq";
const ABPTIT = "Jr|Sr|Bros|(?:Ed|Ph)\\.D|Blvd|Rd|Esq";
export const ABBREV1 = `(?:${ABMONTH}|${ABDAYS}|${ABSTATE}|${ABCOMP}|${ABNUM}|${ABPTIT}|etc|al|seq|Bldg)\\.`;
const ABTITLE =
  "Mrs|Mr|Ms|[M]iss|Drs?|Profs?|Sens?|Reps?|Attys?|Lt|Col|Gen|Messrs|Govs?|Adm|Rev|Maj|Sgt|Cpl|Pvt|Capt|Ste?|Ave|Pres|Lieut|Hon|Brig|Co?mdr|Pfc|Spc|Supts?|Det|Mt|Ft|Adj|Adv|Asst|Assoc|Ens|Insp|Mlle|Mme|Msgr|Sfc";
const ABCOMP2 = "Invt|Elec|Natl|M[ft]g|Dept";
export const ABBREV4 = `(?:${ACRO}|${ABTITLE}|vs|Alex|Wm|Jos|Cie|a\\.k\\.a|cf|TREAS|Ph|${ABCOMP2})`;
export const ABBREV2 = `${ABBREV4}\\.`;
export const ACRONYM = `${ACRO}\\.`;
export const ABBREV3 = "(?:ca|figs?|prop|nos?|art|bldg|pp|op)\\.";
/** Words after which an acronym's final period also ends the sentence (capital first letter required). */
export const SENTENCE_STARTERS =
  "[A]bout|[A]ccording|[A]dditionally|[A]fter|[A]n|[A]s|[A]t|[A]|[B]ut|[E]arlier|[H]ere|[H]er|[H]e|[H]owever|[I]f|[I]n|[I]t|[L]ast|[M]any|[M]ore|[M]r\\.|[M]s\\.|[N]ow|[O]nce|[O]ne|[O]ther|[O]ur|[S]he|[S]ince|[S]o|[S]ome|[S]uch|[T]hat|[T]heir|[T]hen|[T]here|[T]hese|[T]hey|[T]his|[T]he|[W]e|[W]hen|[W]hile|[W]hat|[Y]et|[Y]ou";
export const PHONE = [
  "(?:\\([0-9]{2,3}\\)[ \\u00A0]?|(?:\\+\\+?)?(?:[0-9]{2,4}[\\- \\u00A0])?[0-9]{2,4}[\\- \\u00A0])[0-9]{3,4}[\\- \\u00A0]?[0-9]{3,5}",
  "(?:(?:\\+\\+?)?[0-9]{2,4}\\.)?[0-9]{2,4}\\.[0-9]{3,4}\\.[0-9]{3,5}",
];
export const LDOTS = ["\\.{3,5}", "(?:\\.[ \\u00A0]){2,4}\\.", "[\\u0085\\u2026]"];
export const FNMARKS = ["@+", "#+", "_+"];
export const ASTS = ["\\*+", "(?:\\\\\\*){1,3}"];
export const INSENTP = "[,;:\\u3001]";
export const QUOTES = [
  "''",
  "[`\\u2018\\u2019\\u201A\\u201B\\u201C\\u201D\\u0091\\u0092\\u0093\\u0094\\u201E\\u201F\\u2039\\u203A\\u00AB\\u00BB]{1,2}",
  APOS,
];
export const DBLQUOT = '(?:"|&quot;)';
export const TBSPEC = [
  "-(?:RRB|LRB|RCB|LCB|RSB|LSB)-",
  "C\\.D\\.s",
  "pro-",
  "anti-",
  "S(?:&amp;|&)P-500",
  "S(?:&amp;|&)Ls",
  `Cap${APOS}n`,
  `c${APOS}est`,
];
export const TBSPEC2 = `${APOS}[0-9][0-9]`;
export const SMILEY = "[<>]?[:;=][\\-o\\*']?[\\(\\)DPdpO\\\\{@\\|\\[\\]]";
export const ASIANSMILEY = [
  "[\\^x=~<>]\\.\\[\\^x=~<>\\]", // sic: the flex source escapes the second class's brackets
  "[\\-\\^x=~<>']_[\\-\\^x=~<>']",
  "\\([\\-\\^x=~<>'][_.]?[\\-\\^x=~<>']\\)",
  "\\([\\^x=~<>']-[\\^x=~<>'`]\\)",
];
export const MISCSYMBOL =
  "[+%&~\\^|\\\\¦\\u00A7¨\\u00A9\\u00AC\\u00AE¯\\u00B0-\\u00B3\\u00B4-\\u00BA\\u00D7\\u00F7\\u0387\\u05BE\\u05C0\\u05C3\\u05C6\\u05F3\\u05F4\\u0600-\\u0603\\u0606-\\u060A\\u060C\\u0614\\u061B\\u061E\\u066A\\u066D\\u0703-\\u070D\\u07F6\\u07F7\\u07F8\\u0964\\u0965\\u0E4F\\u1FBD\\u2016\\u2017\\u2020-\\u2023\\u2030-\\u2038\\u203B\\u203E-\\u2042\\u2044\\u207A-\\u207F\\u208A-\\u208E\\u2100-\\u214F\\u2190-\\u21FF\\u2200-\\u2BFF\\u3012\\u30FB\\uFF01-\\uFF0F\\uFF1A-\\uFF20\\uFF3B-\\uFF40\\uFF5B-\\uFF65]";
export const SPMDASH = ["&(?:MD|mdash|ndash);", "[\\u0096\\u0097\\u2013\\u2014\\u2015]"];
export const SPPUNC = "&(?:HT|TL|UR|LR|QC|QL|QR|odq|cdq|#[0-9]+);";
