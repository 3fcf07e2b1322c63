// Messages from rank workers to the launcher (main thread): a result or an error. Gradients never travel
// here; the collective's SharedArrayBuffers go once, in workerData.
import type {
  CollectiveMemory,
  SharedMemoryCollectiveOptions,
} from "../collective/shared-memory-collective.js";

export const RANK_WORKER_KIND = "llava-ts.zero2.rank";

export interface RankWorkerData {
  kind: typeof RANK_WORKER_KIND;
  rank: number;
  memory: CollectiveMemory;
  collective: SharedMemoryCollectiveOptions;
  args: unknown;
}

/** Rank → launcher. */
export type RankMessage =
  | { type: "result"; value: unknown }
  | { type: "log"; line: string }
  | { type: "error"; name: string; message: string; stack?: string; secondary: boolean };
