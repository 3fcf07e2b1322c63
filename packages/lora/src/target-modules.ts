// Which modules a LoraConfig selects, with PEFT's rules (peft/tuners/tuners_utils.py,
// check_target_module_exists): a string is a regex that must match the whole name; a list entry matches
// the name itself or a suffix that starts after a dot ("q_proj" matches "…self_attn.q_proj", not "xq_proj").

/** Whether module `name` is selected by `target_modules`. */
export function matchesTargetModules(name: string, target: readonly string[] | string): boolean {
  if (typeof target === "string") return fullMatch(target).test(name);
  return matchesSuffix(name, target);
}

/** name === t or name ends with "." + t, for some t (also how modules_to_save entries are matched). */
export function matchesSuffix(name: string, suffixes: readonly string[]): boolean {
  return suffixes.some((t) => name === t || name.endsWith(`.${t}`));
}

/**
 * rank_pattern / alpha_pattern lookup: the first key k with `(.*\.)?k$` matching the whole name wins,
 * as PEFT's `re.match(rf"(.*\.)?{key}$", name)`; otherwise `fallback`.
 */
export function patternValue(
  name: string,
  pattern: Readonly<Record<string, number>>,
  fallback: number,
): number {
  for (const [key, value] of Object.entries(pattern))
    if (new RegExp(`^(?:.*\\.)?(?:${key})$`).test(name)) return value;
  return fallback;
}

/**
 * A target_modules regex that selects exactly `wrapped` among `modules` (every module path of the model
 * before wrapping), for the adapter file: PEFT applies target_modules to the whole model, so a suffix
 * list would also wrap what llava-ts' scope left out (CLIP's q/k/v_proj). Preferred form, as PEFT's
 * own configs: `.*language_model.*\.(q_proj|k_proj|…)` for `targets` (a suffix list) within `prefixes`
 * (null = the whole model); `targets` itself when it is already an exact regex; else the wrapped paths.
 */
export function exactTargetRegex(
  wrapped: readonly string[],
  modules: readonly string[],
  targets: readonly string[] | string,
  prefixes: readonly string[] | null,
): string {
  const want = new Set(wrapped);
  const exact = (re: string) => modules.every((m) => fullMatch(re).test(m) === want.has(m));
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const alt = (xs: readonly string[]) => xs.map(esc).join("|");
  const within = (xs: readonly string[]) => (xs.length === 1 ? esc(xs[0]) : `(${alt(xs)})`);
  const preferred =
    typeof targets === "string"
      ? targets
      : `${prefixes === null ? "(.*\\.)?" : `.*${within(prefixes)}.*\\.`}(${alt(targets)})`;
  return exact(preferred) ? preferred : `(${alt(wrapped)})`;
}

const cache = new Map<string, RegExp>();

/** Python's re.fullmatch as a JS RegExp. */
function fullMatch(source: string): RegExp {
  let re = cache.get(source);
  if (!re) {
    re = new RegExp(`^(?:${source})$`);
    cache.set(source, re);
  }
  return re;
}
