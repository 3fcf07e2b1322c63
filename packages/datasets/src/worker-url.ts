// The loader's worker entry: dist/loader-worker.js beside the built code, or the TypeScript source bundled on
// the fly by core's workerEntryUrl (vitest, other packages' tests).
import { siblingEntry, workerEntryUrl } from "@llava-ts/core/internal";

export function loaderWorkerUrl(): Promise<URL> {
  return workerEntryUrl(siblingEntry("loader-worker", import.meta.url));
}
