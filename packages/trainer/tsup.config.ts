import { defineConfig } from "tsup";

export default defineConfig({
  // ZeRO-2's rank worker is its own entry: trainZero2 starts dist/llava-rank-worker.js (core's workerEntryUrl).
  entry: { index: "src/index.ts", "llava-rank-worker": "src/train-llava/llava-rank-worker.ts" },
  format: ["esm"],
  dts: { entry: "src/index.ts" },
  sourcemap: true,
  clean: true,
  target: "node20",
});
