// The demo's working folder: created and marked by the demo, so that a later run may wipe it — and only
// then. An existing folder with anything else in it is refused: `--out ~/photos` must not delete photos.
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../args.js";
import { makeWritableFolder } from "../output-dir.js";

/** The file that marks a folder as the demo's own. */
export const DEMO_MARKER = ".llava-demo";

/** Makes `out` an empty folder owned by the demo, or throws if it holds files the demo did not write. */
export function prepareDemoFolder(out: string): void {
  if (existsSync(out)) {
    if (!statSync(out).isDirectory())
      throw new UsageError(`llava demo: --out ${out} is a file, not a folder`, "--out");
    const entries = readdirSync(out);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER))
      throw new UsageError(
        `llava demo: --out ${out} is a non-empty folder that llava demo did not create; give a new or empty folder`,
        "--out",
      );
  }
  makeWritableFolder("demo", "--out", out); // a read-only --out fails here, before anything is removed
  // Its contents, not the folder itself (which may be a mount point, or have permissions of its own).
  for (const entry of readdirSync(out)) rmSync(join(out, entry), { recursive: true, force: true });
  writeFileSync(join(out, DEMO_MARKER), "made by llava demo; it wipes this folder when run here again\n");
}
