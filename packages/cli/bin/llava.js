#!/usr/bin/env node
// The `llava` command. A committed launcher (not dist/bin.js itself) so that package managers can link the
// bin before the package is built; it runs the built CLI, or says how to build it.
import { existsSync } from "node:fs";

const built = new URL("../dist/bin.js", import.meta.url);
if (!existsSync(built)) {
  process.stderr.write(
    "llava: @llava-ts/cli is not built yet; run `pnpm build` (or `pnpm turbo run build --filter=@llava-ts/cli...`)\n",
  );
  process.exit(1);
}
await import(built.href);
