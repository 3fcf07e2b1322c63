// The entry trainLlava starts for each of N ranks — a worker thread, or a process with launch "processes" —
// running the same rank loop one rank runs in the caller's process. Built as its own tsup entry
// (dist/llava-rank-worker.js); from the sources it is bundled on the fly (core's workerEntryUrl).
import { isRankWorker, runRank } from "../zero2/launch/run-rank.js";
import { isRankProcess, runRankProcess } from "../zero2/launch/run-rank-process.js";
import { type LlavaRankResult, type LlavaRunArgs, trainLlavaRank } from "./llava-rank.js";

if (isRankWorker()) runRank<LlavaRunArgs, LlavaRankResult>(trainLlavaRank);
else if (isRankProcess()) runRankProcess<LlavaRunArgs, LlavaRankResult>(trainLlavaRank);
