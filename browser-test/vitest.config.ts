import { defineConfig, mergeConfig } from "vitest/config";
import { sharedConfig } from "../vitest.shared.ts";

// Bundles and a browser: one file at a time (Chromium and the build would fight for the two cores).
export default mergeConfig(
  sharedConfig,
  defineConfig({ test: { testTimeout: 600_000, hookTimeout: 600_000, fileParallelism: false } }),
);
