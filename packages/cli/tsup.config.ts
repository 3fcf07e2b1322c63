import { packageConfig } from "../../tsup.shared.ts";

// The demo's ZeRO-2 rank worker is its own entry: launchRanks starts dist/demo-rank-worker.js.
export default packageConfig({
  index: "src/index.ts",
  bin: "src/bin.ts",
  "demo-rank-worker": "src/demo/demo-rank-worker.ts",
});
