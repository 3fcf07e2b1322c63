// Every failure the CLI reports is one line: the error's class and message (which name the file, key,
// record or flag at fault). The stack follows only with LLAVA_DEBUG=1.
import { formatBytes, LlavaError, WASM_HEAP_LIMIT, wasmHeapBytes } from "@llava-ts/core";

/** One line describing `e`; with LLAVA_DEBUG set, its stack on the lines after. */
export function errorLine(e: unknown): string {
  const line = describe(e).replace(/\s*\n\s*/g, " ");
  const stack = e instanceof Error && process.env.LLAVA_DEBUG ? `\n${e.stack}` : "";
  return line + stack;
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return `uncaught ${typeof e}: ${String(e)}`;
  if (e instanceof LlavaError) return `${e.name}: ${e.message}`;
  const wasm = wasmFailure(e);
  if (wasm) return wasm;
  // Node's system errors ("EISDIR: illegal operation on a directory, read") carry their code and path.
  const sys = e as NodeJS.ErrnoException;
  if (sys.code && sys.syscall) {
    const path = sys.path && !e.message.includes(sys.path) ? ` (${sys.path})` : "";
    return `${e.message}${path}`;
  }
  return `${e.name}: ${e.message}`;
}

/**
 * A failure inside the wasm engine, or an allocation the JS heap refused: what ran out and, when the
 * message gives it, the size asked for. (Allocations on the wasm heap are checked before they happen and
 * throw core's OutOfMemoryError; these are what gets past that check.)
 */
function wasmFailure(e: Error): string | undefined {
  const heap = wasmHeapBytes();
  const spans =
    heap > 0 ? ` (the wasm heap spans ${formatBytes(heap)} of its ${formatBytes(WASM_HEAP_LIMIT)})` : "";
  if (e.name === "RuntimeError" && /memory access out of bounds|unreachable|Aborted|OOM/i.test(e.message))
    return `OutOfMemoryError: the wasm engine stopped (${e.message})${spans}; use a smaller batch or shorter sequences`;
  const length = /Invalid typed array length: (\d+)/.exec(e.message);
  if (e instanceof RangeError && length)
    return `OutOfMemoryError: an array of ${Number(length[1]).toLocaleString("en-US")} values (${formatBytes(4 * Number(length[1]))} as float32) cannot be allocated${spans}`;
  if (
    e instanceof RangeError &&
    /Array buffer allocation failed|Maximum memory size exceeded/.test(e.message)
  )
    return `OutOfMemoryError: ${e.message}${spans}`;
  return undefined;
}
