// A fixed set of worker threads, each given one batch task at a time. Workers are unref'd while idle so a
// forgotten loader never keeps the process alive; a crashed worker fails its task and the pool. close()
// always settles: it holds the process open while the workers stop, and stops waiting after a bound.
import { Worker } from "node:worker_threads";
import type { LlavaBatch } from "./collate.js";
import type { InitMessage, WorkerReply } from "./worker-protocol.js";

interface Task {
  id: number;
  indices: number[];
  resolve: (b: LlavaBatch) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  task?: Task;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private failure?: Error;
  private closed = false;

  /**
   * How long close() waits for the workers to report their exit (a worker inside a synchronous native call
   * stops only when it returns); they are still stopped after it, close() just does not wait longer.
   */
  closeTimeoutMs = 10_000;

  constructor(url: URL, count: number, init: InitMessage) {
    for (let w = 0; w < count; w++) {
      const slot: Slot = { worker: new Worker(url), ready: false };
      slot.worker.on("message", (msg: WorkerReply) => this.onMessage(slot, msg));
      slot.worker.on("error", (err) =>
        this.fail(slot, new Error(`loader worker ${w} crashed: ${err.message}`)),
      );
      slot.worker.on("exit", (code) => {
        if (!this.closed) this.fail(slot, new Error(`loader worker ${w} exited with code ${code}`));
      });
      slot.worker.postMessage(init);
      this.slots.push(slot);
    }
  }

  run(indices: number[]): Promise<LlavaBatch> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error("loader is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, indices, resolve, reject });
      this.dispatch();
    });
  }

  /** Drops queued tasks that have not started (the consumer stopped early). */
  clearQueue(): void {
    for (const t of this.queue.splice(0)) t.reject(new Error("cancelled"));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error("loader closed");
    for (const t of this.queue.splice(0)) t.reject(err);
    for (const s of this.slots) s.task?.reject(err);
    // terminate() refs the worker until its exit arrives, yet under load (2 cores, CI) a script ending in
    // `await loader.close()` exited with code 13, "unsettled top-level await", about once in 30 runs: the
    // event loop had emptied before the exit came. A ref'd timer holds the process open while we wait.
    let bound: ReturnType<typeof setTimeout> | undefined;
    const stopped = Promise.all(this.slots.map((s) => s.worker.terminate()));
    const timedOut = new Promise<void>((resolve) => {
      bound = setTimeout(resolve, this.closeTimeoutMs);
    });
    try {
      await Promise.race([stopped, timedOut]);
    } finally {
      clearTimeout(bound);
    }
  }

  private dispatch(): void {
    if (this.closed) return; // a late message after close() must not unref a worker close() is waiting on
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (!slot.ready || slot.task) continue;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.ref();
      slot.worker.postMessage({ type: "task", id: task.id, indices: task.indices });
    }
    // Waiting on initialisation also keeps the process alive; idle workers do not.
    for (const slot of this.slots) if (slot.ready && !slot.task) slot.worker.unref();
  }

  private onMessage(slot: Slot, msg: WorkerReply): void {
    if (msg.type === "ready") slot.ready = true;
    else if (msg.type === "error" && msg.id === -1)
      this.fail(slot, Object.assign(new Error(msg.message), { stack: msg.stack }));
    else {
      const task = slot.task;
      slot.task = undefined;
      if (task && task.id === msg.id) {
        if (msg.type === "result") task.resolve(msg.batch);
        else if (msg.type === "error")
          task.reject(
            Object.assign(new Error(`${msg.message} (batch of records ${task.indices.join(", ")})`), {
              stack: msg.stack,
            }),
          );
      }
    }
    this.dispatch();
  }

  private fail(slot: Slot, err: Error): void {
    if (this.closed) return;
    this.failure ??= err;
    slot.task?.reject(new Error(`${err.message} (batch of records ${slot.task.indices.join(", ")})`));
    slot.task = undefined;
    for (const t of this.queue.splice(0)) t.reject(this.failure);
    for (const s of this.slots) s.task?.reject(this.failure);
    void this.close();
  }
}
