// The one tsup setup every package builds with: ESM + .d.ts for Node 20; packages differ only in entries.
// keepNames: esbuild renames classes it must disambiguate (_Qwen2ForCausalLM), and constructor.name is
// what saveAdapter writes as PEFT's auto_mapping and what errors print.
import { defineConfig, type Options } from "tsup";

export function packageConfig(entry: Options["entry"] = ["src/index.ts"], extra: Options = {}) {
  return defineConfig({
    entry,
    format: ["esm"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    keepNames: true,
    ...extra,
  });
}
