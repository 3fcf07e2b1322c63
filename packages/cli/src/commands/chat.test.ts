// `printf 'q\n' | llava chat --model M --image I`, as a person types it: the bin in its own process, its
// stdin piped and closed before the model has loaded. The line is kept, answered (the same answer as
// `llava infer --prompt q`), and the chat ends at the end of input.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/run-cli.js";
import { useTinyFixture } from "../../test/tiny-llava.js";

const fx = useTinyFixture();
let image: string;
beforeAll(async () => {
  image = join(fx.data.imagesDir!, fx.data.records[0].image);
});

describe("llava chat with piped input", () => {
  it("answers a line piped before the model loads, then ends at the end of input", async () => {
    const flags = ["--model", fx.model, "--image", image, "--max-new-tokens", "5"];
    const chat = await runCli(["chat", ...flags], { stdin: "q\n" });
    expect(chat.code, chat.stderr).toBe(0);
    expect(chat.stderr).toContain(`chatting about ${image}`);
    // "> " prompt, the answer, a newline, the next "> " and the newline of the end of input.
    expect(chat.stdout.startsWith("> "), chat.stdout).toBe(true);
    expect(chat.stdout.endsWith("\n> \n"), chat.stdout).toBe(true);
    const answer = chat.stdout.slice(2, -"\n> \n".length);
    expect(answer.trim(), chat.stdout).not.toBe("");
    // Greedy, one turn: what infer answers to the same prompt about the same image.
    const infer = await runCli(["infer", ...flags, "--prompt", "q"]);
    expect(infer.code, infer.stderr).toBe(0);
    expect(answer).toBe(infer.stdout.replace(/\n$/, ""));
  });
});
