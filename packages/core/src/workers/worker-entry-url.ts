// Turns a worker entry (a ZeRO-2 rank, a data-loader worker) into something a Worker can start. A built .js
// entry is used as is. A .ts entry (the sources under vitest, or a user's script) is bundled once per process
// with esbuild (tsup's own) into node_modules/.cache, with @llava-ts/* resolved to their sources and tfjs /
// sharp left external, so each worker imports its own @tensorflow/tfjs-core: a fresh engine and backend.

import { nodeBuiltin } from "@llava-ts/files";
import { LlavaError } from "../errors.js";

const NEEDS = "starting a worker thread";
const fs = () => nodeBuiltin("node:fs", NEEDS);
const path_ = () => nodeBuiltin("node:path", NEEDS);
const url_ = () => nodeBuiltin("node:url", NEEDS);

const bundles = new Map<string, Promise<URL>>();

/** The URL to start a Worker on for `entry` (a file URL or path to a .js/.mjs or .ts module). */
export function workerEntryUrl(entry: URL | string): Promise<URL> {
  const url =
    typeof entry === "string" && !entry.startsWith("file:") ? url_().pathToFileURL(entry) : new URL(entry);
  const path = url_().fileURLToPath(url);
  if (!fs().existsSync(path)) return Promise.reject(new LlavaError(`worker entry ${path} does not exist`));
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
  return fs().existsSync(url_().fileURLToPath(js)) ? js : new URL(`./${name}.ts`, base);
}

async function bundle(entry: string): Promise<URL> {
  const packagesDir = findPackagesDir(entry);
  // The bundle sits in the entry's own package so its external imports (tfjs, sharp) resolve from there.
  const cacheRoot = packageRoot(entry);
  let esbuild: { build(options: Record<string, unknown>): Promise<unknown> };
  try {
    const req = nodeBuiltin("node:module", NEEDS).createRequire(
      nodeBuiltin("node:module", NEEDS)
        .createRequire(path_().join(cacheRoot, "package.json"))
        .resolve("tsup"),
    );
    esbuild = req("esbuild");
  } catch (err) {
    throw new LlavaError(
      `starting a worker from ${entry} needs esbuild (via tsup) to bundle it: ${(err as Error).message}`,
    );
  }
  const outDir = path_().join(cacheRoot, "node_modules", ".cache", "llava-ts-workers");
  fs().mkdirSync(outDir, { recursive: true });
  removeStale(outDir);
  const outfile = path_().join(outDir, `worker-${process.pid}-${Date.now()}-${bundles.size}.mjs`);
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
                return { path: path_().join(packagesDir, pkg, "src", sub ?? "", "index.ts") };
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
      fs().unlinkSync(outfile);
    } catch {}
  });
  return url_().pathToFileURL(outfile);
}

/** Bundles left by processes that were killed before their exit handler ran (e.g. test forks). */
function removeStale(dir: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of fs().readdirSync(dir)) {
    const path = path_().join(dir, name);
    try {
      if (name.startsWith("worker-") && fs().statSync(path).mtimeMs < dayAgo) fs().unlinkSync(path);
    } catch {} // another process removed it first
  }
}

/** The nearest folder above `file` with a package.json (else the file's folder). */
function packageRoot(file: string): string {
  for (let dir = path_().dirname(file); dir !== path_().dirname(dir); dir = path_().dirname(dir))
    if (fs().existsSync(path_().join(dir, "package.json"))) return dir;
  return path_().dirname(file);
}

/** The monorepo's packages/ folder when `file` lies inside it. */
function findPackagesDir(file: string): string | undefined {
  let dir = path_().dirname(file);
  while (dir !== path_().dirname(dir)) {
    if (
      fs().existsSync(path_().join(dir, "core", "package.json")) &&
      fs().existsSync(path_().join(dir, "core", "src", "workers"))
    )
      return path_().resolve(dir);
    dir = path_().dirname(dir);
  }
  return undefined;
}
