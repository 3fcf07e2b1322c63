// Fresh npm projects outside the workspace, installed from the throwaway registry, and what they weigh.
import { existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Registry } from "./registry.js";
import { runOk } from "./run.js";

/** An empty ESM project (or `manifest`, e.g. an example's package.json) in `dir`. */
export function newProject(dir: string, manifest?: object): string {
  mkdirSync(dir, { recursive: true });
  const pkg = manifest ?? { name: dir.split("/").pop(), private: true, type: "module" };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  return dir;
}

/** `npm install [specs]` from the registry, as a user would, revalidating every manifest with it. */
export async function npmInstall(
  registry: Registry,
  dir: string,
  specs: readonly string[] = [],
): Promise<void> {
  await runOk(
    "npm",
    [
      "install",
      ...specs,
      "--registry",
      registry.url,
      "--prefer-online",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
    ],
    { cwd: dir },
  );
}

export interface InstallSize {
  /** Installed packages (folders with a package.json under node_modules, nested ones included). */
  packages: number;
  /** Sum of the files' sizes. */
  bytes: number;
  /** Disk use, as `du` counts it (blocks). */
  diskBytes: number;
  names: string[];
}

/** Walks node_modules: every package and every file's size. */
export function measure(dir: string): InstallSize {
  const names: string[] = [];
  let bytes = 0;
  let diskBytes = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = lstatSync(p);
      bytes += st.isFile() ? st.size : 0;
      diskBytes += st.blocks * 512;
      if (e.isDirectory()) walk(p);
      else if (e.name === "package.json" && isPackageRoot(p)) names.push(packageName(p));
    }
  };
  walk(join(dir, "node_modules"));
  return { packages: names.length, bytes, diskBytes, names: names.sort() };
}

/** node_modules/<name>/package.json or node_modules/@scope/<name>/package.json. */
function isPackageRoot(file: string): boolean {
  const parts = dirname(file).split("/");
  const i = parts.lastIndexOf("node_modules");
  const rest = parts.slice(i + 1);
  return (
    i >= 0 &&
    (rest.length === 1
      ? !rest[0].startsWith("@") && !rest[0].startsWith(".")
      : rest.length === 2 && rest[0].startsWith("@"))
  );
}

function packageName(file: string): string {
  const parts = dirname(file).split("/");
  return parts.slice(parts.lastIndexOf("node_modules") + 1).join("/");
}

/** Where an installed package sits, found as Node would from `dir` (for checking copies). */
export function installedCopies(dir: string, name: string): string[] {
  const out: string[] = [];
  const walk = (nm: string) => {
    if (!existsSync(nm)) return;
    if (existsSync(join(nm, name, "package.json"))) out.push(join(nm, name));
    for (const e of readdirSync(nm, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith(".")) continue;
      const pkgs = e.name.startsWith("@")
        ? readdirSync(join(nm, e.name)).map((n) => join(nm, e.name, n))
        : [join(nm, e.name)];
      for (const p of pkgs) walk(join(p, "node_modules"));
    }
  };
  walk(join(dir, "node_modules"));
  return out;
}

/** du -h's megabyte. */
export const MiB = 2 ** 20;
