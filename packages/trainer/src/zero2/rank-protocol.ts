// Messages between the launcher (main thread) and its rank workers. Gradients never travel here; only
// results, errors, and SharedArrayBuffer handles (which are shared, not copied).
import type { CollectiveMemory, SharedMemoryCollectiveOptions } from "./shared-memory-collective.js";

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
  | { type: "error"; name: string; message: string; stack?: string; secondary: boolean }
  | { type: "share"; key: string; buffer: SharedArrayBuffer }
  | { type: "peers"; key: string };

/** Launcher → rank: every rank's buffer shared under `key`, in rank order. */
export interface PeersReply {
  type: "peers";
  key: string;
  buffers: SharedArrayBuffer[];
}
