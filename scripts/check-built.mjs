#!/usr/bin/env node
// prepack of every package: refuse to pack a package whose build is missing or older than its sources,
// so a tarball never ships without dist/ or with yesterday's code. Runs in the package's folder.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));

/** Every file path the manifest points at: exports (all conditions), bin, main, types. */
function targets(value, out = []) {
  if (typeof value === "string") out.push(value);
  else if (value && typeof value === "object") for (const v of Object.values(value)) targets(v, out);
  return out;
}
const files = [...new Set(targets([pkg.exports, pkg.bin, pkg.main, pkg.types]))];

function newestSource(dir) {
  let newest = { time: 0, file: "" };
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || /\.test\.ts$/.test(entry.name)) continue;
    const file = join(entry.parentPath ?? entry.path, entry.name);
    const time = statSync(file).mtimeMs;
    if (time > newest.time) newest = { time, file };
  }
  return newest;
}

const missing = files.filter((f) => !existsSync(f));
if (missing.length) {
  console.error(`${pkg.name}: not built (missing ${missing.join(", ")}); run \`pnpm build\` before packing`);
  process.exit(1);
}
const source = newestSource("src");
const stale = files.filter((f) => f.startsWith("./dist/") && statSync(f).mtimeMs < source.time);
if (stale.length) {
  console.error(`${pkg.name}: ${stale[0]} is older than ${source.file}; run \`pnpm build\` before packing`);
  process.exit(1);
}
