#!/usr/bin/env node
import { errorLine } from "./error-line.js";
import { bufferedLines } from "./io.js";
import { main } from "./main.js";

// What escapes main() — an error thrown in a callback or a wasm thread — is still one line, not Node's
// dump of the minified source line it came from. After main has reported a failure, the same failure
// surfacing again from a wasm thread is not printed twice.
let failed: number | undefined;
for (const event of ["uncaughtException", "unhandledRejection"] as const)
  process.on(event, (e: unknown) => {
    if (failed === undefined || process.env.LLAVA_DEBUG) process.stderr.write(`llava: ${errorLine(e)}\n`);
    process.exit(failed ?? 1);
  });

const stdin = bufferedLines(process.stdin);
main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin }).then((code) => {
  if (code !== 0) failed = code;
  stdin.close();
  process.exitCode = code;
});
