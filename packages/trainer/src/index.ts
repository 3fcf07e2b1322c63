// @llava-ts/trainer: train a LLaVA on one rank or N (ZeRO-2) with the tutorial's four strategies, AdamW
// as torch, HF's LR schedules, accumulation and clipping, atomic checkpoints that resume exactly on any
// number of ranks, metrics and progress. The building blocks below the Trainer are in "./internal".

export type { AdamWOptions } from "./adamw.js";
export {
  applyStrategy,
  formatStrategySummary,
  type PartSummary,
  STRATEGIES,
  type Strategy,
  type StrategyOptions,
  type StrategySummary,
  summarizeTrainable,
} from "./apply-strategy.js";
export type { EpochSource, TrainData } from "./batch-stream.js";
export { type CheckpointInfo, latestCheckpoint, listCheckpoints } from "./checkpoint/checkpoint-dir.js";
export {
  defaultSaver,
  fullModelSaver,
  loraAdapterSaver,
  type ModelSaver,
  trainableSaver,
} from "./checkpoint/model-saver.js";
export type { DataPosition, LogEntry } from "./checkpoint/trainer-state.js";
export { countBatch, evalBatchLoss, type LlavaLike, labelledTokens, llavaTask } from "./llava-task.js";
export type { ScheduleOptions, ScheduleType } from "./lr-schedule.js";
export type { ProgressStream } from "./progress-bar.js";
export { type LossWeighting, rankLossWeight } from "./rank-loss-weight.js";
export type {
  LlavaEvalArgs,
  LlavaRankResult,
  LlavaRunArgs,
  PlainTrainerOptions,
} from "./train-llava/llava-rank.js";
export type { LlavaDataSpec, RankData } from "./train-llava/rank-data.js";
export { type TrainLlavaOptions, type TrainLlavaResult, trainLlava } from "./train-llava/train-llava.js";
export type { BatchCounts, PreparedStep, RowGradient, TrainTask } from "./train-task.js";
export { Trainer, type TrainResult } from "./trainer.js";
export type {
  EvaluationOptions,
  SaveStrategy,
  StepControl,
  TrainerCallback,
  TrainerOptions,
} from "./trainer-options.js";
export { TrainingError } from "./training-error.js";
export { evalLossPoints, lossPoints, type StepResult } from "./training-log.js";
// ZeRO-2 for your own model and rank entry: collectives, launchers, data sharding, checkpoint tools.
export { type Collective, CollectiveError, type ReduceOp } from "./zero2/collective/collective.js";
export { LocalCollective } from "./zero2/collective/local-collective.js";
export {
  SharedMemoryCollective,
  type SharedMemoryCollectiveOptions,
} from "./zero2/collective/shared-memory-collective.js";
export { TcpCollective, type TcpCollectiveOptions } from "./zero2/collective/tcp-collective.js";
export type { RendezvousOptions } from "./zero2/collective/tcp-rendezvous.js";
export {
  type LaunchProcessesOptions,
  launchProcesses,
  type ProcessJob,
} from "./zero2/launch/launch-processes.js";
export { type LaunchOptions, launchRanks, RankError, type RankJob } from "./zero2/launch/launch-ranks.js";
export { isRankWorker, type RankContext, runRank } from "./zero2/launch/run-rank.js";
export { isRankProcess, type RankProcessContext, runRankProcess } from "./zero2/launch/run-rank-process.js";
export { everyNth, rankRows } from "./zero2/rank-data.js";
export { consolidateZeroCheckpoint } from "./zero2/zero2-checkpoint.js";
