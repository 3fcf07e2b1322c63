// What an npm user gets: every package packed as it would be published, published to a throwaway registry
// (verdaccio on 127.0.0.1, third-party packages proxied from npmjs), and installed into fresh projects
// outside the workspace. There: the examples as standalone projects, the llava command as typed, each
// README's snippet after its `npm i` line, require() of every package, install sizes, and LoRA over two
// copies of core. The unit tests run from sources; this runs what `npm i` gives.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InstallSize, installedCopies, MiB, measure, newProject, npmInstall } from "./project.js";
import { importedPackages, readmeSnippet } from "./readme.js";
import { type Registry, startRegistry } from "./registry.js";
import { nextMinor, repack } from "./repack.js";
import { runOk } from "./run.js";

const ROOT = resolve(import.meta.dirname, "../..");
const FIXTURES = process.env.LLAVA_FIXTURES || resolve(ROOT, "../shared/fixtures");
const PNPM = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).packageManager as string;

interface Pkg {
  dir: string;
  name: string;
  version: string;
  path: string;
}
const PACKAGES: Pkg[] = readdirSync(join(ROOT, "packages"))
  .filter((dir) => existsSync(join(ROOT, "packages", dir, "package.json")))
  .map((dir) => {
    const path = join(ROOT, "packages", dir);
    const manifest = JSON.parse(readFileSync(join(path, "package.json"), "utf8"));
    return { dir, name: manifest.name, version: manifest.version, path };
  });
const pkg = (dir: string) => PACKAGES.find((p) => p.dir === dir)!;
const EXAMPLES = readdirSync(join(ROOT, "examples")).filter((d) => /^\d\d-/.test(d));

let work: string;
let registry: Registry;
let started: number;
const tarballs = new Map<string, string>();

type Install = InstallSize & { backend?: string };
/** What the run measured, printed at the end and written to figures.json beside this package. */
const figures: {
  /** `npm i <package>` alone, in an empty project. */
  alone: Record<string, Install>;
  /** Each README's `npm i …` line, in an empty project. */
  readme: Record<string, Install & { line: string }>;
  seconds?: number;
} = { alone: {}, readme: {} };

/** node -e CODE (an ES module) in `cwd`, with `args` as process.argv[1…]. */
const nodeEval = (cwd: string, code: string, ...args: string[]) =>
  runOk("node", ["--input-type=module", "-e", code, "--", ...args], { cwd });

/** Disk use, package count and (where core is installed) the backend initBackend() picks there. */
async function installFigures(project: string): Promise<Install> {
  const size = measure(project);
  if (!size.names.includes("@llava-ts/core")) return size;
  const r = await nodeEval(project, 'console.log(await (await import("@llava-ts/core")).initBackend())');
  return { ...size, backend: r.stdout.trim() };
}

beforeAll(async () => {
  started = Date.now();
  work = mkdtempSync(join(realpathSync(tmpdir()), "llava-consumer-"));
  // Node resolution walks up from each project: nothing above them may hold packages.
  for (let d = dirname(work); d !== dirname(d); d = dirname(d))
    if (existsSync(join(d, "node_modules")))
      throw new Error(`${d}/node_modules would leak into the projects`);
  // pnpm -r pack, as changeset publish packs: workspace: ranges become real ones; prepack checks the build.
  const dest = join(work, "tarballs");
  await runOk("npx", ["-y", PNPM, "-r", "--filter", "./packages/*", "pack", "--pack-destination", dest], {
    cwd: ROOT,
  });
  for (const p of PACKAGES) {
    const t = join(dest, `${p.name.slice(1).replace("/", "-")}-${p.version}.tgz`);
    if (!existsSync(t)) throw new Error(`pnpm -r pack wrote no ${t}`);
    tarballs.set(p.name, t);
  }
  registry = await startRegistry(join(work, "registry"));
  await Promise.all([...tarballs.values()].map((t) => registry.publish(t)));
});

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  if (started === undefined) return;
  figures.seconds = Math.round((Date.now() - started) / 1000);
  const row = (s: Install) =>
    `${s.packages} packages, ${(s.diskBytes / MiB).toFixed(1)} MiB on disk${s.backend ? `, backend ${s.backend}` : ""}`;
  console.log(
    [
      "consumer test figures:",
      ...Object.entries(figures.alone).map(([name, s]) => `  npm i ${name}: ${row(s)}`),
      "  README install lines:",
      ...Object.values(figures.readme).map((s) => `    npm i ${s.line}: ${row(s)}`),
      `  ${figures.seconds} s`,
    ].join("\n"),
  );
  const drop = <T extends InstallSize>({ names: _, ...s }: T) => s;
  writeFileSync(
    join(import.meta.dirname, "../figures.json"),
    `${JSON.stringify(
      {
        ...figures,
        alone: Object.fromEntries(Object.entries(figures.alone).map(([k, s]) => [k, drop(s)])),
        readme: Object.fromEntries(Object.entries(figures.readme).map(([k, s]) => [k, drop(s)])),
      },
      null,
      2,
    )}\n`,
  );
});

describe("the packed tarballs", () => {
  it("cover every package, which the consumer test builds first", () => {
    const dev = JSON.parse(
      readFileSync(join(import.meta.dirname, "../package.json"), "utf8"),
    ).devDependencies;
    for (const p of PACKAGES)
      expect(dev[p.name], `${p.name} in consumer-test's devDependencies`).toBeDefined();
  });

  it("hold LICENSE, README, every exported file, and real version ranges", async () => {
    for (const p of PACKAGES) {
      const t = tarballs.get(p.name)!;
      const files = (await runOk("tar", ["tzf", t], { cwd: work })).stdout.trim().split("\n");
      expect(files, p.name).toEqual(expect.arrayContaining(["package/LICENSE", "package/README.md"]));
      const manifest = JSON.parse(
        (await runOk("tar", ["xzOf", t, "package/package.json"], { cwd: work })).stdout,
      );
      expect(JSON.stringify(manifest), p.name).not.toMatch(/workspace:/);
      for (const [sub, entry] of Object.entries(manifest.exports as Record<string, Record<string, string>>)) {
        // A "browser" build (the processor's, without sharp) comes before "import" where there is one.
        expect(
          Object.keys(entry).filter((k) => k !== "browser"),
          `${p.name} ${sub}`,
        ).toEqual(["types", "import", "default"]);
        for (const f of Object.values(entry))
          expect(files, `${p.name}: ${f}`).toContain(`package/${f.slice(2)}`);
      }
      expect(manifest.license).toBe("Apache-2.0");
      expect(manifest.engines.node).toBe("^20.19.0 || >=22.12.0");
      expect(manifest.publishConfig).toEqual({ access: "public", provenance: true });
    }
  });
});

describe("npm i of one package, in an empty project", () => {
  it("@llava-ts/lora brings the wasm backend, within 80 MB", async () => {
    const project = newProject(join(work, "alone", "lora"));
    await npmInstall(registry, project, ["@llava-ts/lora"]);
    const s = await installFigures(project);
    figures.alone["@llava-ts/lora"] = s;
    expect(s.backend).toBe("wasm");
    expect(s.names).toEqual(
      expect.arrayContaining(["@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-core"]),
    );
    expect(s.names).not.toContain("@tensorflow/tfjs");
    expect(s.diskBytes).toBeLessThanOrEqual(80 * MiB);
  });

  it("@llava-ts/tokenizer installs no tfjs, within 15 MB", async () => {
    const project = newProject(join(work, "alone", "tokenizer"));
    await npmInstall(registry, project, ["@llava-ts/tokenizer"]);
    const s = await installFigures(project);
    figures.alone["@llava-ts/tokenizer"] = s;
    expect(s.names.filter((n) => n.includes("tensorflow"))).toEqual([]);
    expect(s.diskBytes).toBeLessThanOrEqual(15 * MiB);
  });
});

/** Where the examples and the llava command leave what later steps use. */
const out = () => ({
  checkpoints: join(work, "checkpoints"),
  model: join(work, "my-llava"),
  adapter: join(work, "adapter"),
  data: join(work, "data"),
});
const dirOf = (ex: string) => join(work, "examples", ex);
const IMAGE = () => join(FIXTURES, "image-processor/images/rocket.jpg");

describe("the examples, each a standalone project with real version ranges", () => {
  it("install from the registry", async () => {
    await Promise.all(
      EXAMPLES.map(async (ex) => {
        const dir = dirOf(ex);
        cpSync(join(ROOT, "examples", ex), dir, {
          recursive: true,
          filter: (f) => !f.includes("node_modules"),
        });
        const manifest = readFileSync(join(dir, "package.json"), "utf8");
        expect(manifest, ex).not.toMatch(/workspace:|file:|link:/);
        await npmInstall(registry, dir);
      }),
    );
  });

  it("01-build-model builds a LLaVA from tiny checkpoints", async () => {
    const dir = dirOf("01-build-model");
    const o = out();
    await nodeEval(
      dir,
      "await (await import('./build-model.mjs')).tinyCheckpoints(process.argv[1]);",
      o.checkpoints,
    );
    const r = await runOk(
      "node",
      [
        "build-model.mjs",
        ...["--vision", join(o.checkpoints, "tiny-clip"), "--llm", join(o.checkpoints, "tiny-qwen2.5")],
        ...["--out", o.model],
      ],
      { cwd: dir },
    );
    expect(r.stdout).toContain("<image> → 151665, pad → 151643");
    expect(r.stdout).toContain(`built ${o.model}:`);
    expect(existsSync(join(o.model, "tokenizer.json"))).toBe(true);
  });

  it("02-dataset batches a drawn dataset with the model's processor", async () => {
    const r = await runOk("node", ["dataset.mjs", "--model", out().model], { cwd: dirOf("02-dataset") });
    expect(r.stdout).toContain("16 records");
    expect(r.stdout).toMatch(/^batch: input_ids \[4, \d+\], pixel_values \[4,3,28,28\]$/m);
    expect(r.stdout).toContain("4 batches");
  });

  it("03-train trains a LoRA adapter, saved with PEFT's auto_mapping", async () => {
    const o = out();
    const r = await runOk(
      "node",
      [
        "train.mjs",
        ...["--model", o.model, "--train-type", "use_lora", "--output-dir", o.adapter],
        ...["--learning-rate", "1e-2"],
      ],
      { cwd: dirOf("03-train") },
    );
    expect(r.stdout).toMatch(/^use_lora: loss \d+\.\d+ → \d+\.\d+; saved /m);
    const config = JSON.parse(readFileSync(join(o.adapter, "adapter_config.json"), "utf8"));
    // Class names survive the build (keepNames): PEFT needs the real one here, tsup's `_Llava…` is null.
    expect(config.auto_mapping?.base_model_class).toBe("LlavaForConditionalGeneration");
  });

  it("04-infer answers with the adapter and merged, identically", async () => {
    const o = out();
    const r = await runOk("node", ["infer.mjs", "--model", o.model, "--adapter", o.adapter], {
      cwd: dirOf("04-infer"),
    });
    const withAdapter = r.stdout.match(/^base \+ adapter: (.*)$/m)?.[1];
    const merged = r.stdout.match(/^merged: +(.*)$/m)?.[1];
    expect(withAdapter).toBeDefined();
    expect(merged).toBe(withAdapter);
  });
});

describe("the llava command as a user types it (in 01's project, which depends on @llava-ts/cli)", () => {
  const cwd = () => dirOf("01-build-model");

  it("npx llava --version names the installed CLI's version", async () => {
    const r = await runOk("npx", ["llava", "--version"], { cwd: cwd() });
    expect(r.stdout.trim()).toBe(pkg("cli").version);
  });

  it("npx llava build writes the same model as buildLlava in 01", async () => {
    const o = out();
    const r = await runOk(
      "npx",
      [
        ...["llava", "build", "--vision", join(o.checkpoints, "tiny-clip")],
        ...["--llm", join(o.checkpoints, "tiny-qwen2.5"), "--out", "cli-llava"],
      ],
      { cwd: cwd() },
    );
    expect(r.stdout).toContain("<image> token id 151665, pad token id 151643");
    for (const f of ["config.json", "model.safetensors", "tokenizer.json"])
      expect(readFileSync(join(cwd(), "cli-llava", f)).equals(readFileSync(join(o.model, f))), f).toBe(true);
  });

  it("npx llava infer answers with 03's adapter, and the same with --merged", async () => {
    const o = out();
    const infer = (...extra: string[]) =>
      runOk(
        "npx",
        [
          ...["llava", "infer", "--model", "cli-llava", "--adapter", o.adapter, "--image", IMAGE()],
          ...["--prompt", "What is in the picture?", "--max-new-tokens", "6", ...extra],
        ],
        { cwd: cwd() },
      );
    const adapter = (await infer()).stdout;
    expect(adapter.trim().length).toBeGreaterThan(0);
    expect((await infer("--merged")).stdout).toBe(adapter);
  });

  it("require() loads every package (Node >= 20.19)", async () => {
    // The CLI depends on every package.
    const names = PACKAGES.map((p) => p.name);
    const r = await runOk(
      "node",
      [
        "-e",
        "for (const n of JSON.parse(process.argv[1])) console.log(n, Object.keys(require(n)).length)",
        JSON.stringify(names),
      ],
      { cwd: cwd() },
    );
    for (const n of names) expect(r.stdout).toMatch(new RegExp(`^${n} [1-9]\\d*$`, "m"));
  });
});

/**
 * What each README's snippet reads, by the names it uses: checkpoints 01 wrote, 03's adapter, the fixtures,
 * an image, a drawn dataset. The snippets run unchanged in a folder where these names exist.
 */
function snippetInputs(dir: string): Record<string, string> {
  const o = out();
  const image = (f: string) => join(FIXTURES, "image-processor/images", f);
  const inputs: Record<string, Record<string, string>> = {
    tokenizer: { "path/to/Qwen2.5-3B-Instruct": join(FIXTURES, "tokenizers/qwen2.5") },
    clip: { "path/to/clip-vit-large-patch14-336": join(FIXTURES, "hf/clip-vision") },
    qwen: { "path/to/Qwen2.5-0.5B-Instruct": join(o.checkpoints, "tiny-qwen2.5") },
    projector: { "path/to/llava-checkpoint": join(FIXTURES, "hf/llava") },
    processor: {
      "path/to/clip-vit-large-patch14-336": join(FIXTURES, "configs/clip-vit-large-patch14-336"),
      "cat.jpg": image("rocket.jpg"),
      "cat.png": image("chelsea.png"),
      "a.jpg": image("hubble_deep_field.jpg"),
      "b.png": image("coffee.png"),
    },
    llava: {
      "clip-vit-large-patch14-336": join(o.checkpoints, "tiny-clip"),
      "Qwen2.5-3B-Instruct": join(o.checkpoints, "tiny-qwen2.5"),
    },
    lora: { "path/to/llava": join(FIXTURES, "hf/llava") },
    datasets: { "path/to/llava-model": o.model },
    trainer: {
      "out/llava": o.model,
      "chat.json": join(o.data, "chat.json"),
      "images.zip": join(o.data, "images.zip"),
    },
    cli: { "my-llava": o.model, out: o.adapter, "cat.jpg": image("rocket.jpg") },
  };
  return inputs[dir] ?? {};
}

/** What a snippet's output must show, where it prints something checkable. */
const SNIPPET_PRINTS: Record<string, RegExp[]> = {
  core: [/^wasm$/m, /layers\.0\.weight/],
  errors: [/^hidden_size config\.json config\.json: hidden_size must/m, /^true false$/m],
  eval: [/^\[ "the dog 's toy is n't here" \]$/m],
  files: [
    /^true 4$/m,
    /^Uint8Array\(2\) \[ 2, 3 \]$/m,
    /^llava$/m,
    /^https:\/\/example\.com\/models\/llava\/$/m,
  ],
  lora: [/^LoRA on 14 linear layer\(s\), scope language_model:$/m, /trainable parameters: 26240 of 293376/],
  llava: [/^\[ [\d, ]+ \] \d+\.\d+$/m],
};

/** What a snippet must leave behind, where it writes files. */
const SNIPPET_WRITES: Record<string, string[]> = {
  core: ["mlp/model.safetensors"],
  tokenizer: ["out/tokenizer/tokenizer.json"],
  llava: ["my-llava/config.json", "copy/config.json"],
  lora: ["out/adapter/adapter_config.json", "out/merged/config.json"],
  trainer: ["out/run/adapter_config.json", "out/run/metrics.jsonl"],
};

describe("each README: its npm i line in an empty project, then its snippet", () => {
  beforeAll(async () => {
    // The trainer's snippet reads chat.json and images.zip: a drawn CC3M-style set, as 02 makes one.
    const o = out();
    await nodeEval(
      dirOf("02-dataset"),
      "const d = await import('@llava-ts/datasets'); await d.generateSyntheticCaptions({ out: process.argv[1], count: 8, size: 28 });",
      o.data,
    );
  });

  it.concurrent.each(PACKAGES.map((p) => p.dir))("%s", async (dir) => {
    const p = pkg(dir);
    const snippet = readmeSnippet(join(p.path, "README.md"));
    expect(snippet.install[0], "the README's npm i line starts with its own package").toBe(p.name);
    // The line names every package the snippet imports (not one it only gets through another).
    for (const name of importedPackages(snippet.code))
      expect(snippet.install, `${dir}'s README: npm i line vs the snippet's imports`).toContain(name);

    const project = newProject(join(work, "readme", dir));
    await npmInstall(registry, project, snippet.install);
    figures.readme[p.name] = { ...measure(project), line: snippet.install.join(" ") };

    for (const [name, target] of Object.entries(snippetInputs(dir))) {
      mkdirSync(dirname(join(project, name)), { recursive: true });
      symlinkSync(target, join(project, name));
    }
    writeFileSync(join(project, "snippet.mjs"), snippet.js);
    const r = await runOk("node", ["snippet.mjs"], { cwd: project });
    for (const re of SNIPPET_PRINTS[dir] ?? []) expect(r.stdout, `${dir} snippet output`).toMatch(re);
    for (const f of SNIPPET_WRITES[dir] ?? [])
      expect(existsSync(join(project, f)), `${dir} wrote ${f}`).toBe(true);
  });
});

describe("two copies of core", () => {
  it("a lora released against the next core wraps the linears of a Qwen2 model the older core built", async () => {
    const [core, lora, qwen] = [pkg("core"), pkg("lora"), pkg("qwen")];
    const [core2, lora2] = [nextMinor(core.version), nextMinor(lora.version)];
    // The same code released again: core as its next minor (outside ^current), and a lora that asks for it.
    // Tagged so that `latest` stays what the other projects install.
    const dir = join(work, "repacked");
    await registry.publish(
      await repack(tarballs.get(core.name)!, join(dir, "core"), { version: core2 }),
      "next",
    );
    await registry.publish(
      await repack(tarballs.get(lora.name)!, join(dir, "lora"), {
        version: lora2,
        dependencies: { [core.name]: `^${core2}` },
      }),
      "next",
    );
    const project = newProject(join(work, "two-cores"));
    await npmInstall(registry, project, [`${qwen.name}@${qwen.version}`, `${lora.name}@${lora2}`]);
    const versions = installedCopies(project, core.name)
      .map((d) => JSON.parse(readFileSync(join(d, "package.json"), "utf8")).version)
      .sort();
    expect(versions).toEqual([core.version, core2].sort());

    writeFileSync(join(project, "two-cores.mjs"), TWO_CORES);
    const r = await runOk("node", ["two-cores.mjs"], { cwd: project });
    expect(r.stdout).toContain(`qwen's core ${core.version}, lora's core ${core2}, distinct classes: true`);
    expect(r.stdout).toContain("backends: wasm wasm");
    expect(r.stdout).toMatch(
      /^wrapped: model\.layers\.0\.self_attn\.q_proj,model\.layers\.0\.self_attn\.v_proj,model\.layers\.1/m,
    );
    expect(r.stdout).toContain("logits unchanged by LoRA at init: true");
    expect(r.stdout).toContain("logits changed by a trained-looking adapter: true");
    expect(r.stdout).toContain("merged equals adapter: true");
    expect(r.stdout).toContain("auto_mapping: Qwen2ForCausalLM");
  });
});

/** Run in the two-cores project: qwen and lora each import their own copy of core. */
const TWO_CORES = `
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { parseQwen2Config, Qwen2ForCausalLM } from "@llava-ts/qwen";
import { applyLora, loraLayers, mergeAndUnload, saveAdapter } from "@llava-ts/lora";

const require = createRequire(import.meta.url);
const coreOf = (name) => createRequire(require.resolve(name)).resolve("@llava-ts/core");
const [qwenCore, loraCore] = await Promise.all(
  ["@llava-ts/qwen", "@llava-ts/lora"].map((n) => import(pathToFileURL(coreOf(n)).href)),
);
const versionOf = (n) => JSON.parse(readFileSync(new URL("../package.json", pathToFileURL(coreOf(n))), "utf8")).version;
console.log(\`qwen's core \${versionOf("@llava-ts/qwen")}, lora's core \${versionOf("@llava-ts/lora")}, distinct classes: \${qwenCore.Linear !== loraCore.Linear}\`);
console.log("backends:", await qwenCore.initBackend(), await loraCore.initBackend());

const config = parseQwen2Config({
  vocab_size: 64, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true,
});
const model = new Qwen2ForCausalLM(config, { seed: 0 });
const logits = () => {
  const { logits } = model.forward({ inputIds: [[1, 2, 3, 4, 5]] });
  const values = logits.dataSync().slice();
  logits.dispose();
  return values;
};
const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const base = logits();
const summary = applyLora(model, { r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj"] }, { seed: 0 });
console.log("wrapped:", summary.wrapped.join(","));
console.log("logits unchanged by LoRA at init:", maxDiff(base, logits()) === 0);
// B is zero at init; give it values, as training would.
for (const [, layer] of loraLayers(model)) {
  const b = layer.weightB.add(0.05);
  layer.weightB.assign(b);
  b.dispose();
}
const adapted = logits();
console.log("logits changed by a trained-looking adapter:", maxDiff(base, adapted) > 1e-4);
await saveAdapter(model, "adapter");
console.log("auto_mapping:", JSON.parse(readFileSync("adapter/adapter_config.json", "utf8")).auto_mapping?.base_model_class);
mergeAndUnload(model);
console.log("merged equals adapter:", maxDiff(adapted, logits()) < 1e-5);
model.dispose();
`;
