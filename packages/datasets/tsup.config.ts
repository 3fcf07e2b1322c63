import { defineConfig } from "tsup";

export default defineConfig({
  // The worker is its own entry: the loader starts it as dist/loader-worker.js (see src/worker-url.ts).
  entry: { index: "src/index.ts", "loader-worker": "src/loader-worker.ts" },
  format: ["esm"],
  dts: { entry: "src/index.ts" },
  sourcemap: true,
  clean: true,
  target: "node20",
});
