// examples/05-browser in headless Chromium (Debian's, driven by playwright-core), served on 127.0.0.1 with
// the fixture LLaVA: logits within 1e-4 of transformers' and greedy ids exact on wasm (and on WebGL and
// WebGPU where Chromium offers them), a LoRA step's loss within 1e-5 of the Node trainer's, the page's own
// load → caption → fine-tune → download flow, and a screenshot. Skips, saying why, only where Chromium
// cannot be found, installed or started.
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { initBackend, SafetensorsFile } from "@llava-ts/core";
import { type FolderServer, fixturePath, fixturesDir, loadCases, serveFolder } from "@llava-ts/core/testing";
import type { LlavaBatch } from "@llava-ts/datasets";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import { loadAdapter } from "@llava-ts/lora";
import { decodeImage } from "@llava-ts/processor";
import { Trainer } from "@llava-ts/trainer";
import type { BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findChromium, launchChromium } from "./chromium.js";

const example = join(dirname(fileURLToPath(import.meta.url)), "../../examples/05-browser");
const out = mkdtempSync(join(tmpdir(), "llava-05-browser-"));
let server: FolderServer;
let context: BrowserContext | undefined;
let chromiumPath: string | undefined;
let unavailable: string | undefined;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  await build({ root: example, logLevel: "warn", build: { outDir: join(out, "site"), emptyOutDir: true } });
  const files = readdirSync(join(out, "site/assets"));
  const gz = (f: string) => gzipSync(readFileSync(join(out, "site/assets", f))).length;
  figures.bundleGzipJs = files.filter((f) => f.endsWith(".js")).reduce((n, f) => n + gz(f), 0);
  figures.bundleGzipWasm = files.filter((f) => f.endsWith(".wasm")).reduce((n, f) => n + gz(f), 0);
  server = await serveFolder({ "/": join(out, "site"), "/fixtures/": fixturesDir() });
  const chromium = findChromium();
  if ("reason" in chromium) unavailable = chromium.reason;
  else chromiumPath = chromium.path;
  const path = chromiumPath;
  if (path)
    context = await launchChromium(path).catch((e: Error) => {
      unavailable = `Chromium at ${path} did not start: ${e.message.split("\n")[0]}`;
      return undefined;
    });
  if (unavailable) console.log(`browser test skipped: ${unavailable}`);
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  console.log(`browser figures: ${JSON.stringify(figures)}`);
});

async function openPage(query = "", on: BrowserContext = context!): Promise<Page> {
  const page = await on.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.url}/${query}`);
  await page.waitForSelector("body[data-ready='1']", { timeout: 60_000 }).catch(() => {
    throw new Error(`the page did not start: ${errors.join("; ") || "no error reported"}`);
  });
  return page;
}

/** In the page: the fixture model by URL, logits and loss against transformers', greedy generation. */
function parity(page: Page, backend: string) {
  return page.evaluate(async (backend) => {
    // the page's modules, as the console sees them
    const { core, llava, tf, setUpBackend } = (window as any).llava;
    const used = await setUpBackend(backend);
    if (used !== backend) return { backend: used };
    const folder = core.urlFolder(new URL("/fixtures/hf/llava/", location.href));
    const cases = await core.SafetensorsCheckpoint.fromFolder(folder, { prefix: "cases" });
    await cases.prefetch(cases.keys());
    const model = await llava.LlavaForConditionalGeneration.fromPretrained(folder);
    const px = cases.tensor("pixel_values");
    const out = model.forward({
      inputIds: cases.read("input_ids").data,
      batchSize: 2,
      attentionMask: cases.read("attention_mask").data,
      labels: cases.read("labels").data,
      pixelValues: px,
    });
    const expected = cases.read("logits").data as Float32Array;
    const got = (await out.logits.data()) as Float32Array;
    let logitsMaxAbs = 0;
    for (let i = 0; i < got.length; i++)
      logitsMaxAbs = Math.max(logitsMaxAbs, Math.abs(got[i] - expected[i]));
    const lossAbs = Math.abs((await out.loss.data())[0] - cases.read("loss").data[0]);
    const prompt = Array.from(cases.read("generate.input_ids").data as Int32Array);
    const want = Array.from(cases.read("generate.output").data as Int32Array);
    const first = px.slice([0], [1]);
    const gen = await model.generate(tf.tensor2d(prompt, [1, prompt.length], "int32"), {
      pixelValues: first,
      maxNewTokens: want.length - prompt.length,
      eosTokenId: [],
    });
    tf.dispose([px, first, out.logits, out.loss]);
    model.dispose();
    // A path string in a page names a file on the page's server.
    const pathFolder = core.toModelFolder("/fixtures/hf/llava/").location;
    return { backend: used, logitsMaxAbs, lossAbs, ids: gen.sequences[0], want, pathFolder };
  }, backend);
}

/** In the page: the renderer WebGL runs on (WEBGL_debug_renderer_info), and whether it is a CPU rasteriser. */
function webglRenderer(page: Page) {
  return page.evaluate(() => {
    const gl = new OffscreenCanvas(1, 1).getContext("webgl2");
    if (!gl) return { renderer: "none", software: false };
    const ext = gl.getExtension("WEBGL_debug_renderer_info");
    const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension("WEBGL_lose_context")?.loseContext();
    return { renderer, software: /swiftshader|llvmpipe|lavapipe|software/i.test(renderer) };
  });
}

let nodeLosses: Promise<number[]> | undefined;

/** The Node trainer's use_lora strategy from llava-lora-init, AdamW(1e-3): two steps on the fixture batch. */
function nodeLoraLosses(): Promise<number[]> {
  nodeLosses ??= (async () => {
    await initBackend();
    const cases = loadCases("hf/llava");
    const [B, T] = cases.shape("input_ids");
    const batch: LlavaBatch = {
      indices: [0, 1],
      skipped: [],
      truncated: [],
      batchSize: B,
      seqLength: T,
      inputIds: cases.array("input_ids") as Int32Array,
      attentionMask: cases.array("attention_mask") as Int32Array,
      labels: cases.array("labels") as Int32Array,
      pixelValues: cases.array("pixel_values") as Float32Array,
      pixelShape: cases.shape("pixel_values") as LlavaBatch["pixelShape"],
    };
    cases.close();
    const model = LlavaForConditionalGeneration.fromPretrained(fixturePath("hf/llava"));
    loadAdapter(model, fixturePath("hf/llava-lora-init"), { trainable: true });
    const trainer = new Trainer(model, {
      strategy: "use_lora",
      optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
      schedule: { type: "constant" },
      maxGradNorm: 0,
      maxSteps: 2,
      progress: false,
    });
    const losses = (await trainer.train({ length: 1, epoch: () => [batch] })).losses;
    model.dispose();
    return losses;
  })();
  return nodeLosses;
}

/** In the page on `backend`: the same two steps with the example's AdamW; the losses and the adapter's size. */
function pageLoraLosses(page: Page, backend: string) {
  return page.evaluate(async (backend) => {
    const { core, llava, lora, setUpBackend, AdamW, trainStep } = (window as any).llava;
    await setUpBackend(backend);
    const base = (p: string) => core.urlFolder(new URL(p, location.href));
    const cases = await core.SafetensorsCheckpoint.fromFolder(base("/fixtures/hf/llava/"), {
      prefix: "cases",
    });
    await cases.prefetch(cases.keys());
    const m = await llava.LlavaForConditionalGeneration.fromPretrained(base("/fixtures/hf/llava/"));
    await lora.loadAdapter(m, base("/fixtures/hf/llava-lora-init/"), { trainable: true });
    const opt = new AdamW(1e-3);
    const b = {
      inputIds: cases.read("input_ids").data,
      attentionMask: cases.read("attention_mask").data,
      labels: cases.read("labels").data,
      batchSize: 2,
      pixelValues: cases.tensor("pixel_values"),
    };
    const losses = [await trainStep(m, opt, b), await trainStep(m, opt, b)];
    const files = await lora.adapterFiles(m);
    b.pixelValues.dispose();
    opt.dispose();
    m.dispose();
    return { losses, adapterBytes: files["adapter_model.safetensors"].byteLength };
  }, backend);
}

describe("examples/05-browser in headless Chromium", () => {
  it("decodes the fixture images (createImageBitmap, WebGL readback) to sharp's exact pixels; refuses the truncated JPEG", async (ctx) => {
    if (!context) return ctx.skip();
    const page = await openPage();
    const names = readdirSync(join(fixturesDir(), "image-processor/images")).filter(
      (n) => n !== "truncated.jpg",
    );
    const decoded = await page.evaluate(async (names) => {
      const { processor } = (window as any).llava;
      const out: Record<string, { width: number; height: number; b64: string } | string> = {};
      for (const n of [...names, "truncated.jpg"])
        try {
          const img = await processor.decodeImage(`/fixtures/image-processor/images/${n}`);
          let bin = "";
          for (let i = 0; i < img.data.length; i += 0x8000)
            bin += String.fromCharCode(...img.data.subarray(i, i + 0x8000));
          out[n] = { width: img.width, height: img.height, b64: btoa(bin) };
        } catch (e) {
          out[n] = (e as Error).message;
        }
      return out;
    }, names);
    await page.close();
    const diffs: Record<string, number> = {};
    for (const n of names) {
      const node = await decodeImage(join(fixturesDir(), "image-processor/images", n));
      const got = decoded[n];
      expect(typeof got, `${n}: ${got}`).toBe("object");
      if (typeof got !== "object") continue;
      expect([got.width, got.height], n).toEqual([node.width, node.height]);
      const bytes = Buffer.from(got.b64, "base64");
      let max = 0;
      for (let i = 0; i < bytes.length; i++) max = Math.max(max, Math.abs(bytes[i] - node.data[i]));
      diffs[n] = max;
    }
    figures.decodeMaxAbsDiff = diffs;
    // Exactly sharp's pixels, transparent ones included (read through WebGL unpremultiplied; SwiftShader here).
    for (const [n, max] of Object.entries(diffs)) expect(max, n).toBe(0);
    expect(decoded["truncated.jpg"]).toMatch(/cannot decode image/);
  });

  it("wasm: logits within 1e-4 of transformers', loss within 1e-5, greedy ids exact", async (ctx) => {
    if (!context) return ctx.skip();
    const page = await openPage();
    const r = await parity(page, "wasm");
    expect(r.backend).toBe("wasm");
    expect(r.logitsMaxAbs).toBeLessThan(1e-4);
    expect(r.lossAbs).toBeLessThan(1e-5);
    expect(r.ids).toEqual(r.want);
    expect(r.pathFolder).toBe(`${server.url}/fixtures/hf/llava/`);
    figures.wasmLogitsMaxAbs = r.logitsMaxAbs;
    await page.close();
  });

  it("webgl (SwiftShader under --disable-gpu), where Chromium offers it: the same checks; the automatic choice passes over a software one", async (ctx) => {
    if (!context) return ctx.skip();
    const page = await openPage();
    const gl = await webglRenderer(page);
    const automatic = await page.evaluate(() => (window as any).llava.setUpBackend());
    const r = await parity(page, "webgl");
    figures.webgl =
      r.backend === "webgl"
        ? { ...gl, automatic, logitsMaxAbs: r.logitsMaxAbs, lossAbs: r.lossAbs }
        : "not offered";
    await page.close();
    if (r.backend !== "webgl") {
      console.log(
        `webgl parity skipped: Chromium here offers no WebGL (initBackend fell back to ${r.backend})`,
      );
      return ctx.skip();
    }
    // The automatic choice passes over a software WebGL (a forward there is ~8× slower than wasm's:
    // docs/browser.md); asked for by name, WebGL runs on it.
    expect(automatic).toBe(gl.software ? "wasm" : "webgl");
    expect(r.logitsMaxAbs).toBeLessThan(1e-4);
    expect(r.lossAbs).toBeLessThan(1e-5);
    expect(r.ids).toEqual(r.want);
  });

  it("webgpu (GPU on, --enable-unsafe-webgpu), where Chromium offers an adapter: the same checks, and a LoRA step's loss within 1e-5 of the Node trainer's", async (ctx) => {
    if (!context) return ctx.skip();
    const gpu = await launchChromium(chromiumPath!, { gpu: true });
    try {
      const page = await openPage("", gpu);
      const offered = await page.evaluate(async () => {
        const g = (navigator as any).gpu;
        const adapter = g ? await g.requestAdapter() : null;
        if (!adapter)
          return { missing: g ? "requestAdapter() gave no adapter" : "navigator.gpu is undefined" };
        const { vendor = "", architecture = "" } = adapter.info ?? {};
        const software = adapter.isFallbackAdapter || architecture === "swiftshader";
        return { adapter: `${vendor} ${architecture}`.trim(), software };
      });
      if ("missing" in offered) {
        figures.webgpu = `not offered: ${offered.missing}`;
        console.log(`webgpu parity skipped: ${offered.missing}`);
        return ctx.skip();
      }
      const gl = await webglRenderer(page);
      const automatic = await page.evaluate(() => (window as any).llava.setUpBackend());
      const r = await parity(page, "webgpu");
      const trained = await pageLoraLosses(page, "webgpu"); // the same page: its compiled shaders are reused
      await page.close();
      const node = await nodeLoraLosses();
      figures.webgpu = {
        ...offered,
        webglRenderer: gl.renderer,
        automatic,
        logitsMaxAbs: r.logitsMaxAbs,
        lossAbs: r.lossAbs,
        loraLosses: trained.losses,
      };
      console.log(`webgpu ran on the adapter "${offered.adapter}" (software: ${offered.software})`);
      // The automatic choice passes over a software WebGPU adapter and a software WebGL: on SwiftShader a
      // forward is ~30× and ~8× slower than wasm's (docs/browser.md).
      expect(automatic).toBe(offered.software ? (gl.software ? "wasm" : "webgl") : "webgpu");
      expect(r.backend).toBe("webgpu");
      expect(r.logitsMaxAbs).toBeLessThan(1e-4);
      expect(r.lossAbs).toBeLessThan(1e-5);
      expect(r.ids).toEqual(r.want);
      expect(Math.abs(trained.losses[0] - node[0])).toBeLessThan(1e-5);
      expect(Math.abs(trained.losses[1] - node[1])).toBeLessThan(1e-4);
      expect(trained.adapterBytes).toBeGreaterThan(0);
    } finally {
      await gpu.close();
    }
  });

  it("a LoRA step in the page has the Node trainer's loss within 1e-5 (and the next within 1e-4)", async (ctx) => {
    if (!context) return ctx.skip();
    const node = await nodeLoraLosses();
    const page = await openPage();
    const browser = await pageLoraLosses(page, "wasm");
    await page.close();
    figures.loraLosses = { node, browser: browser.losses };
    expect(Math.abs(browser.losses[0] - node[0])).toBeLessThan(1e-5);
    expect(Math.abs(browser.losses[1] - node[1])).toBeLessThan(1e-4);
    expect(browser.adapterBytes).toBeGreaterThan(0);
  });

  it("the page: load by URL, caption with streamed tokens, fine-tune, download the adapter; a screenshot", async (ctx) => {
    if (!context) return ctx.skip();
    const started = Date.now();
    const page = await openPage("?model=/fixtures/hf/llava/&backend=wasm");
    await page.setInputFiles("#image", join(fixturesDir(), "image-processor/images/chelsea.png"));
    await page.click("#load");
    await page.waitForSelector("#caption-btn:not([disabled])", { timeout: 120_000 });
    await page.click("#caption-btn");
    await page.waitForFunction(() => (document.getElementById("caption")?.textContent ?? "").length > 0);
    figures.msToFirstCaptionToken = Date.now() - started;
    await page.waitForFunction(() => document.getElementById("log")?.textContent?.includes("captioned in"));
    const caption = (await page.textContent("#caption"))!.trim().split(" ").map(Number);
    expect(caption.length).toBe(24); // no eos for a model without a tokenizer: every token streamed
    expect(caption.every((id) => Number.isInteger(id) && id >= 0 && id < 512)).toBe(true);

    await page.fill("#target", "5 17 42 7");
    await page.fill("#steps", "2");
    await page.click("#train-btn");
    const link = page.locator("#downloads a", { hasText: "adapter_model.safetensors" });
    await link.waitFor({ timeout: 120_000 });
    const log = (await page.textContent("#log"))!;
    expect(log).not.toContain("error:");
    const losses = [...log.matchAll(/step \d\/2: loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
    expect(losses).toHaveLength(2);
    expect(losses[1]).toBeLessThan(losses[0]); // the caption is being learnt
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const saved = join(out, "adapter_model.safetensors");
    await download.saveAs(saved);
    const file = SafetensorsFile.open(saved);
    expect(file.keys().some((k) => k.includes("lora_A"))).toBe(true);
    file.close();

    const shot = join(out, "05-browser.png");
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    console.log(`screenshot: ${shot}`);
    await page.close();
  });
});
