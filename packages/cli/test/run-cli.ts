// The `llava` command as a person runs it: bin.ts (the same entry tsup builds into dist/bin.js), bundled
// from the sources once per test process and started as its own node process — its exit code, its
// stdout and stderr exactly as a terminal shows them, uncaught errors and tfjs' console output included.
import { spawn } from "node:child_process";
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
}

let bin: Promise<string> | undefined;

/** Runs `llava <args>`; resolves when the process ends (killed after `timeoutMs`, default 120 s). */
export async function runCli(args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  bin ??= workerEntryUrl(new URL("../src/bin.ts", import.meta.url)).then(fileURLToPath);
  const file = await bin;
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, LLAVA_DEBUG: undefined, ...options.env }))
      if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [file, ...args], {
      cwd: options.cwd,
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? "");
  });
}
