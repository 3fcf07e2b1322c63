import { packageConfig } from "../../tsup.shared.ts";

// The worker is its own entry: the loader starts it as dist/loader-worker.js (see src/worker-url.ts).
export default packageConfig(
  { index: "src/index.ts", internal: "src/internal/index.ts", "loader-worker": "src/loader-worker.ts" },
  { dts: { entry: { index: "src/index.ts", internal: "src/internal/index.ts" } } },
);
