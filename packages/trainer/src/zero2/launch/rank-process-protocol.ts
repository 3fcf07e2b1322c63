// What launchProcesses hands a rank process (environment variables, as torchrun does) and what the
// process reports back on its IPC channel (structured-cloned, so typed arrays survive). Gradients never
// travel here; they go through the TcpCollective's sockets.

/** JSON of the rank's `args`, when short enough for the environment. */
export const ARGS_ENV = "LLAVA_ZERO2_ARGS";
/** Path of a JSON file holding the rank's `args` (used for long ones). */
export const ARGS_FILE_ENV = "LLAVA_ZERO2_ARGS_FILE";
/** JSON of the TcpCollectiveOptions every rank uses. */
export const COLLECTIVE_ENV = "LLAVA_ZERO2_COLLECTIVE";

/** Rank process → launcher. `failedRank`: the rank a CollectiveError blames, when it blames one. */
export type RankProcessMessage =
  | { type: "result"; value: unknown }
  | { type: "log"; line: string }
  | {
      type: "error";
      name: string;
      message: string;
      stack?: string;
      secondary: boolean;
      failedRank?: number;
    };
