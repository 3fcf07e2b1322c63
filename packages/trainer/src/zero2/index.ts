// ZeRO-2 data parallelism: the Collective, its shared-memory implementation over worker threads, the rank
// launcher, the partitioned AdamW, the Trainer hooks, its checkpoint format, and trainZero2 for LLaVA.
// One process per rank (per GPU): TcpCollective, launchProcesses and runRankProcess.

export { workerEntryUrl } from "@llava-ts/core";
export {
  type PlainTrainerOptions,
  type RankDataSource,
  type RankRunResult,
  type TrainZero2Options,
  type TrainZero2Result,
  trainZero2,
} from "../train-llava/train-llava.js";
export { type Collective, CollectiveError, partitionRange, type ReduceOp } from "./collective/collective.js";
export {
  abortCollective,
  abortedBy,
  type CollectiveMemory,
  createCollectiveMemory,
  SharedMemoryCollective,
  type SharedMemoryCollectiveOptions,
} from "./collective/shared-memory-collective.js";
export { TcpCollective, type TcpCollectiveOptions } from "./collective/tcp-collective.js";
export type { RendezvousOptions } from "./collective/tcp-rendezvous.js";
export { TimedCollective } from "./collective/timed-collective.js";
export {
  type FlatLayout,
  type FlatParam,
  type FlatSegment,
  flatLayout,
  partitionOf,
  segmentsIn,
} from "./flat-layout.js";
export { type LaunchProcessesOptions, launchProcesses, type ProcessJob } from "./launch/launch-processes.js";
export { type LaunchOptions, launchRanks, RankError, type RankJob } from "./launch/launch-ranks.js";
export { isRankWorker, type RankContext, runRank } from "./launch/run-rank.js";
export {
  isRankProcess,
  type RankProcessContext,
  rankProcessArgs,
  runRankProcess,
} from "./launch/run-rank-process.js";
export { PartitionedAdamW, type PartitionedAdamWOptions } from "./partitioned-adamw.js";
export { everyNth, rankRows } from "./rank-data.js";
export { readZeroOptimizerState } from "./read-zero-optimizer-state.js";
export { type LossWeighting, labelledTokens, Zero2, type Zero2Options } from "./zero2.js";
export {
  consolidateZeroCheckpoint,
  ZERO_LATEST_FILE,
  ZERO_PARTITIONS_FILE,
  type ZeroPartitionsJson,
  zeroRankFile,
  zeroStepDir,
} from "./zero2-checkpoint.js";
