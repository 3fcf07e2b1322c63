import { packageConfig } from "../../tsup.shared.ts";

// The demo's ZeRO-2 rank worker is its own entry: launchRanks starts dist/demo-rank-worker.js; each rank of
// `llava train --ranks N` imports dist/rank-data.js to open its shard of the dataset.
export default packageConfig({
  index: "src/index.ts",
  bin: "src/bin.ts",
  "demo-rank-worker": "src/demo/demo-rank-worker.ts",
  "rank-data": "src/train/rank-data.ts",
});
