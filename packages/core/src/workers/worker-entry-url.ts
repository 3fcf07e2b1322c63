// Turns a worker entry (a ZeRO-2 rank, a data-loader worker) into something a Worker can start. A built .js
// entry is used as is. A .ts entry (the sources under vitest, or a user's script) is bundled once per process
// with esbuild (tsup's own) into node_modules/.cache, with @llava-ts/* resolved to their sources and tfjs /
// sharp left external, so each worker imports its own @tensorflow/tfjs-core: a fresh engine and backend.
import { existsSync, mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LlavaError } from "../errors.js";

const bundles = new Map<string, Promise<URL>>();

/** The URL to start a Worker on for `entry` (a file URL or path to a .js/.mjs or .ts module). */
export function workerEntryUrl(entry: URL | string): Promise<URL> {
  const url = typeof entry === "string" && !entry.startsWith("file:") ? pathToFileURL(entry) : new URL(entry);
  const path = fileURLToPath(url);
  if (!existsSync(path)) return Promise.reject(new LlavaError(`worker entry ${path} does not exist`));
  if (!/\.(mts|ts)$/.test(path)) return Promise.resolve(url);
  let bundled = bundles.get(path);
  if (!bundled) {
    bundled = bundle(path);
    bundles.set(path, bundled);
  }
  return bundled;
}

/** The built entry `name`.js beside this module (dist), else `name`.ts (sources). */
export function siblingEntry(name: string, base: string): URL {
  const js = new URL(`./${name}.js`, base);
  return existsSync(fileURLToPath(js)) ? js : new URL(`./${name}.ts`, base);
}

async function bundle(entry: string): Promise<URL> {
  const packagesDir = findPackagesDir(entry);
  // The bundle sits in the entry's own package so its external imports (tfjs, sharp) resolve from there.
  const cacheRoot = packageRoot(entry);
  let esbuild: { build(options: Record<string, unknown>): Promise<unknown> };
  try {
    const req = createRequire(createRequire(join(cacheRoot, "package.json")).resolve("tsup"));
    esbuild = req("esbuild");
  } catch (err) {
    throw new LlavaError(
      `starting a worker from ${entry} needs esbuild (via tsup) to bundle it: ${(err as Error).message}`,
    );
  }
  const outDir = join(cacheRoot, "node_modules", ".cache", "llava-ts-workers");
  mkdirSync(outDir, { recursive: true });
  removeStale(outDir);
  const outfile = join(outDir, `worker-${process.pid}-${Date.now()}-${bundles.size}.mjs`);
  type Resolver = { onResolve(o: { filter: RegExp }, f: (a: { path: string }) => object): void };
  const plugins = [
    {
      // tfjs packages load from node_modules (each worker gets its own engine); the deep tfjs-core files
      // core registers gradients and chained ops from are extensionless ESM, so they are bundled.
      name: "llava-ts-externals",
      setup(build: Resolver) {
        build.onResolve({ filter: /^@tensorflow\/[^/]+$/ }, (args) => ({ path: args.path, external: true }));
      },
    },
    ...(packagesDir
      ? [
          {
            name: "llava-ts-sources",
            setup(build: Resolver) {
              build.onResolve({ filter: /^@llava-ts\/[^/]+(\/[^/]+)?$/ }, (args) => {
                const [pkg, sub] = args.path.slice("@llava-ts/".length).split("/");
                return { path: join(packagesDir, pkg, "src", sub ?? "", "index.ts") };
              });
            },
          },
        ]
      : []),
  ];
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
    // Native and wasm packages load from node_modules; everything else (our sources) is inlined.
    external: ["sharp", "esbuild"],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    plugins,
  });
  process.once("exit", () => {
    try {
      unlinkSync(outfile);
    } catch {}
  });
  return pathToFileURL(outfile);
}

/** Bundles left by processes that were killed before their exit handler ran (e.g. test forks). */
function removeStale(dir: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    try {
      if (name.startsWith("worker-") && statSync(path).mtimeMs < dayAgo) unlinkSync(path);
    } catch {} // another process removed it first
  }
}

/** The nearest folder above `file` with a package.json (else the file's folder). */
function packageRoot(file: string): string {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir))
    if (existsSync(join(dir, "package.json"))) return dir;
  return dirname(file);
}

/** The monorepo's packages/ folder when `file` lies inside it. */
function findPackagesDir(file: string): string | undefined {
  let dir = dirname(file);
  while (dir !== dirname(dir)) {
    if (existsSync(join(dir, "core", "package.json")) && existsSync(join(dir, "core", "src", "workers")))
      return resolve(dir);
    dir = dirname(dir);
  }
  return undefined;
}
