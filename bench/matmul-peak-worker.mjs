// The worker thread of `oneThreadPeak` (matmul-peak.mjs): one rank's single-threaded wasm backend.
import { parentPort, workerData } from "node:worker_threads";

const { initBackend } = await import("@llava-ts/core");
await initBackend();
const { measureMatmulPeak } = await import("./matmul-peak.mjs");
parentPort.postMessage(measureMatmulPeak(workerData.matmulPeakReps));
