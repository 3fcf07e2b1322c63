// Errors the training loop raises; they name the step so a failed run can be resumed or debugged.
import { LlavaError } from "@llava-ts/core";

/** Training stopped: a non-finite loss, a bad option, a checkpoint that cannot be used. */
export class TrainingError extends LlavaError {
  override name = "TrainingError";
  constructor(
    message: string,
    /** The optimizer step (1-based) being computed when it failed, when there was one. */
    readonly step?: number,
  ) {
    super(step !== undefined ? `step ${step}: ${message}` : message);
  }
}
