// The inference path as a page's bundler meets it: the built packages (resolved through node_modules as a
// user's project resolves them) bundle with esbuild for platform "browser" — no polyfills, nothing marked
// external, no Node built-in and no sharp in the output.
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));

const PACKAGES = ["core", "files", "tokenizer", "clip", "qwen", "projector", "processor", "llava", "lora"];

it("bundles every inference package for the browser with no polyfills", async () => {
  const entry = [
    ...PACKAGES.map((p, i) => `import * as p${i} from "@llava-ts/${p}";`),
    `console.log(${PACKAGES.map((_, i) => `p${i}`).join(", ")});`,
  ].join("\n");
  // esbuild fails on any Node built-in it cannot resolve for the browser: that is the check.
  const result = await build({
    stdin: { contents: entry, resolveDir: here, sourcefile: "entry.js" },
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  expect(result.errors).toEqual([]);
  const inputs = Object.keys(result.metafile.inputs);
  // Every package's code is in, from its built dist (the processor from its browser build).
  for (const p of PACKAGES)
    expect(
      inputs.some((i) => new RegExp(`packages/${p}/dist(-browser)?/`).test(i)),
      p,
    ).toBe(true);
  expect(inputs.some((i) => i.includes("processor/dist-browser/"))).toBe(true);
  expect(inputs.filter((i) => /[/\\]sharp[/\\]|^node:/.test(i))).toEqual([]);
  // Nothing is left for the page to import.
  expect(result.outputFiles[0].text.match(/^import\s.*$/m)?.[0]).toBeUndefined();
});
