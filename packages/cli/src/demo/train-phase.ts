// Runs one training phase of the demo on N worker-thread ranks with ZeRO-2 (see demo-rank-worker.ts).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { launchRanks } from "@llava-ts/trainer";
import type { DemoRankArgs, DemoRankResult } from "./demo-rank-worker.js";

/** The built worker beside this module (dist/), else the TypeScript source (bundled by launchRanks). */
function workerEntry(): URL {
  for (const name of ["./demo-rank-worker.js", "./demo/demo-rank-worker.js", "./demo-rank-worker.ts"]) {
    const url = new URL(name, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  throw new Error(`demo-rank-worker not found next to ${import.meta.url}`);
}

export async function trainDemoPhase(worldSize: number, args: DemoRankArgs): Promise<DemoRankResult> {
  const job = await launchRanks<DemoRankArgs, DemoRankResult>({ worldSize, entry: workerEntry(), args });
  const [r0] = await job.result;
  return r0;
}
