// Offloaded parameters: the same numbers as resident ones, the stored dtype kept outside the heap, the heap
// budget enforced with errors that name the group and the sizes, and saving straight from the checkpoint.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../test/safetensors-test-utils.js";
import { initBackend } from "../backend/init-backend.js";
import { guardedLiveBytes, noteWasmOutput, takeXnnFailure } from "../backend/wasm-heap-guard.js";
import { makeWasmBatchMatMul } from "../backend/wasm-matmul.js";
import { HeapBudgetError, LlavaError } from "../errors.js";
import { SafetensorsCheckpoint } from "../safetensors/checkpoint.js";
import { writeSafetensorsCheckpoint } from "../safetensors/checkpoint-writer.js";
import { float32ToBf16 } from "../safetensors/half.js";
import { loadSafetensorsWeights, saveSafetensorsWeights } from "../weights/module-weights.js";
import {
  clearHeapCache,
  DEFAULT_MAX_HEAP,
  DEFAULT_TRAIN_MAX_HEAP,
  heapCacheStats,
  parseByteSize,
  setMaxHeap,
} from "./heap-cache.js";
import { Embedding, LayerNorm, Linear, ModuleList, RMSNorm } from "./layers.js";
import { emptyWeights, Module } from "./module.js";
import type { OffloadedParameter } from "./offloaded-parameter.js";
import { normalInit, Rng } from "./random.js";

const D = 64; // wide enough that one layer's weights (16 KiB) dwarf the activations

class Block extends Module {
  q_proj: Linear;
  norm: RMSNorm;
  constructor(seed: number) {
    super();
    this.q_proj = this.module("q_proj", new Linear(D, D, { init: normalInit(0.3, new Rng(seed)) }));
    this.norm = this.module("norm", new RMSNorm(D));
  }
  forward(x: tf.Tensor): tf.Tensor {
    this.bringInWeights();
    return tf.tidy(() => this.norm.forward(this.q_proj.forward(x).relu()));
  }
}

class Tiny extends Module {
  embed_tokens: Embedding;
  layers: ModuleList<Block>;
  final_layernorm: LayerNorm;
  constructor() {
    super();
    this.embed_tokens = this.module("embed_tokens", new Embedding(6, D, normalInit(1, new Rng(7))));
    this.layers = this.module("layers", new ModuleList([new Block(1), new Block(2)]));
    this.final_layernorm = this.module("final_layernorm", new LayerNorm(D));
  }
  forward(ids: Int32Array): tf.Tensor {
    let h = this.embed_tokens.lookup(ids, [ids.length]);
    for (const layer of this.layers) {
      const next = layer.forward(h);
      h.dispose();
      h = next;
    }
    const out = this.final_layernorm.forward(h);
    h.dispose();
    return out;
  }
}

const ids = Int32Array.from([3, 0, 5, 3]);
/** Live tensor bytes as the heap cache counts them (malloc's count on the guarded wasm heap). */
const liveBytes = () => guardedLiveBytes() ?? tf.memory().numBytes;
const tmp = tempDir();

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});
afterEach(() => setMaxHeap());
afterAll(tmp.cleanup);

/** A Tiny checkpoint written in `dtype`; returns the folder. */
async function writeTiny(name: string, dtype: "F32" | "BF16"): Promise<string> {
  const m = new Tiny();
  const dir = join(tmp.dir, name);
  await saveSafetensorsWeights(m, dir, { dtype });
  m.dispose();
  return dir;
}

describe("offloaded parameters", () => {
  it("give the same outputs as resident ones, bit for bit (offload() in F32, and loaded offloaded)", async () => {
    const resident = new Tiny();
    const want = resident.forward(ids);
    const moved = new Tiny().freeze().offload();
    expect(moved.trainableParameters()).toEqual([]);
    expect(moved.offloadedParameters().length).toBe(9);
    const got = moved.forward(ids);
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));

    const dir = await writeTiny("f32", "F32");
    const loaded = emptyWeights(() => new Tiny());
    loadSafetensorsWeights(loaded, dir, { offload: true });
    const fromFile = loaded.forward(ids);
    expect(Array.from(fromFile.dataSync())).toEqual(Array.from(want.dataSync()));
    tf.dispose([want, got, fromFile]);
    for (const m of [resident, moved, loaded]) m.dispose();
  });

  it("keep a BF16 checkpoint at 2 bytes a value: nothing held in memory, 2 bytes read per value", async () => {
    const dir = await writeTiny("bf16", "BF16");
    const m = emptyWeights(() => new Tiny());
    loadSafetensorsWeights(m, dir, { offload: true });
    const params = m.offloadedParameters();
    const values = params.reduce((a, p) => a + p.size, 0);
    expect(params.every((p) => p.host?.dtype === "BF16")).toBe(true);
    expect(params.reduce((a, p) => a + p.host!.heldBytes, 0)).toBe(0); // read from the shard on demand
    // What a bring-in reads is the stored bytes: 2 per value, widened exactly into float32.
    const ckpt = SafetensorsCheckpoint.open(dir);
    for (const p of params) {
      expect(p.host!.readRaw().byteLength).toBe(2 * p.size);
      expect(Array.from(p.dataSync())).toEqual(Array.from(ckpt.read(p.key).data as Float32Array));
    }
    ckpt.close();
    // Held in memory instead (a model built in memory, offloaded in BF16): exactly 2 bytes a value.
    const held = new Tiny().freeze().offload(undefined, { dtype: "BF16" });
    const heldParams = held.offloadedParameters();
    expect(heldParams.reduce((a, p) => a + p.host!.heldBytes, 0)).toBe(2 * values);
    const resident = new Tiny();
    const w = resident.layers.at(0).q_proj.weight.dataSync() as Float32Array;
    const rounded = new Float32Array(new Uint32Array(Array.from(float32ToBf16(w), (h) => h << 16)).buffer);
    expect(Array.from(held.layers.at(0).q_proj.parameter("weight").dataSync() as Float32Array)).toEqual(
      Array.from(rounded),
    );
    for (const x of [m, held, resident]) x.dispose();
  });

  it("embedding lookups read rows from the host: the table never enters the heap", () => {
    clearHeapCache();
    const m = new Tiny().freeze().offload("embed_tokens");
    const table = m.embed_tokens.parameter("weight") as OffloadedParameter;
    const before = heapCacheStats().broughtIn;
    const rows = m.embed_tokens.lookup(ids, [2, 2]);
    expect(rows.shape).toEqual([2, 2, D]);
    expect(heapCacheStats().broughtIn).toBe(before);
    const all = table.dataSync();
    const got = rows.dataSync() as Float32Array;
    ids.forEach((id, i) => {
      expect(Array.from(got.subarray(i * D, (i + 1) * D))).toEqual(
        Array.from(all.subarray(id * D, (id + 1) * D)),
      );
    });
    expect(() => table.rows([6])).toThrow(/row 6 at position 0 is outside \[0, 6\)/);
    rows.dispose();
    m.dispose();
  });

  it("stay under the heap budget: the least recently used layer leaves, and comes back when used", () => {
    clearHeapCache();
    const m = new Tiny().freeze().offload("layers");
    const layerBytes = m.layers
      .at(0)
      .offloadedParameters()
      .reduce((a, p) => a + p.heapBytes, 0);
    // Room for what is live now plus one layer (and a little): layer 0 must leave for layer 1.
    setMaxHeap(liveBytes() + layerBytes + 4096);
    const evictions = heapCacheStats().evictions;
    const out = m.forward(ids);
    let s = heapCacheStats();
    // Both layers were brought in, but never both whole at once: something of layer 0 left for layer 1.
    expect(s.broughtIn).toBeGreaterThanOrEqual(6);
    expect(s.evictions).toBeGreaterThan(evictions);
    expect(s.residentBytes).toBeLessThan(2 * layerBytes);
    const again = m.forward(ids);
    expect(Array.from(again.dataSync())).toEqual(Array.from(out.dataSync()));
    s = heapCacheStats();
    expect(s.residentBytes).toBeLessThan(2 * layerBytes);
    tf.dispose([out, again]);
    m.dispose();
  });

  it("give way to activations: past the budget, an allocation pushes cached weights out, all but the last layer's", () => {
    clearHeapCache();
    const m = new Tiny().freeze().offload("layers");
    const layerBytes = m.layers
      .at(0)
      .offloadedParameters()
      .reduce((a, p) => a + p.heapBytes, 0);
    const want = m.forward(ids); // both layers now cached
    expect(heapCacheStats().residentBytes).toBe(2 * layerBytes);
    const cap = liveBytes() + layerBytes;
    setMaxHeap(cap);
    const evictions = heapCacheStats().evictions;
    // An activation of 1.5 layers: it fits only once layer 0's weights have left.
    const activation = tf.zeros([Math.round((1.5 * layerBytes) / 4)]);
    const s = heapCacheStats();
    expect(s.evictions).toBeGreaterThan(evictions);
    // Only as much left as the activation needed (layer 0's matrix), and never the most recently used layer.
    expect(s.residentBytes).toBeGreaterThanOrEqual(layerBytes);
    expect(s.residentBytes).toBeLessThan(2 * layerBytes);
    expect(liveBytes()).toBeLessThanOrEqual(cap); // the budget held with the activation allocated
    activation.dispose();
    const again = m.forward(ids); // layer 0 comes back from the host
    expect(Array.from(again.dataSync())).toEqual(Array.from(want.dataSync()));
    tf.dispose([want, again]);
    m.dispose();
  });

  it("make room for XNNPACK when it cannot create a product's operator: the weights the product does not read leave, and it runs again", () => {
    clearHeapCache();
    const m = new Tiny().freeze().offload("layers");
    const want = m.forward(ids); // both layers now cached
    // XNNPACK packs its operands in memory the heap budget does not count; when that malloc fails, tfjs only
    // prints a warning and leaves the output unwritten. Fail the first product(s) that way.
    const kernel = tf.getKernel("BatchMatMul", "wasm")!;
    let fail = 1;
    const failing: tf.KernelFunc = (args) => {
      const out = kernel.kernelFunc(args);
      if (fail-- > 0)
        noteWasmOutput("XNN status for xnn_create_fully_connected_nc_f32 is not successful. Got status 6.");
      return out;
    };
    const swap = (f: tf.KernelFunc) => {
      tf.unregisterKernel("BatchMatMul", "wasm");
      tf.registerKernel({ kernelName: "BatchMatMul", backendName: "wasm", kernelFunc: f });
    };
    swap(makeWasmBatchMatMul(failing as never) as never);
    try {
      const before = heapCacheStats();
      const got = m.forward(ids);
      const after = heapCacheStats();
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
      // Layer 1 (not read by layer 0's product) left and came back; the product's own weight stayed.
      expect(after.evictions).toBeGreaterThan(before.evictions);
      expect(after.broughtIn).toBeGreaterThan(before.broughtIn);
      fail = Number.POSITIVE_INFINITY; // it fails again after the room is made: one clear error
      expect(() => m.forward(ids)).toThrow(
        /^out of wasm memory: XNNPACK could not create xnn_create_fully_connected_nc_f32 for a \[\d+, \d+\]·\[\d+, \d+\] product \(status 6, out of memory\) with .* live/,
      );
      expect(takeXnnFailure()).toBeUndefined();
      got.dispose();
    } finally {
      swap(kernel.kernelFunc);
    }
    want.dispose();
    m.dispose();
  });

  it("a budget smaller than one layer is an error naming the layer and both sizes", () => {
    clearHeapCache();
    const m = new Tiny().freeze().offload("layers");
    setMaxHeap(100);
    const x = tf.ones([1, D]);
    expect(() => m.layers.at(1).forward(x)).toThrow(HeapBudgetError);
    expect(() => m.layers.at(1).forward(x)).toThrow(
      /^layers\.1 needs 16\.5 KiB of weights in the heap at once, more than the heap budget of 0\.1 KiB \(--max-heap; the wasm heap ends at 4\.00 GiB\)$/,
    );
    x.dispose();
    m.dispose();
  });

  it("unfreeze brings a parameter into the heap as a trainable variable; stateDict refuses offloaded ones", () => {
    const m = new Tiny().freeze().offload();
    expect(() => m.stateDict()).toThrow(/"embed_tokens.weight" is offloaded/);
    const p = m.layers.at(0).q_proj.parameter("weight");
    expect(() => {
      p.trainable = true;
    }).toThrow(/offloaded parameter cannot train; use module.unfreeze/);
    const values = Array.from(p.dataSync() as Float32Array);
    m.unfreeze("layers.0.q_proj");
    const names = m.trainableParameters().map(([n]) => n);
    expect(names).toEqual(["layers.0.q_proj.weight", "layers.0.q_proj.bias"]);
    const v = m.layers.at(0).q_proj.variable("weight");
    expect(Array.from(v.dataSync())).toEqual(values);
    expect(() => m.layers.at(1).q_proj.variable("weight")).toThrow(/layers.1.q_proj.weight is offloaded/);
    m.dispose();
  });

  it("refuses to bring more into the heap for good than the budget holds, before anything moves", () => {
    const m = new Tiny().freeze().offload();
    setMaxHeap(tf.memory().numBytes + 1000);
    expect(() => m.unfreeze("layers")).toThrow(
      /^6 parameters to keep in the heap \(matching layers\): 33\.0 KiB of float32 weights do not fit in the heap beside the .* \(budget .*, --max-heap; the wasm heap ends at 4\.00 GiB\)\. Train fewer parameters \(use_lora, projector_only\)\.$/,
    );
    expect(m.trainableParameters()).toEqual([]);
    expect(m.offloadedParameters().length).toBe(9);
    m.dispose();
  });

  it("save copies an offloaded tensor's stored bytes when the dtype matches, and widens otherwise", async () => {
    const dir = await writeTiny("bf16-save", "BF16");
    const m = emptyWeights(() => new Tiny());
    loadSafetensorsWeights(m, dir, { offload: true });
    const again = join(tmp.dir, "bf16-again");
    await saveSafetensorsWeights(m, again, { dtype: "BF16" });
    expect(readFileSync(join(again, "model.safetensors"))).toEqual(
      readFileSync(join(dir, "model.safetensors")),
    );
    const wide = join(tmp.dir, "bf16-as-f32");
    await saveSafetensorsWeights(m, wide, { dtype: "F32" });
    const a = SafetensorsCheckpoint.open(dir);
    const b = SafetensorsCheckpoint.open(wide);
    for (const k of a.keys()) expect(Array.from(b.read(k).data)).toEqual(Array.from(a.read(k).data));
    a.close();
    b.close();
    m.dispose();
  });

  it("a model built empty has no values until loaded, and says so", async () => {
    const m = emptyWeights(() => new Tiny());
    expect(m.numParameters()).toBe(new Tiny().numParameters());
    expect(() => m.forward(ids)).toThrow(/embed_tokens.weight|has no values: the model was built empty/);
    const dir = join(tmp.dir, "partial");
    await writeSafetensorsCheckpoint(dir, [
      { name: "embed_tokens.weight", dtype: "F32", shape: [6, D], read: () => new Float32Array(6 * D) },
    ]);
    const r = loadSafetensorsWeights(m, dir, { strict: false });
    expect(r.missing.length).toBe(8);
    expect(m.embed_tokens.parameter("weight")).toBeInstanceOf(tf.Variable);
    const x = tf.ones([1, D]);
    expect(() => m.layers.at(0).forward(x)).toThrow(LlavaError);
    x.dispose();
    m.dispose();
  });

  it("reads heap budgets as sizes", () => {
    expect(parseByteSize("3GB")).toBe(3e9);
    expect(parseByteSize("2GiB")).toBe(2 ** 31);
    expect(parseByteSize("512 MB")).toBe(512e6);
    expect(parseByteSize(1024)).toBe(1024);
    expect(() => parseByteSize("lots")).toThrow(/cannot read "lots" as a size/);
    expect(() => setMaxHeap("5GiB")).toThrow(/more than the wasm heap can hold \(4\.00 GiB\)/);
    expect(DEFAULT_MAX_HEAP).toBe(3 * 2 ** 30);
    if (!process.env.LLAVA_MAX_HEAP) {
      setMaxHeap(undefined, { training: true });
      expect(heapCacheStats().maxHeapBytes).toBe(DEFAULT_TRAIN_MAX_HEAP);
      setMaxHeap();
      expect(heapCacheStats().maxHeapBytes).toBe(DEFAULT_MAX_HEAP);
    }
  });
});
