import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataError, FormatError } from "@llava-ts/core";
import { describe, expect, it } from "vitest";
import { indexJsonArray } from "./index-json-array.js";
import { indexJsonLines } from "./index-json-lines.js";

const dir = mkdtempSync(join(tmpdir(), "llava-index-"));

// Values chosen to trip a naive scanner: brackets and quotes inside strings, escaped backslashes before a
// closing quote, multi-byte UTF-8, nesting, bare primitives.
const values: unknown[] = [
  { id: "a", conversations: [{ from: "human", value: '[not] {a} "record"\n<image>' }] },
  { s: "ends with backslash \\", t: '\\"', u: "你好 👍 Ångström" },
  [1, [2, [3, {}]], "]"],
  "a bare string with , and ]",
  42,
  -1.5e3,
  true,
  null,
  {},
  { deep: { er: { est: ["x", { y: "}" }] } } },
];

describe("indexJsonArray", () => {
  const file = join(dir, "tricky.json");
  writeFileSync(
    file,
    ` \n[ ${values.map((v, i) => JSON.stringify(v, null, i % 2 ? 2 : 0)).join(" ,\n")} ]\n`,
  );

  it("finds every element at every chunk size (state carried across chunk boundaries)", () => {
    for (const chunk of [1, 2, 3, 5, 7, 16, 64, 1 << 20]) {
      const index = indexJsonArray(file, chunk);
      expect(index.length).toBe(values.length);
      for (let i = 0; i < values.length; i++) expect(index.read(i)).toEqual(values[i]);
      index.close();
    }
  });

  it("handles an empty array and a UTF-8 BOM", () => {
    const empty = join(dir, "empty.json");
    writeFileSync(empty, "[]");
    expect(indexJsonArray(empty).length).toBe(0);
    const bom = join(dir, "bom.json");
    writeFileSync(bom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[{"a":1}]')]));
    expect(indexJsonArray(bom).read(0)).toEqual({ a: 1 });
  });

  it("rejects files that are not one JSON array", () => {
    const cases: [string, RegExp][] = [
      ['{"a": 1}', /expected a JSON array/],
      ['[{"a": 1}, {"b": ', /truncated JSON array/],
      ["", /empty file/],
      ['[{"a": 1}] x', /unexpected content after the closing \]/],
    ];
    for (const [text, msg] of cases) {
      const f = join(dir, "bad.json");
      writeFileSync(f, text);
      expect(() => indexJsonArray(f)).toThrow(FormatError);
      expect(() => indexJsonArray(f)).toThrow(msg);
    }
  });

  it("a malformed element is a DataError naming the record, not a failure of the whole file", () => {
    const f = join(dir, "one-bad.json");
    writeFileSync(f, '[{"a": 1}, {"b": tru}, {"c": 3}]');
    const index = indexJsonArray(f);
    expect(index.length).toBe(3);
    expect(index.read(2)).toEqual({ c: 3 });
    expect(() => index.read(1)).toThrow(DataError);
    expect(() => index.read(1)).toThrow(/one-bad.json record 1: invalid JSON/);
  });
});

describe("indexJsonLines", () => {
  it("indexes non-blank lines, with CRLF and no final newline, at any chunk size", () => {
    const f = join(dir, "rows.jsonl");
    const rows = values.filter((v) => v !== null);
    writeFileSync(f, `${rows.map((v) => JSON.stringify(v)).join("\r\n\n  \n")}`);
    for (const chunk of [1, 3, 8, 1 << 20]) {
      const index = indexJsonLines(f, chunk);
      expect(index.length).toBe(rows.length);
      for (let i = 0; i < rows.length; i++) expect(index.read(i)).toEqual(rows[i]);
    }
  });
});
