// @llava-ts/trainer: the four LLaVA training strategies, AdamW as torch, HF's LR schedules, gradient
// accumulation and clipping, atomic checkpoints with exact resume, metrics, progress and a loss curve.

export { accumulateGradients, type MicroBatchInfo } from "./accumulate-gradients.js";
export {
  type AdamState,
  AdamW,
  type AdamWHyper,
  type AdamWOptions,
  adamwUpdate,
  type Optimizer,
  type OptimizerParam,
  writeVariable,
} from "./adamw.js";
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
export {
  type EpochSource,
  epochLength,
  isEpochSource,
  type PositionedBatch,
  positionedBatches,
  type TrainData,
} from "./batch-stream.js";
export {
  CHECKPOINT_PREFIX,
  type CheckpointInfo,
  latestCheckpoint,
  listCheckpoints,
  rotateCheckpoints,
  TRAINER_STATE_FILE,
  writeCheckpointAtomically,
} from "./checkpoint/checkpoint-dir.js";
export {
  adapterSaver,
  defaultSaver,
  fullModelSaver,
  loraAdapterSaver,
  type ModelSaver,
  trainableSaver,
} from "./checkpoint/model-saver.js";
export {
  type DataPosition,
  type LogEntry,
  pythonJson,
  readTrainerState,
  type TrainerStateJson,
} from "./checkpoint/trainer-state.js";
export {
  type RunInfo,
  resumeTraining,
  saveTrainingCheckpoint,
  type TrainingSnapshot,
} from "./checkpoint/training-checkpoint.js";
export { clipCoefficient, clipGradNorm, GradientBuffer } from "./gradient-buffer.js";
export { type LlavaLike, llavaTask } from "./llava-task.js";
export { type CurveOptions, type CurvePoint, lossCurveSvg, niceTicks, writeLossCurve } from "./loss-curve.js";
export { LrSchedule, type ScheduleOptions, type ScheduleType } from "./lr-schedule.js";
export { MetricsLogger, type StepMetrics } from "./metrics-logger.js";
export { loadOptimizerState, OPTIMIZER_FILE, saveOptimizerState } from "./optimizer-state.js";
export { formatDuration, ProgressBar, type ProgressStream, type ProgressUpdate } from "./progress-bar.js";
export { type Batch, type BatchCounts, countBatch, type PreparedStep, type TrainTask } from "./train-task.js";
export { Trainer, type TrainResult } from "./trainer.js";
export type { TrainerHooks, TrainerOptions } from "./trainer-options.js";
export { TrainingError } from "./training-error.js";
export { isNormModule, noDecayParameterNames } from "./weight-decay-groups.js";
export * from "./zero2/index.js";
