// Fault suite (issue 19, classes 1 to 8; issue 14 item 1): the `llava` command as a person
// types it — in its own process (runCli) where the process matters (banners, uncaught errors, warnings,
// the environment), else through main() in this one. Every command says which backend it runs on and
// never prints tfjs' banner; every failure is one line — the error's class and message, naming the file,
// flag, key or record — with the stack only under LLAVA_DEBUG=1; bad values are refused before any model
// loads; no output may overwrite an input.
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliRun, READ_ONLY_MOUNTS, runCli } from "../test/run-cli.js";
import { buildArgs, inferArgs, mergeArgs, runMain, trainArgs, useTinyFixture } from "../test/tiny-llava.js";

const fx = useTinyFixture();
let image: string;
let adapter: string;
beforeAll(async () => {
  image = join(fx.data.imagesDir!, fx.data.records[0].image);
  adapter = join(fx.root, "adapter");
});

/** main() in this process, as bin.ts calls it. */
async function run(args: string[]): Promise<CliRun> {
  const r = await runMain(args);
  return { code: r.code, signal: null, stdout: r.out, stderr: r.err };
}

const BACKEND = /^llava (\w+): backend (wasm, \d+ threads?|cpu|tensorflow)$/m;
const BANNER = /install our node backend|looks like you are running TensorFlow\.js/;

/** One line on stderr after the backend line, naming the command; no stack, no minified source. */
function expectOneLineError(r: CliRun, command: string, message: string | RegExp, code = 1): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines[0]).toMatch(BACKEND);
  expect(lines.slice(1), r.stderr).toHaveLength(1);
  expect(lines[1].startsWith(`llava ${command}: `)).toBe(true);
  if (typeof message === "string") expect(lines[1]).toContain(message);
  else expect(lines[1]).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at |wasm-function|\.js:\d+:\d+/);
  expect(r.stderr).not.toMatch(BANNER);
}

const train = (...extra: string[]) => trainArgs(fx, ...extra);

describe("every command selects the backend, says so, and prints no tfjs banner", () => {
  it("train, infer, chat, merge and build, run as typed", async () => {
    const t = await runCli(
      train("--output-dir", adapter, "--max-steps", "2", "--learning-rate", "1e-2", "--save-strategy", "no"),
    );
    const i = await runCli(inferArgs(fx.model, image, "What?", "--max-new-tokens", "3"));
    const c = await runCli(["chat", "--model", fx.model, "--image", image, "--max-new-tokens", "2"], {
      stdin: "What is it?\n\n",
    });
    const m = await runCli(mergeArgs(fx.model, adapter, join(fx.root, "merged")));
    const b = await runCli(buildArgs(fx, join(fx.root, "rebuilt")));
    for (const [name, r] of [
      ["train", t],
      ["infer", i],
      ["chat", c],
      ["merge", m],
      ["build", b],
    ] as const) {
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stderr.match(BACKEND)?.[1]).toBe(name);
      expect(r.stdout + r.stderr).not.toMatch(BANNER);
    }
  });

  it("LLAVA_BACKEND and LLAVA_THREADS choose it, as for train", async () => {
    const r = await runCli(
      ["infer", "--model", fx.model, "--image", image, "--prompt", "?", "--max-new-tokens", "1"],
      {
        env: { LLAVA_BACKEND: "cpu" },
      },
    );
    expect(r.stderr.split("\n")[0]).toBe("llava infer: backend cpu");
    expect(r.stdout + r.stderr).not.toMatch(BANNER);
    const one = await runCli(["demo", "--ranks", "99"], { env: { LLAVA_THREADS: "1" } });
    expect(one.stderr.split("\n")[0]).toBe("llava demo: backend wasm, 1 thread");
    const bad = await runCli(["infer"], { env: { LLAVA_BACKEND: "gpu" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'llava infer: ConfigError: unknown backend "gpu"; expected tensorflow, webgpu, webgl, wasm, cpu\n',
    );
  });
});

describe("flag values are checked before any model loads", () => {
  it.each([
    [["--num-train-epochs", "-1"], '--num-train-epochs expects an integer ≥ 1, got "-1"'],
    [["--warmup-ratio", "5"], '--warmup-ratio must be ≥ 0 and ≤ 1, got "5"'],
    [["--max-grad-norm=-1"], '--max-grad-norm must be ≥ 0, got "-1"'],
    [["--lora-alpha=-16"], '--lora-alpha must be > 0, got "-16"'],
    [["--lora-alpha", "-16"], '--lora-alpha must be > 0, got "-16"'],
    [["--seed", "1e20"], '--seed expects an integer from 0 to 4294967295, got "1e20"'],
    [["--adam-beta2", "1"], '--adam-beta2 must be ≥ 0 and < 1, got "1"'],
    [["--ranks", "64"], /--ranks expects an integer from 1 to \d+, got "64"/],
    [
      ["--dataloader-num-workers", "1000"],
      /--dataloader-num-workers expects an integer from 0 to \d+, got "1000"/,
    ],
    [["--resume-from-checkpoint", "latest"], "--resume-from-checkpoint latest looks in --output-dir"],
  ])("train %j", async (flags, message) => {
    const r = await run(train(...flags));
    expectOneLineError(r, "train", message, 2);
    expect(r.stdout).toBe(""); // nothing was loaded or trained
  });

  it("--max-steps -1 is HF's 'not set' (the epochs decide)", async () => {
    const r = await run(
      train("--max-steps", "-1", "--per-device-train-batch-size", "8", "--save-strategy", "no"),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("(1 batches)"); // 8 records at batch 8: one epoch is one step
  });
});

describe("no output overwrites an input", () => {
  it("train --output-dir equal to --model, build --out equal to --llm, an --out that is a file", async () => {
    expectOneLineError(
      await run(train("--output-dir", `${fx.model}/`)),
      "train",
      "--output-dir must differ from --model",
      2,
    );
    expectOneLineError(await run(buildArgs(fx, fx.qwen)), "build", "--out must differ from --llm", 2);
    const file = join(fx.root, "a-file");
    writeFileSync(file, "x");
    expectOneLineError(await run(buildArgs(fx, file)), "build", `--out: ${file} is a file, not a folder`, 2);
    expectOneLineError(
      await run(train("--output-dir", join(file, "out"))),
      "train",
      /--output-dir: cannot write to .*ENOTDIR/,
      2,
    );
    expect(readFileSync(join(fx.qwen, "config.json"), "utf8")).toContain("qwen2");
  });
});

/** A copy of the tiny model with config.json changed by `edit`. */
function modelWith(name: string, edit: (config: Record<string, any>) => void): string {
  const dir = join(fx.root, name);
  cpSync(fx.model, dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  edit(config);
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  return dir;
}

describe("bad model folders and data are one line naming the file and key or record", () => {
  const infer = (model: string) => run(["infer", "--model", model, "--image", image, "--prompt", "?"]);

  it("config values: eps, rope base, pad id, a SigLIP tower, an unknown activation", async () => {
    const cases: [string, (c: Record<string, any>) => void, string][] = [
      [
        "eps",
        (c) => (c.text_config.rms_norm_eps = -1),
        "text_config.rms_norm_eps: expected a number > 0, found -1",
      ],
      [
        "theta",
        (c) => (c.text_config.rope_theta = 0),
        "text_config.rope_theta: expected a number > 0, found 0",
      ],
      ["pad", (c) => (c.pad_token_id = 1e12), "pad_token_id: 1000000000000 is not a token id"],
      [
        "siglip",
        (c) => (c.vision_config.model_type = "siglip_vision_model"),
        'vision_config.model_type: only "clip_vision_model" vision towers are supported, found "siglip_vision_model"',
      ],
      ["act", (c) => (c.text_config.hidden_act = "swiglu"), 'text_config.hidden_act: unknown value "swiglu"'],
    ];
    for (const [name, edit, message] of cases) {
      const dir = modelWith(`bad-${name}`, edit);
      expectOneLineError(await infer(dir), "infer", `ConfigError: ${join(dir, "config.json")}: ${message}`);
    }
  });

  it("a folder named model.safetensors, a hostile chat template", async () => {
    const dir = join(fx.root, "dir-weights");
    mkdirSync(join(dir, "model.safetensors"), { recursive: true });
    copyFileSync(join(fx.model, "config.json"), join(dir, "config.json"));
    expectOneLineError(
      await infer(dir),
      "infer",
      `FormatError: ${join(dir, "model.safetensors")}: is a folder`,
    );
    const hostile = modelWith("hostile-template", () => {});
    for (const f of ["tokenizer_config.json", "chat_template.json"]) {
      const path = join(hostile, f);
      const json = JSON.parse(readFileSync(path, "utf8"));
      if ("chat_template" in json) json.chat_template = "{{ messages | nosuchfilter }}";
      writeFileSync(path, JSON.stringify(json));
    }
    expectOneLineError(
      await infer(hostile),
      "infer",
      `ConfigError: ${join(hostile, "chat_template.json")}: chat_template: fails to render: Unknown ArrayValue filter: nosuchfilter`,
    );
  });

  it("an empty chat.json, a record that never closes", async () => {
    const empty = join(fx.root, "empty.json");
    writeFileSync(empty, "[]");
    const r = await run(["train", "--model", fx.model, "--data", empty]);
    expectOneLineError(r, "train", `DataError: ${empty}: the file holds no records`);
    const cut = join(fx.root, "cut.json");
    const text = readFileSync(fx.data.chatJson, "utf8");
    writeFileSync(cut, text.replace('"conversations":[{', '"conversations":[[{'));
    expectOneLineError(
      await run(["train", "--model", fx.model, "--data", cut]),
      "train",
      /FormatError: .*cut\.json: record 0 \(from byte 1\): a \} closes a \[ \(a missing \] in that record\?\)/,
    );
  });

  it("the stack only with LLAVA_DEBUG=1", async () => {
    const dir = modelWith("debug-eps", (c) => (c.text_config.rms_norm_eps = -1));
    const r = await runCli(["infer", "--model", dir, "--image", image, "--prompt", "?"], {
      env: { LLAVA_DEBUG: "1" },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ConfigError");
    expect(r.stderr).toMatch(/\n\s+at parse/);
  });
});

describe("long records and weights that are not numbers", () => {
  it("a record longer than the heap allows is named with the sizes, or cut by --model-max-length", async () => {
    const records = JSON.parse(readFileSync(fx.data.chatJson, "utf8"));
    records[0].conversations[1].value = Array.from({ length: 1500 }, (_, i) => `word${i}`).join(" ");
    const long = join(fx.root, "long.json");
    writeFileSync(long, JSON.stringify(records.slice(0, 1)));
    const base = [
      "train",
      "--model",
      fx.model,
      "--data",
      long,
      "--images",
      fx.data.imagesDir!,
      "--max-steps",
      "1",
    ];
    const r = await runCli(base);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split("\n").at(-1)).toMatch(
      /^llava train: OutOfMemoryError: record 0: a batch of 1 × [\d,]+ tokens \([\d,]+ labelled\) needs about [\d.]+ GiB of wasm heap \(.*\), but only [\d.]+ GiB of its 4\.00 GiB is free/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at |wasm-function/);
    const cut = await run([...base, "--model-max-length", "256"]);
    expect(cut.code, cut.stderr).toBe(0);
    expect(cut.stdout).toContain("truncated 1 record(s) to model_max_length");
  });

  it("NaN weights load with a warning naming the tensor", async () => {
    const dir = modelWith("nan-weights", () => {});
    const file = join(dir, "model.safetensors");
    const bytes = readFileSync(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
    const name = "multi_modal_projector.linear_1.weight";
    bytes.writeFloatLE(Number.NaN, 8 + headerLength + header[name].data_offsets[0]);
    writeFileSync(file, bytes);
    const r = await runCli([
      "infer",
      "--model",
      dir,
      "--image",
      image,
      "--prompt",
      "?",
      "--max-new-tokens",
      "1",
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`llava-ts: warning: ${file}: tensor "${name}" has 1 non-finite value(s)`);
  });
});

/** The child process of `pid` whose environment holds `entry` (e.g. a ZeRO-2 rank's RANK=1), from /proc. */
function childWithEnv(pid: number, entry: string): number | undefined {
  for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const ppid = Number(readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ")[1]);
      if (ppid === pid && readFileSync(`/proc/${p}/environ`, "utf8").split("\0").includes(entry))
        return Number(p);
    } catch {} // a process that ended while we looked
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The fixture's first `n` records as a new chat.json, `edit` applied to them. */
function recordsFile(name: string, n: number, edit: (records: any[]) => void = () => {}): string {
  const records = JSON.parse(readFileSync(fx.data.chatJson, "utf8")).slice(0, n);
  edit(records);
  const file = join(fx.root, name);
  writeFileSync(file, JSON.stringify(records));
  return file;
}

const tiny = (data: string, out: string, ...extra: string[]) => [
  "train",
  ...["--model", fx.model, "--data", data, "--images", fx.data.imagesDir!, "--output-dir", out],
  ...["--lora-r", "2", "--lora-target-modules", "q_proj", "--learning-rate", "1e-3", ...extra],
];

describe("skip means skip, and no lost work", () => {
  // One run for classes 2 and 3: two ranks, --save-strategy no, a loss curve that cannot be written (a
  // folder in its place, as a full disk would fail it), and one bad record of three at batch 1 — so one
  // micro-batch has nothing left, and the padded last shard may read the bad record on both ranks.
  it("--ranks 2: the bad record is reported once, its micro-batch passed over; the adapter is written first", async () => {
    const data = recordsFile("one-missing.json", 3, (r) => {
      r[1].image = "not-there.jpg";
    });
    const out = join(fx.root, "skip-2");
    mkdirSync(join(out, "loss-curve.png"), { recursive: true });
    const r = await run([
      ...tiny(data, out, "--on-error", "skip", "--per-device-train-batch-size", "1"),
      ...["--ranks", "2", "--save-strategy", "no"],
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      "skipped 1 bad record(s) (over 2 ranks, each record once): missing_image: 1\n",
    );
    expect(r.stdout).toMatch(/ {2}e\.g\. .*one-missing\.json record 1: .*not-there\.jpg/);
    expect(r.stdout).toMatch(/[12] micro-batch\(es\) had no record left to train on and were passed over/);
    expect(r.stdout).toContain(`saved adapter to ${out}`);
    expect(readFileSync(join(out, "adapter_config.json"), "utf8")).toContain("lora_alpha");
    expect(r.stderr).toMatch(/^llava train: warning: the loss curve was not written: .*loss-curve\.png/m);
    expect(readdirSync(out).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("runaway updates and the collective timeout", () => {
  it("use_lora at a learning rate of 1e9 stops with one line and saves no ruined adapter", async () => {
    const out = join(fx.root, "lr-1e9");
    const r = await run([
      ...tiny(fx.data.chatJson, out, "--per-device-train-batch-size", "2"),
      ...["--learning-rate", "1e9", "--max-steps", "4", "--save-strategy", "no"],
    ]);
    expectOneLineError(
      r,
      "train",
      // The run the issue quotes: weights blown up at step 1, saturated logits, no gradient at step 2.
      /TrainingError: step 2: the gradient norm is 0 with \d+ loss token\(s\) \(loss [\d.]+, learning rate [\d.e+]+\): the loss no longer changes any trainable weight/,
    );
    expect(readdirSync(out)).not.toContain("adapter_model.safetensors");
  });

  it.skipIf(process.platform !== "linux")(
    "a rank stopped with SIGSTOP is named after --ddp-timeout seconds, and the rank that waited is not blamed",
    async () => {
      const out = join(fx.root, "sigstop");
      let stopped: number | undefined;
      // Once rank 0 has logged two steps, rank 1 (a process of this one, RANK=1) is stopped.
      const watch = setInterval(() => {
        if (stopped !== undefined || !existsSync(join(out, "metrics.jsonl"))) return;
        if (readFileSync(join(out, "metrics.jsonl"), "utf8").split("\n").length < 3) return;
        stopped = childWithEnv(process.pid, "RANK=1");
        if (stopped !== undefined) process.kill(stopped, "SIGSTOP");
      }, 50);
      // Without the timeout the run would wait for the stopped rank (HF's default: 30 minutes).
      const r = await run([
        ...tiny(fx.data.chatJson, out, "--per-device-train-batch-size", "1", "--save-strategy", "no"),
        ...["--ranks", "2", "--launch", "processes", "--ddp-timeout", "3", "--max-steps", "300"],
      ]).finally(() => clearInterval(watch));
      const alive = stopped !== undefined && isAlive(stopped);
      if (alive) process.kill(stopped!, "SIGKILL");
      expect(stopped, r.stderr).toBeDefined();
      expectOneLineError(
        r,
        "train",
        /^llava train: RankError: rank 1 of 2 failed: rank 0: \w+ #\d+ waited 3 s for rank 1, which stopped answering \(the collective timeout\)$/,
      );
      expect(alive).toBe(false); // the launcher ended it
    },
    60_000,
  );

  it("--ddp-timeout is HF's seconds, checked before anything loads", async () => {
    expectOneLineError(
      await run(train("--ddp-timeout", "0")),
      "train",
      '--ddp-timeout expects an integer from 1 to 2147483, got "0"',
      2,
    );
  });
});

describe("a read-only output folder (EROFS)", () => {
  // A real read-only file system (a bind mount in a namespace of the command's own), not a chmod, which
  // root ignores.
  it.skipIf(!READ_ONLY_MOUNTS)(
    "train, merge, build, eval and demo refuse it before anything loads, in one line naming it",
    async () => {
      const ro = join(fx.root, "read-only");
      mkdirSync(ro);
      const cases: [string, string, string, string[]][] = [
        ["train", "--output-dir", join(ro, "out"), train("--max-steps", "1")],
        ["merge", "--out", join(ro, "merged"), ["merge", "--model", fx.model, "--adapter", fx.model]],
        ["build", "--out", join(ro, "built"), ["build", "--vision", fx.clip, "--llm", fx.qwen]],
        ["eval", "--output-dir", join(ro, "eval"), ["eval", "--model", fx.model, "--data", fx.data.chatJson]],
        ["demo", "--out", ro, ["demo", "--quick"]], // the folder itself: empty, so the demo may use it
      ];
      for (const [command, flag, out, args] of cases) {
        const r = await runCli([...args, flag, out], { readOnly: { folder: ro } });
        expectOneLineError(
          r,
          command,
          `${flag}: cannot write to ${out} (EROFS: read-only file system, ${out === ro ? "open" : "mkdir"} '`,
          2,
        );
        expect(r.stdout).toBe("");
      }
    },
  );

  it.skipIf(!READ_ONLY_MOUNTS)(
    "one that becomes read-only mid-run: one line naming the file, the checkpoints written before complete",
    async () => {
      const out = join(fx.root, "becomes-read-only");
      mkdirSync(out);
      const r = await runCli(
        tiny(
          fx.data.chatJson,
          out,
          "--per-device-train-batch-size",
          "1",
          "--max-steps",
          "400",
          "--save-steps",
          "1",
        ),
        { readOnly: { folder: out, after: join(out, "checkpoint-2") } },
      );
      expect(r.code, r.stderr).toBe(1);
      const last = r.stderr.trimEnd().split("\n").at(-1)!;
      const m =
        /^llava train: TrainingError: step (\d+): cannot write .+?: EROFS: read-only file system, \w+ '[^']+'; the last checkpoint, (\S+), is complete$/.exec(
          last,
        );
      expect(m, r.stderr).not.toBeNull();
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const [, failedAt, checkpoint] = m!;
      expect(checkpoint).toBe(join(out, `checkpoint-${Number(failedAt) - 1}`));
      // Every checkpoint-<n> in the folder is whole, and the named one carries on.
      for (const d of readdirSync(out).filter((d) => d.startsWith("checkpoint-")))
        expect(readdirSync(join(out, d)).sort()).toEqual(readdirSync(join(out, "checkpoint-1")).sort());
      const resumed = await run([
        ...tiny(fx.data.chatJson, join(fx.root, "resumed"), "--per-device-train-batch-size", "1"),
        ...["--max-steps", failedAt, "--save-strategy", "no", "--resume-from-checkpoint", checkpoint],
      ]);
      expect(resumed.code, resumed.stderr).toBe(0);
      const steps = readFileSync(join(fx.root, "resumed", "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).step);
      expect(steps).toEqual([Number(failedAt)]);
    },
  );

  it("a final save that fails names the folder and the last checkpoint, which is complete", async () => {
    const out = join(fx.root, "final-fails");
    mkdirSync(join(out, "adapter_model.safetensors"), { recursive: true }); // a folder where the file goes
    const r = await run(
      tiny(
        fx.data.chatJson,
        out,
        "--per-device-train-batch-size",
        "1",
        "--max-steps",
        "2",
        "--save-steps",
        "1",
      ),
    );
    expectOneLineError(
      r,
      "train",
      new RegExp(
        `^llava train: TrainingError: cannot write the final adapter to ${out}: EISDIR: .*; the last checkpoint, ${join(out, "checkpoint-2")}, is complete$`,
      ),
    );
    expect(readdirSync(join(out, "checkpoint-2"))).toContain("adapter_model.safetensors");
  });
});
