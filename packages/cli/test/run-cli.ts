// The `llava` command as a person runs it: bin.ts (the same entry tsup builds into dist/bin.js), bundled
// from the sources once per test process and started as its own node process — its exit code, its
// stdout and stderr exactly as a terminal shows them, uncaught errors and tfjs' console output included.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { workerEntryUrl } from "@llava-ts/core/internal";

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  env?: Record<string, string | undefined>;
  /** Written to the command's stdin, which is then closed. */
  stdin?: string;
  cwd?: string;
  timeoutMs?: number;
  /**
   * Runs the command in a private mount namespace (`unshare -rm`) where `folder`, which must exist, is
   * bind-mounted read-only — from the start, or once the path `after` exists: a real EROFS that no other
   * process sees, and files written before it stay in the folder. Needs READ_ONLY_MOUNTS.
   */
  readOnly?: { folder: string; after?: string };
}

/** Whether this machine lets an unprivileged process mount in a namespace of its own (see readOnly). */
export const READ_ONLY_MOUNTS = spawnSync("unshare", ["-rm", "true"]).status === 0;

// $1 the folder, $2 the path to wait for (or ""), then the command.
const READ_ONLY_SCRIPT = `
ro="$1"; after="$2"; shift 2
mount --bind "$ro" "$ro" || exit 90
if [ -z "$after" ]; then mount -o remount,bind,ro "$ro" || exit 91; exec "$@"; fi
"$@" & pid=$!
while [ ! -e "$after" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
mount -o remount,bind,ro "$ro" || exit 91
wait "$pid"
`;

let bin: Promise<string> | undefined;

/** Runs `llava <args>`; resolves when the process ends (killed after `timeoutMs`, default 120 s). */
export async function runCli(args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  bin ??= workerEntryUrl(new URL("../src/bin.ts", import.meta.url)).then(fileURLToPath);
  const file = await bin;
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, LLAVA_DEBUG: undefined, ...options.env }))
      if (v !== undefined) env[k] = v;
    const command = [process.execPath, file, ...args];
    const ro = options.readOnly;
    const [exe, ...argv] = ro
      ? ["unshare", "-rm", "sh", "-c", READ_ONLY_SCRIPT, "sh", ro.folder, ro.after ?? "", ...command]
      : command;
    // Its own process group, so a timeout ends the command and not only the shell around it.
    const child = spawn(exe, argv, {
      cwd: options.cwd,
      env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? "");
  });
}
