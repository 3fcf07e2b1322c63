// Another version of a packed package: the same files under a new version (and dependency ranges), as if
// it had been released later. For installing two versions side by side.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runOk } from "./run.js";

/** The next minor of a 0.x or x.y.z version: 0.1.0 → 0.2.0 (outside ^0.1.0). */
export function nextMinor(version: string): string {
  const [major, minor] = version.split(".").map(Number);
  return `${major}.${minor + 1}.0`;
}

export async function repack(
  tarball: string,
  dir: string,
  change: { version: string; dependencies?: Record<string, string> },
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await runOk("tar", ["xzf", tarball, "-C", dir], { cwd: dir });
  const file = join(dir, "package", "package.json");
  const manifest = JSON.parse(readFileSync(file, "utf8"));
  manifest.version = change.version;
  Object.assign(manifest.dependencies, change.dependencies ?? {});
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  // --ignore-scripts: prepack checks a source checkout's build, and this folder is a built package.
  const r = await runOk("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], {
    cwd: join(dir, "package"),
  });
  return join(dir, JSON.parse(r.stdout)[0].filename);
}
