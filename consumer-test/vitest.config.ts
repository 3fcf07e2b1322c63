import { defineConfig, mergeConfig } from "vitest/config";
import { sharedConfig } from "../vitest.shared.ts";

// One file, its steps in order (installs, then the projects that use what earlier steps wrote); the README
// projects install and run three at a time (npm waits on the network and the disk more than on the cores).
export default mergeConfig(
  sharedConfig,
  defineConfig({
    test: { testTimeout: 600_000, hookTimeout: 600_000, fileParallelism: false, maxConcurrency: 3 },
  }),
);
