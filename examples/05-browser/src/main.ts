// examples/05-browser: LLaVA in a page. Load a folder by URL (?model=… fills it in), caption an image with
// streamed tokens, fine-tune a LoRA a few steps on the image and a caption, download the adapter. The page's
// modules are on `window.llava` for the console (and for the repository's browser test).
import type { BackendName } from "@llava-ts/core";
import * as core from "@llava-ts/core";
import * as llava from "@llava-ts/llava";
import * as lora from "@llava-ts/lora";
import * as processor from "@llava-ts/processor";
import * as tf from "@tensorflow/tfjs-core";
import { setUpBackend } from "./backend.js";
import { AdamW, trainStep } from "./lora-step.js";
import { BrowserLlava } from "./session.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const log = (line: string) => {
  $("log").textContent += `${line}\n`;
};
let session: BrowserLlava | undefined;
const params = new URLSearchParams(location.search);
$<HTMLInputElement>("model-url").value = params.get("model") ?? "";
$<HTMLSelectElement>("backend").value = params.get("backend") ?? "";

async function load(): Promise<void> {
  const started = performance.now();
  const backend = await setUpBackend(($<HTMLSelectElement>("backend").value || undefined) as BackendName);
  session?.dispose();
  session = await BrowserLlava.load($<HTMLInputElement>("model-url").value);
  const n = session.model.numParameters().toLocaleString();
  log(`backend ${backend}; loaded ${n} parameters in ${Math.round(performance.now() - started)} ms`);
  $<HTMLButtonElement>("caption-btn").disabled = false;
  $<HTMLButtonElement>("train-btn").disabled = false;
}

function chosenImage(): File {
  const file = $<HTMLInputElement>("image").files?.[0];
  if (!file) throw new Error("choose an image first");
  return file;
}

async function caption(): Promise<void> {
  const out = $("caption");
  out.textContent = "";
  const started = performance.now();
  await session!.caption(chosenImage(), $<HTMLInputElement>("prompt").value, (piece) => {
    out.textContent += piece;
  });
  log(`captioned in ${Math.round(performance.now() - started)} ms`);
}

async function fineTune(): Promise<void> {
  const steps = Number($<HTMLInputElement>("steps").value);
  await session!.fineTune(chosenImage(), $<HTMLInputElement>("target").value, steps, (i, loss) =>
    log(`step ${i + 1}/${steps}: loss ${loss.toFixed(5)}`),
  );
  const links = $("downloads");
  links.textContent = " ";
  for (const [name, blob] of Object.entries(await session!.adapterBlobs())) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.textContent = `${name} (${blob.size} bytes) `;
    links.append(a);
  }
}

/** Runs `f`, printing a failure in the log instead of losing it in the console. */
const guarded = (f: () => Promise<void>) => () =>
  f().catch((e: unknown) => log(`error: ${e instanceof Error ? e.message : String(e)}`));

$("load").addEventListener("click", guarded(load));
$("caption-btn").addEventListener("click", guarded(caption));
$("train-btn").addEventListener("click", guarded(fineTune));
$<HTMLInputElement>("image").addEventListener("change", () => {
  const file = $<HTMLInputElement>("image").files?.[0];
  if (file) $<HTMLImageElement>("preview").src = URL.createObjectURL(file);
});

Object.assign(window, {
  llava: {
    core,
    llava,
    lora,
    processor,
    tf,
    BrowserLlava,
    setUpBackend,
    AdamW,
    trainStep,
    session: () => session,
  },
});
document.body.dataset.ready = "1";
