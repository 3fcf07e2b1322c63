// Child processes for the consumer test: npm and node as a user types them, with an environment cleaned of
// the npm_* variables pnpm and turbo set (they would override the throwaway registry), output captured.
import { spawn } from "node:child_process";

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** process.env without npm_* / pnpm_* variables, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (
      !/^(npm|pnpm)_/i.test(k) &&
      k !== "NODE_OPTIONS" &&
      !k.startsWith("VITEST") &&
      !k.startsWith("LLAVA_")
    )
      env[k] = v;
  return { ...env, ...extra };
}

/** Runs `command args` in `cwd`; resolves with the exit code and output (never rejects on a non-zero exit). */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    // No stdin: nothing here reads it (writing to a child that already exited fails with EPIPE).
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: cleanEnv(options.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** As run(), but throws with the command, its folder and the end of its output when it fails. */
export async function runOk(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<Ran> {
  const r = await run(command, args, options);
  if (r.code !== 0)
    throw new Error(
      `${command} ${args.join(" ")} (in ${options.cwd}) exited ${r.code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`,
    );
  return r;
}
