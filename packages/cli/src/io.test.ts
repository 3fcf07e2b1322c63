// chat's stdin: lines piped in while the model loads are kept for the reader.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { bufferedLines } from "./io.js";

describe("bufferedLines", () => {
  it("keeps the lines that arrive before anyone reads them", async () => {
    const input = new PassThrough();
    const lines = bufferedLines(input);
    input.write("first\nsecond\n");
    input.end("third\n");
    await new Promise((r) => setTimeout(r, 50)); // the model loading
    const got: string[] = [];
    for await (const l of lines) got.push(l);
    expect(got).toEqual(["first", "second", "third"]);
  });
});
