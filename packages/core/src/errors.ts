// The error classes live in @llava-ts/errors, which has no tensors: the tokenizer throws them without
// installing tfjs. Core re-exports them, so `import { ConfigError } from "@llava-ts/core"` still works.
export * from "@llava-ts/errors";
