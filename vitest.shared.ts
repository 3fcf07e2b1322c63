// Shared vitest settings: tests import sibling packages from their sources (no build needed to test),
// run in forked processes (tfjs keeps global state), and get the long timeouts numeric work needs.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { defineConfig } from "vitest/config";

const root = resolve(import.meta.dirname);

function workspaceAliases(): { find: string; replacement: string }[] {
  const aliases: { find: string; replacement: string }[] = [];
  const dir = join(root, "packages");
  for (const name of readdirSync(dir)) {
    const pkgPath = join(dir, name, "package.json");
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));
    // Subpath exports first so "@llava-ts/core/testing" is not caught by "@llava-ts/core".
    for (const sub of Object.keys(pkg.exports ?? {}).filter((k) => k !== ".")) {
      const rel = sub.slice(2);
      aliases.push({ find: `${pkg.name}/${rel}`, replacement: join(dir, name, "src", rel, "index.ts") });
    }
    aliases.push({ find: pkg.name, replacement: join(dir, name, "src", "index.ts") });
  }
  return aliases;
}

/** vitest runs in the package's folder: does that package depend on tfjs? */
const hasTfjs = existsSync(join(process.cwd(), "node_modules/@tensorflow/tfjs-core/package.json"));

export const sharedConfig = defineConfig({
  resolve: { alias: workspaceAliases() },
  test: {
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // tfjs-core's gradient and chained-op registrations are extensionless ESM: pre-bundled once by vite
    // (in packages that have tensors; errors and tokenizer install no tfjs).
    deps: {
      optimizer: {
        ssr: {
          enabled: hasTfjs,
          include: hasTfjs
            ? [
                "@tensorflow/tfjs-core/dist/register_all_gradients",
                "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops",
              ]
            : [],
        },
      },
    },
  },
});
