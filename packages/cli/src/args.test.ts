import { describe, expect, it } from "vitest";
import { type CommandSpec, Flags, helpText, parseFlags, UsageError } from "./args.js";

const spec: CommandSpec = {
  name: "try",
  summary: "a test command",
  synopsis: "--model DIR",
  flags: {
    model: { type: "string", value: "DIR", help: "model folder", aliases: ["model-name-or-path"] },
    "learning-rate": { type: "string", value: "LR", help: "peak lr", default: "1e-4" },
    merged: { type: "boolean", help: "merge" },
  },
};

describe("parseFlags", () => {
  it("reads flags, fills defaults, accepts HF's snake_case spellings and aliases", () => {
    const v = parseFlags(spec, ["--model_name_or_path", "m", "--learning_rate=3e-4", "--merged"]);
    expect(v).toMatchObject({ model: "m", "learning-rate": "3e-4", merged: true });
    expect(parseFlags(spec, ["--model", "m"])["learning-rate"]).toBe("1e-4");
  });

  it("names an unknown flag", () => {
    expect(() => parseFlags(spec, ["--model", "m", "--bf16", "true"])).toThrow(/unknown flag --bf16/);
    try {
      parseFlags(spec, ["--deepspeed", "x"]);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).flag).toBe("--deepspeed");
    }
  });

  it("takes a negative number as a value, and repeats a multiple flag", () => {
    const multi: CommandSpec = {
      ...spec,
      flags: { ...spec.flags, image: { type: "string", help: "x", multiple: true } },
    };
    const v = parseFlags(multi, ["--learning-rate", "-1e-3", "--image", "a.jpg", "--image", "b.jpg"]);
    expect(v["learning-rate"]).toBe("-1e-3");
    expect(new Flags("try", v).strings("image")).toEqual(["a.jpg", "b.jpg"]);
    expect(() => parseFlags(spec, ["--model", "-x"])).toThrow(/--model needs a value/);
  });

  it("joins a negative number to its string flag in every spelling, and only there", () => {
    const spec2: CommandSpec = {
      ...spec,
      flags: { ...spec.flags, "vision-feature-layer": { type: "string", help: "x" } },
    };
    const v = (argv: string[]) => parseFlags(spec2, argv);
    expect(v(["--vision-feature-layer", "-2"])["vision-feature-layer"]).toBe("-2");
    expect(v(["--vision_feature_layer", "-2"])["vision-feature-layer"]).toBe("-2"); // HF's spelling
    expect(v(["--vision-feature-layer=-2"])["vision-feature-layer"]).toBe("-2");
    expect(v(["--learning-rate", "-.5", "--model", "m"])).toMatchObject({
      "learning-rate": "-.5",
      model: "m",
    });
    // Taken as the value, so the number check names it rather than parseArgs calling it a missing value.
    const inf = v(["--learning-rate", "-inf"]);
    expect(() => new Flags("try", inf).number("learning-rate")).toThrow(
      /--learning-rate expects a number, got "-inf"/,
    );
    // A switch takes no number: "-1" after it stays an argument of its own (here an unknown short flag).
    expect(() => v(["--merged", "-1"])).toThrow(/unknown flag -1/);
    // A dash word is not a number: the flag still lacks its value.
    expect(() => v(["--vision-feature-layer", "-last"])).toThrow(/--vision-feature-layer needs a value/);
  });

  it("takes true / false after a switch, as run_zero2.sh writes them (HF's string_to_bool)", () => {
    expect(parseFlags(spec, ["--model", "m", "--merged", "true"]).merged).toBe(true);
    expect(parseFlags(spec, ["--model", "m", "--merged=True"]).merged).toBe(true);
    expect(parseFlags(spec, ["--merged", "false", "--model", "m"])).toMatchObject({
      merged: false,
      model: "m",
    });
    expect(parseFlags(spec, ["--merged", "--merged", "0"]).merged).toBe(false);
    expect(parseFlags(spec, ["--merged", "no", "--merged"]).merged).toBe(true);
    expect(() => parseFlags(spec, ["--merged=maybe"])).toThrow(
      /--merged is a switch: give it alone, or true \/ false, not "maybe"/,
    );
    expect(() => parseFlags(spec, ["--merged", "model.bin"])).toThrow(/unexpected argument "model.bin"/);
  });

  it("names a flag without its value and rejects stray arguments", () => {
    expect(() => parseFlags(spec, ["--model"])).toThrow(/--model/);
    expect(() => parseFlags(spec, ["model.bin"])).toThrow(/unexpected argument "model.bin"/);
  });
});

describe("Flags", () => {
  it("checks numbers, integers, choices and paths, naming the flag", () => {
    const f = new Flags("try", { lr: "abc", n: "2.5", c: "sgd", p: "/no/such/dir", ok: "3" });
    expect(() => f.number("lr")).toThrow(/--lr expects a number, got "abc"/);
    expect(() => f.int("n")).toThrow(/--n expects an integer/);
    expect(f.int("ok")).toBe(3);
    expect(() => f.choice("c", ["adamw"])).toThrow(/--c must be one of adamw; got "sgd"/);
    expect(() => f.existingPath("p", "model folder")).toThrow(/--p: model folder not found: \/no\/such\/dir/);
    expect(() => f.required("missing")).toThrow(/--missing is required/);
  });
});

describe("helpText", () => {
  it("lists every flag with its default", () => {
    const text = helpText(spec);
    expect(text).toContain("Usage: llava try --model DIR");
    expect(text).toMatch(/--learning-rate LR\s+peak lr \(default 1e-4\)/);
    expect(text).toContain("--help");
  });
});
