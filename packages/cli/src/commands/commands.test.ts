// Every command run through main() on a tiny LLaVA (real build path, real Qwen2.5 tokenizer).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ADAPTER_FLAGS,
  buildArgs,
  inferArgs,
  mergeArgs,
  runMain as run,
  trainArgs,
  useTinyFixture,
} from "../../test/tiny-llava.js";

const fx = useTinyFixture();
let image: string;

beforeAll(async () => {
  image = join(fx.data.imagesDir!, fx.data.records[0].image);
});

describe("llava (no command, --help, unknown command)", () => {
  it("prints the command list", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["build", "train", "infer", "chat", "merge", "eval", "demo"])
      expect(r.out).toContain(`  ${c}`);
    expect((await run(["fly"])).err).toMatch(/unknown command "fly"/);
  });

  it("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8"));
    for (const flag of ["--version", "-v"]) {
      const r = await run([flag]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`${version}\n`);
    }
    expect((await run(["--help"])).out).toContain("llava --version");
  });

  it.each(["build", "train", "infer", "chat", "merge", "eval", "demo"])("%s --help", async (name) => {
    const r = await run([name, "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Usage: llava ${name}`);
  });
});

describe("llava build", () => {
  it("builds a LLaVA from a CLIP and a Qwen2.5 folder", async () => {
    const out = join(fx.root, "built-by-cli");
    const r = await run(buildArgs(fx, out, "--seed", "7"));
    expect(r.err).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.out).toContain("<image> token id 151665, pad token id 151643");
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(config.image_token_index).toBe(151665);
    expect(existsSync(join(out, "tokenizer.json"))).toBe(true);
    expect(existsSync(join(out, "preprocessor_config.json"))).toBe(true);
  });

  it("names a missing folder and an unknown flag", async () => {
    const r = await run(["build", "--vision", "/no/clip", "--llm", fx.qwen, "--out", "x"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--vision: CLIP folder not found: /no/clip");
    const u = await run(buildArgs(fx, "x", "--fp16"));
    expect(u.code).toBe(2);
    expect(u.err).toContain("unknown flag --fp16");
    expect((await run(["build", "--vision", fx.clip, "--llm", fx.qwen])).err).toContain("--out is required");
  });
});

describe("llava train", () => {
  const common = () => ["--model", fx.model, "--data", fx.data.chatJson, "--images", fx.data.imagesZip!];

  it.each([
    "use_lora",
    "freeze_vision",
    "none",
    "projector_only",
  ])("--train-type %s (2 steps, one rank)", async (t) => {
    const out = join(fx.root, `train-${t}`);
    const r = await run([
      "train",
      ...common(),
      "--train-type",
      t,
      "--output-dir",
      out,
      "--max-steps",
      "2",
      "--per-device-train-batch-size",
      "2",
      "--learning_rate",
      "1e-3",
      "--save-strategy",
      "steps",
      "--save-steps",
      "1",
      "--save-total-limit",
      "1",
      "--logging-steps",
      "1",
      "--seed",
      "1",
    ]);
    expect(r.err).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`strategy ${t}`);
    if (t === "use_lora") expect(existsSync(join(out, "adapter_model.safetensors"))).toBe(true);
    else expect(existsSync(join(out, "model.safetensors"))).toBe(true);
    expect(existsSync(join(out, "checkpoint-2"))).toBe(true);
    expect(existsSync(join(out, "checkpoint-1"))).toBe(false); // --save-total-limit 1
    expect(readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
    // Where the data put <image>, for inference: the 8 synthetic records use three English prompts.
    const format = JSON.parse(readFileSync(join(out, "prompt_format.json"), "utf8"));
    expect(format.counts.before + format.counts.after).toBe(8);
    expect(Object.keys(format.prompts)).toContain("Provide a brief description of the given image.");
  });

  it("--ranks 2 trains with ZeRO-2 and writes the adapter", async () => {
    const out = join(fx.root, "train-zero2");
    const r = await run([
      "train",
      ...common(),
      "--train-type",
      "use_lora",
      "--ranks",
      "2",
      "--output-dir",
      out,
      "--max-steps",
      "1",
      "--per-device-train-batch-size",
      "2",
      "--lora-r",
      "4",
      "--lora-alpha",
      "8",
    ]);
    expect(r.err).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, "adapter_config.json"))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8")).r).toBe(4);
    // Each rank read its own shard through its own loader (one batch each for one step).
    expect(r.out).toMatch(/rank 0: data loading waited [\d.]+% of the time \(1 batches\)/);
    expect(r.out).toMatch(/rank 1: data loading waited [\d.]+% of the time \(1 batches\)/);
  });

  it("--ranks 2 --launch processes: one process per rank over TCP", async () => {
    const out = join(fx.root, "train-zero2-processes");
    const r = await run([
      "train",
      ...common(),
      "--train-type",
      "freeze_vision",
      "--ranks",
      "2",
      "--launch",
      "processes",
      "--output-dir",
      out,
      "--max-steps",
      "1",
      "--per-device-train-batch-size",
      "2",
    ]);
    expect(r.err).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.out).toContain("2 rank(s) as processes");
    expect(r.out).toMatch(/rank 1: data loading waited [\d.]+% of the time \(1 batches\)/);
    expect(existsSync(join(out, "model.safetensors"))).toBe(true);
  });

  it("names bad values and paths", async () => {
    expect((await run(["train", ...common(), "--train-type", "qlora"])).err).toContain(
      "--train-type must be one of use_lora, freeze_vision, none, projector_only",
    );
    expect((await run(["train", "--model", fx.model, "--data", "/no/chat.json"])).err).toContain(
      "--data: data file or folder not found: /no/chat.json",
    );
    expect((await run(["train", ...common(), "--learning-rate", "fast"])).err).toContain(
      '--learning-rate expects a number, got "fast"',
    );
  });
});

describe("llava infer, chat, merge", () => {
  let adapter: string;
  beforeAll(async () => {
    adapter = join(fx.root, "adapter");
    // A trained adapter (random LoRA B would be zero and change nothing).
    const r = await run(trainArgs(fx, ...ADAPTER_FLAGS, "--output-dir", adapter));
    expect(r.code).toBe(0);
  });

  it("infer streams an answer, with an adapter and merged", async () => {
    const args = inferArgs(fx.model, image, "Describe it.", "--max-new-tokens", "6");
    const base = await run(args);
    expect(base.err).toMatch(/^llava infer: backend (wasm, \d+ threads?|cpu|tensorflow)\n$/); // and nothing else
    expect(base.code).toBe(0);
    expect(base.writes.length).toBeGreaterThan(1); // pieces arrive one by one, then the newline
    const withAdapter = await run([...args, "--adapter", adapter]);
    const merged = await run([...args, "--adapter", adapter, "--merged"]);
    expect(withAdapter.code).toBe(0);
    expect(merged.out).toBe(withAdapter.out); // greedy: folding the adapter in changes nothing
  });

  it("infer names the missing image and --merged without an adapter", async () => {
    const r = await run(["infer", "--model", fx.model, "--image", "/no/cat.jpg", "--prompt", "?"]);
    expect(r.err).toContain("--image: image file not found: /no/cat.jpg");
    const m = await run(["infer", "--model", fx.model, "--image", image, "--prompt", "?", "--merged"]);
    expect(m.err).toContain("--merged needs --adapter");
  });

  it("chat answers each line of stdin in one conversation", async () => {
    const r = await run(
      ["chat", "--model", fx.model, "--adapter", adapter, "--image", image, "--max-new-tokens", "4"],
      ["What is in the picture?", "And its colour?", ""],
    );
    expect(r.code).toBe(0);
    expect(r.out.match(/> /g)?.length).toBe(3); // two answered prompts, then the one that ended it
    expect(r.err).toContain("chatting about");
  });

  it("merge writes a full model that answers as base + adapter", async () => {
    const out = join(fx.root, "merged");
    const r = await run(mergeArgs(fx.model, adapter, out));
    expect(r.code).toBe(0);
    expect(existsSync(join(out, "model.safetensors"))).toBe(true);
    expect(existsSync(join(out, "tokenizer.json"))).toBe(true);
    const prompt = ["--image", image, "--prompt", "Describe it.", "--max-new-tokens", "6"];
    const merged = await run(["infer", "--model", out, ...prompt]);
    const adapted = await run(["infer", "--model", fx.model, "--adapter", adapter, ...prompt]);
    expect(merged.out).toBe(adapted.out);
    expect((await run(mergeArgs(fx.model, "/no/adapter", out))).err).toContain(
      "--adapter: adapter folder not found: /no/adapter",
    );
  });
});
