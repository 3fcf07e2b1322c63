// Bundles this package's sources (and the sibling packages' sources) into node_modules/.cache/dev-build so
// scripts run without building every package: index.js + loader-worker.js side by side, as in dist.
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const packagesDir = resolve(pkgDir, "..");

export async function devBuild() {
  const esbuild = createRequire(createRequire(join(pkgDir, "package.json")).resolve("tsup"))("esbuild");
  const outdir = join(pkgDir, "node_modules", ".cache", "dev-build");
  await esbuild.build({
    entryPoints: {
      index: join(pkgDir, "src/index.ts"),
      "loader-worker": join(pkgDir, "src/loader-worker.ts"),
    },
    outdir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    external: ["sharp", "@tensorflow/*"],
    plugins: [
      {
        name: "llava-ts-sources",
        setup(build) {
          build.onResolve({ filter: /^@llava-ts\/[^/]+(\/[^/]+)?$/ }, (args) => {
            const [pkg, sub] = args.path.slice("@llava-ts/".length).split("/");
            return { path: join(packagesDir, pkg, "src", sub ?? "", "index.ts") };
          });
        },
      },
    ],
  });
  return import(pathToFileURL(join(outdir, "index.js")).href);
}
