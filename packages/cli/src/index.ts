// @llava-ts/cli: the `llava` command, and each subcommand as a function for scripts and tests. The demo's
// pieces (tiny checkpoints, caption sets) are in "./internal".

export { type CommandSpec, type FlagSpec, helpText, parseFlags, UsageError } from "./args.js";
export { qwenTokenizerDir } from "./assets.js";
export { type BuildOptions, buildSpec, runBuild } from "./commands/build.js";
export { type ChatOptions, chatSpec, runChat } from "./commands/chat.js";
export { evalSpec } from "./commands/eval.js";
export { type InferOptions, inferSpec, runInfer } from "./commands/infer.js";
export { type MergeOptions, mergeSpec, runMerge } from "./commands/merge.js";
export { trainOptionsFromFlags, trainSpec } from "./commands/train.js";
export { type DemoOptions, type DemoResult, runDemo } from "./demo/run-demo.js";
export {
  type EvalResult,
  type EvaluateOptions,
  evaluate,
  type Prediction,
  splitLastAnswer,
} from "./eval/evaluate.js";
export { type EvalCommandOptions, evalMetrics, formatEvalLines, runEval } from "./eval/run-eval.js";
export type { CliIO, TextSink } from "./io.js";
export { type GenerationSettings, LlavaSession, type PromptRequest } from "./llava-session.js";
export { COMMANDS, main, usage } from "./main.js";
export {
  DEFAULT_PROMPT_FORMAT,
  type ImagePosition,
  PROMPT_FORMAT_FILE,
  type PromptFormat,
  placeImages,
  promptFormatOf,
  readPromptFormat,
  writePromptFormat,
} from "./prompt-format.js";
export {
  type CurveOptions,
  type CurvePoint,
  writeLossCurve,
  writeRunLossCurve,
} from "./train/loss-curve.js";
export {
  loraConfigInput,
  runTrain,
  type TrainOptions,
  type TrainOutcome,
  trainLlavaOptions,
} from "./train/run-train.js";
