// Generates a CC3M-sized chat.json (595,375 records in the real record shape) in a temp folder, indexes it,
// and prints time and memory. Run after `npx tsup`: node --expose-gc scripts/index-large.mjs [count] [--compare]
// (--compare also times the naive readFileSync + JSON.parse of the whole file, for reference;
// --zip also opens a zip with one small member per record, to measure the central directory map).
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { LlavaDataset, ZipReader } from "../dist/index.js";
import { indexJsonArray, ZipWriter } from "../dist/internal.js";

const args = process.argv.slice(2);
const compare = args.includes("--compare");
const withZip = args.includes("--zip");
const count = Number(args.find((a) => !a.startsWith("--")) ?? 595_375);
const dir = mkdtempSync(join(tmpdir(), "llava-large-"));
const file = join(dir, "chat.json");
const prompts = [
  "Provide a brief description of the given image.\n<image>",
  "<image>\nWrite a terse but informative summary of the picture.",
  "Share a concise interpretation of the image provided.\n<image>",
];
const words =
  "olive oil is a healthy ingredient used liberally . the city skyline at night with lights reflected in a river".split(
    " ",
  );

async function generate() {
  const out = createWriteStream(file);
  const write = (s) => (out.write(s) ? undefined : new Promise((r) => out.once("drain", r)));
  await write("[");
  for (let i = 0; i < count; i++) {
    const id = `GCC_train_${String(i + 1).padStart(9, "0")}`;
    const n = 16 + (i % 25);
    const caption = Array.from({ length: n }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(" ");
    const rec = {
      id,
      image: `${id}.jpg`,
      conversations: [
        { from: "human", value: prompts[i % 3] },
        { from: "gpt", value: caption },
      ],
    };
    await write((i ? ", " : "") + JSON.stringify(rec));
  }
  await write("]");
  await new Promise((r) => out.end(r));
}

await generate();
const mb = (x) => `${(x / 2 ** 20).toFixed(1)} MB`;
globalThis.gc?.();
const before = process.memoryUsage();
const t0 = performance.now();
const index = indexJsonArray(file);
const ms = performance.now() - t0;
const after = process.memoryUsage();
const t1 = performance.now();
const ds = LlavaDataset.open({ file, onError: "raise" }, index.ranges);
let checked = 0;
for (let i = 0; i < ds.length; i += 997) {
  ds.record(i);
  checked++;
}
const last = ds.record(ds.length - 1);
const readMs = performance.now() - t1;
console.log(
  JSON.stringify(
    {
      records: index.length,
      fileSize: mb(statSync(file).size),
      indexMs: Math.round(ms),
      throughput: `${mb(statSync(file).size / (ms / 1000))}/s`,
      rssDelta: mb(after.rss - before.rss),
      heapUsedDelta: mb(after.heapUsed - before.heapUsed),
      arrayBuffersDelta: mb(after.arrayBuffers - before.arrayBuffers),
      indexBytes: mb(index.ranges.offsets.byteLength + index.ranges.lengths.byteLength),
      randomReads: checked,
      randomReadMsEach: +(readMs / (checked + 1)).toFixed(3),
      lastId: last.id,
    },
    null,
    2,
  ),
);
ds.close();
if (withZip) {
  const zipPath = join(dir, "images.zip");
  const w = new ZipWriter(zipPath, { method: "store" });
  for (let i = 0; i < count; i++)
    w.add(`GCC_train_${String(i + 1).padStart(9, "0")}.jpg`, Buffer.from([i & 255]));
  w.close();
  globalThis.gc?.();
  const b = process.memoryUsage();
  const t = performance.now();
  const zip = ZipReader.open(zipPath);
  const ms = Math.round(performance.now() - t);
  globalThis.gc?.();
  const a = process.memoryUsage();
  const ok =
    zip.read("GCC_train_000595375.jpg".replace("595375", String(count).padStart(6, "0")))[0] ===
    ((count - 1) & 255);
  console.log(
    JSON.stringify({
      zipOpen: {
        members: zip.size,
        ms,
        rssDelta: mb(a.rss - b.rss),
        heapUsedDelta: mb(a.heapUsed - b.heapUsed),
        ok,
      },
    }),
  );
  zip.close();
}
if (compare) {
  globalThis.gc?.();
  const b = process.memoryUsage();
  const t = performance.now();
  const all = JSON.parse(readFileSync(file, "utf8"));
  const a = process.memoryUsage();
  console.log(
    JSON.stringify({
      naiveJsonParse: {
        records: all.length,
        ms: Math.round(performance.now() - t),
        rssDelta: mb(a.rss - b.rss),
        heapUsedDelta: mb(a.heapUsed - b.heapUsed),
      },
    }),
  );
}
rmSync(dir, { recursive: true, force: true });
