// `llava train` as a user types it, on one rank and on two (ZeRO-2 worker threads): the seed reaches the
// LoRA initialisation, the final adapter is written for every save strategy, a checkpoint resumes on a
// different number of ranks exactly where the uninterrupted run went, and the loss curve is drawn.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsFile } from "@llava-ts/core";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import { applyLora } from "@llava-ts/lora";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { captureIO, useTinyFixture } from "../../test/tiny-llava.js";
import { main } from "../main.js";
import { loraConfigInput } from "./run-train.js";

const fx = useTinyFixture();

async function train(out: string, ranks: number, ...flags: string[]) {
  const io = captureIO();
  const code = await main(
    [
      "train",
      ...["--model", fx.model, "--data", fx.data.chatJson, "--images", fx.data.imagesZip!],
      ...["--train-type", "use_lora", "--output-dir", out, "--ranks", String(ranks)],
      // Per rank: 4 rows on one rank, 2 on each of two, so the global batch is the same.
      ...[
        "--per-device-train-batch-size",
        String(4 / ranks),
        "--learning-rate",
        "1e-2",
        "--lora-dropout",
        "0",
      ],
      ...flags,
    ],
    io,
  );
  expect(io.err()).not.toMatch(/Error/);
  expect(code).toBe(0);
  return io.out();
}

/** The full-precision loss of each step in a run's metrics.jsonl. */
const losses = (out: string): number[] =>
  readFileSync(join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).loss);

/** The adapter's tensors (lora_A only with `onlyA`), by key. */
function adapter(dir: string, onlyA = false): Map<string, Float32Array> {
  const file = SafetensorsFile.open(join(dir, "adapter_model.safetensors"));
  try {
    const keys = file.keys().filter((k) => !onlyA || k.includes("lora_A"));
    return new Map(keys.map((k) => [k, Float32Array.from(file.read(k).data as Float32Array)]));
  } finally {
    file.close();
  }
}

const maxDiff = (a: number[], b: number[]) => {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - b[i])));
};

describe("llava train on 1 and 2 ranks", () => {
  it("--seed initialises LoRA the same on 1 and 2 ranks (learning rate 0 keeps the initial adapter)", async () => {
    const one = join(fx.root, "seed-1rank");
    const two = join(fx.root, "seed-2ranks");
    const flags = ["--seed", "7", "--learning-rate", "0", "--max-steps", "1", "--save-strategy", "no"];
    await train(one, 1, ...flags);
    await train(two, 2, ...flags);
    const a1 = adapter(one, true);
    const a2 = adapter(two, true);
    expect(a1.size).toBe(7); // 7 projections × 1 layer of the tiny language model
    expect([...a2.keys()]).toEqual([...a1.keys()]);
    for (const [k, v] of a1) expect(a2.get(k), k).toEqual(v);
    // …and it is seed 7's initialisation, not another seed's.
    const lora = loraConfigInput({
      r: 8,
      alpha: 16,
      dropout: 0,
      targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    });
    for (const [seed, same] of [
      [7, true],
      [8, false],
    ] as const) {
      const model = LlavaForConditionalGeneration.fromPretrained(fx.model);
      applyLora(model, lora, { seed });
      const [, w] = [...model.namedParameters()].find(([n]) =>
        n.includes("layers.0.self_attn.q_proj.lora_A"),
      )!;
      const key = [...a1.keys()].find((k) => k.includes("layers.0.self_attn.q_proj"))!;
      expect(w.dataSync().every((x, i) => x === a1.get(key)![i])).toBe(same);
      model.dispose();
    }
  });

  // 8 records, a global batch of 4: 2 steps an epoch, 4 steps in 2 epochs.
  const saveCases = [
    { flags: ["--save-strategy", "no"], checkpoints: [] },
    // The last step (4) is not a save step: the trainer saves once more at the end.
    {
      flags: ["--save-strategy", "steps", "--save-steps", "3"],
      checkpoints: ["checkpoint-3", "checkpoint-4"],
    },
    // Every epoch's last step saves, the run's last step included.
    { flags: ["--save-strategy", "epoch"], checkpoints: ["checkpoint-2", "checkpoint-4"] },
  ];
  for (const { flags, checkpoints } of saveCases)
    for (const ranks of [1, 2])
      it(`writes the final adapter with ${flags.join(" ")} on ${ranks} rank(s)`, async () => {
        const out = join(fx.root, `final-${flags[1]}-${ranks}`);
        const text = await train(out, ranks, ...flags, "--num-train-epochs", "2");
        expect(text).toContain(`saved adapter to ${out}`);
        for (const f of ["adapter_config.json", "adapter_model.safetensors"])
          expect(existsSync(join(out, f)), f).toBe(true);
        expect(
          readdirSync(out)
            .filter((n) => n.startsWith("checkpoint-"))
            .sort(),
        ).toEqual(checkpoints);
        // The final adapter is the trained state after the last step: the last checkpoint's, value for value.
        if (checkpoints.length) expect(adapter(out)).toEqual(adapter(join(out, "checkpoint-4")));
        const png = await sharp(join(out, "loss-curve.png")).metadata();
        expect([png.format, png.width, png.height]).toEqual(["png", 800, 450]);
      });

  it("a checkpoint resumes on another number of ranks where the uninterrupted run went (2 → 1, 1 → 2)", async () => {
    const flags = ["--max-steps", "4", "--save-steps", "2", "--lr-scheduler-type", "constant"];
    const runs = { 1: join(fx.root, "resume-1"), 2: join(fx.root, "resume-2") };
    await train(runs[1], 1, ...flags);
    await train(runs[2], 2, ...flags);
    const full = { 1: losses(runs[1]), 2: losses(runs[2]) };
    console.log(`1 rank vs 2 ranks, 4 steps: max |Δloss| ${maxDiff(full[1], full[2]).toExponential(2)}`);
    expect(maxDiff(full[1], full[2])).toBeLessThan(1e-5);
    for (const [from, to] of [
      [2, 1],
      [1, 2],
    ] as const) {
      const out = join(fx.root, `resume-${from}-to-${to}`);
      const ckpt = join(runs[from], "checkpoint-2");
      await train(out, to, ...flags, "--resume-from-checkpoint", ckpt);
      const resumed = losses(out);
      console.log(
        `resume ${from} → ${to}: max |Δloss| steps 3–4 ${maxDiff(resumed, full[from].slice(2)).toExponential(2)}`,
      );
      expect(maxDiff(resumed, full[from].slice(2))).toBeLessThan(1e-5);
      expect(existsSync(join(out, "adapter_model.safetensors"))).toBe(true);
    }
  });

  it("--lora-dropout reaches training: another loss from the second step on, the same for the same seed", async () => {
    const flags = [
      "--max-steps",
      "3",
      "--lr-scheduler-type",
      "constant",
      "--save-strategy",
      "no",
      "--seed",
      "7",
    ];
    const run = async (name: string, dropout: string) => {
      const out = join(fx.root, name);
      await train(out, 1, ...flags, "--lora-dropout", dropout);
      return losses(out);
    };
    const none = await run("dropout-0", "0");
    const dropped = await run("dropout-30", "0.3");
    console.log(`--lora-dropout 0: ${none.join(", ")}; 0.3: ${dropped.join(", ")}`);
    // lora_B starts at zero (PEFT), so the first step's loss cannot see the dropout; later ones do.
    expect(Math.abs(dropped[0] - none[0])).toBeLessThan(1e-6);
    expect(maxDiff(dropped.slice(1), none.slice(1))).toBeGreaterThan(1e-4);
    expect(await run("dropout-30-again", "0.3")).toEqual(dropped);
  });
});
