// Files shipped inside the package (assets/), found from the sources (src/) and from the build (dist/).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root: the folder holding package.json above this module. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`@llava-ts/cli: package.json not found above ${import.meta.url}`);
    dir = up;
  }
  return dir;
}

/** Qwen2.5's tokenizer files (Apache-2.0, see its LICENSE): the demo's real vocabulary. */
export function qwenTokenizerDir(): string {
  return join(packageRoot(), "assets", "qwen2.5-tokenizer");
}
