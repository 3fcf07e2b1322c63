// A package README as a user reads it: the `npm i …` line of its first sh block and its first ts block, the
// snippet, turned into a runnable .mjs (types stripped by TypeScript, nothing else changed).
import { readFileSync } from "node:fs";
import ts from "typescript";

export interface ReadmeSnippet {
  /** The packages of the README's `npm i` line. */
  install: string[];
  /** The first ```ts block. */
  code: string;
  /** The same as plain JavaScript. */
  js: string;
}

function blocks(markdown: string, lang: string): string[] {
  const re = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\``, "gm");
  return [...markdown.matchAll(re)].map((m) => m[1]);
}

export function readmeSnippet(file: string): ReadmeSnippet {
  const md = readFileSync(file, "utf8");
  const line = blocks(md, "sh")
    .flatMap((b) => b.split("\n"))
    .map((l) => l.replace(/#.*/, "").trim())
    .find((l) => /^npm (i|install) /.test(l) && !/\s-g\b/.test(l));
  if (!line) throw new Error(`${file}: no \`npm i …\` line in a sh block`);
  const code = blocks(md, "ts")[0];
  if (!code) throw new Error(`${file}: no ts block`);
  const js = ts.transpileModule(code, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    reportDiagnostics: false,
  }).outputText;
  return { install: line.split(/\s+/).slice(2), code, js };
}

/** The npm packages a module imports (static, type, side-effect and dynamic imports; node: builtins left out). */
export function importedPackages(js: string): string[] {
  const specifiers = [
    ...js.matchAll(/^\s*import\s+(?:[\s\S]*?\sfrom\s+)?["']([^"']+)["']/gm),
    ...js.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]);
  const names = specifiers
    .filter((s) => !s.startsWith("node:") && !s.startsWith("."))
    .map((s) =>
      s
        .split("/")
        .slice(0, s.startsWith("@") ? 2 : 1)
        .join("/"),
    );
  return [...new Set(names)];
}
