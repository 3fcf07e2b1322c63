import { defineConfig } from "tsup";

export default defineConfig({
  // The rank worker is its own entry: trainLlava starts dist/llava-rank-worker.js for N ranks.
  entry: {
    index: "src/index.ts",
    internal: "src/internal/index.ts",
    "llava-rank-worker": "src/train-llava/llava-rank-worker.ts",
  },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts", internal: "src/internal/index.ts" } },
  sourcemap: true,
  clean: true,
  target: "node20",
});
