// Worker thread entry: reopens the dataset from its spec + byte index, builds the real processor from its
// spec, and answers batch tasks one at a time. Built by tsup to dist/loader-worker.js.
import { parentPort } from "node:worker_threads";
import { batchTransferList } from "./collate.js";
import { createSampleProcessor } from "./create-sample-processor.js";
import { LlavaDataset } from "./llava-dataset.js";
import { processBatch } from "./process-batch.js";
import type { SampleProcessor } from "./sample-processor.js";
import type { InitMessage, TaskMessage, WorkerReply } from "./worker-protocol.js";

const port = parentPort;
if (!port) throw new Error("loader-worker must run in a worker thread");

let dataset: LlavaDataset | undefined;
let processor: SampleProcessor | undefined;
let init: InitMessage | undefined;

const reply = (msg: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

port.on("message", async (msg: InitMessage | TaskMessage) => {
  if (msg.type === "init") {
    try {
      init = msg;
      dataset = LlavaDataset.open(msg.dataset, msg.offsets);
      processor = await createSampleProcessor(msg.processor);
      reply({ type: "ready" });
    } catch (err) {
      reply({
        type: "error",
        id: -1,
        message: `worker init failed: ${(err as Error).message}`,
        stack: (err as Error).stack,
      });
    }
    return;
  }
  try {
    if (!dataset || !processor || !init) throw new Error("task before init");
    const batch = await processBatch(dataset, msg.indices, processor, init.collate);
    reply({ type: "result", id: msg.id, batch }, batchTransferList(batch));
  } catch (err) {
    reply({ type: "error", id: msg.id, message: (err as Error).message, stack: (err as Error).stack });
  }
});
