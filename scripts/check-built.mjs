#!/usr/bin/env node
// prepack of every package: refuse to pack a package whose build is missing, so a tarball never ships
// without dist/. (Not a staleness check by file times: turbo restores cached builds with their original
// times, and a cache hit is by definition the build of the current sources.) Runs in the package's folder.
import { existsSync, readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));

/** Every file path the manifest points at: exports (all conditions), bin, main, types. */
function targets(value, out = []) {
  if (typeof value === "string") out.push(value);
  else if (value && typeof value === "object") for (const v of Object.values(value)) targets(v, out);
  return out;
}

const missing = [...new Set(targets([pkg.exports, pkg.bin, pkg.main, pkg.types]))].filter(
  (f) => !existsSync(f),
);
if (missing.length) {
  console.error(`${pkg.name}: not built (missing ${missing.join(", ")}); run \`pnpm build\` before packing`);
  process.exit(1);
}
