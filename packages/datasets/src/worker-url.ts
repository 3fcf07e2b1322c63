// Where the worker entry lives. From the built package: dist/loader-worker.js beside this code. From the
// TypeScript sources (vitest, other packages' tests) Node 20 cannot run .ts, so the entry is bundled once per
// process with esbuild (tsup's own) into node_modules/.cache, keeping sharp and tfjs external.
import { existsSync, mkdirSync, unlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

let bundled: Promise<URL> | undefined;

export function loaderWorkerUrl(): Promise<URL> {
  const built = new URL("./loader-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(built))) return Promise.resolve(built);
  const source = fileURLToPath(new URL("./loader-worker.ts", import.meta.url));
  if (!existsSync(source))
    return Promise.reject(
      new Error(`no loader worker next to ${fileURLToPath(import.meta.url)} (build the package)`),
    );
  bundled ??= bundleFromSource(source);
  return bundled;
}

async function bundleFromSource(entry: string): Promise<URL> {
  const pkgDir = resolve(dirname(entry), "..");
  const packagesDir = resolve(pkgDir, "..");
  let esbuild: { build(options: Record<string, unknown>): Promise<unknown> };
  try {
    const req = createRequire(createRequire(join(pkgDir, "package.json")).resolve("tsup"));
    esbuild = req("esbuild");
  } catch (err) {
    throw new Error(
      `running the loader from sources needs esbuild (via tsup) to bundle the worker: ${(err as Error).message}`,
    );
  }
  const outDir = join(pkgDir, "node_modules", ".cache", "llava-ts-datasets");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `loader-worker-${process.pid}-${Date.now()}.mjs`);
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
    // Native and wasm packages must load from node_modules; the rest (our sources) is inlined.
    external: ["sharp", "@tensorflow/*"],
    plugins: [
      {
        name: "llava-ts-sources",
        setup(build: {
          onResolve(o: { filter: RegExp }, f: (a: { path: string }) => { path: string }): void;
        }) {
          build.onResolve({ filter: /^@llava-ts\/[^/]+$/ }, (args) => ({
            path: join(packagesDir, args.path.slice("@llava-ts/".length), "src", "index.ts"),
          }));
        },
      },
    ],
  });
  process.once("exit", () => {
    try {
      unlinkSync(outfile);
    } catch {}
  });
  return pathToFileURL(outfile);
}
