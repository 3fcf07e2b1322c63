import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataError, FormatError } from "@llava-ts/core";
import { describe, expect, it } from "vitest";
import { crc32 } from "./crc32.js";
import { ZipReader } from "./zip-reader.js";
import { writeZip } from "./zip-writer.js";

const dir = mkdtempSync(join(tmpdir(), "llava-zip-"));
const text = Buffer.from("hello zip ".repeat(200)); // compressible
const random = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 2654435761) >>> 24)); // barely
const members = [
  { name: "a/text.txt", data: text },
  { name: "a/random.bin", data: random },
  { name: "empty.txt", data: Buffer.alloc(0) },
  { name: "名前.jpg", data: Buffer.from("utf-8 name") },
];

let python: boolean | undefined;
function hasPython(): boolean {
  if (python === undefined) {
    try {
      execFileSync("python3", ["-S", "-c", "import zipfile"]);
      python = true;
    } catch {
      python = false;
    }
  }
  return python;
}

describe("crc32", () => {
  it("matches the standard check value", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32(Buffer.from("6789"), crc32(Buffer.from("12345")))).toBe(0xcbf43926);
  });
});

describe("ZipReader / ZipWriter", () => {
  for (const [label, options] of [
    ["deflate", { method: "deflate" as const }],
    ["stored", { method: "store" as const }],
    ["ZIP64 records", { method: "deflate" as const, zip64: true }],
  ] as const) {
    it(`round-trips members (${label})`, () => {
      const file = join(dir, `${label.replace(/ /g, "_")}.zip`);
      writeZip(file, members, options);
      const zip = ZipReader.open(file);
      expect([...zip.names()].sort()).toEqual(members.map((m) => m.name).sort());
      for (const m of members) expect(zip.read(m.name).equals(m.data)).toBe(true);
      expect(zip.entry("a/text.txt")!.method).toBe(label === "stored" ? 0 : 8);
      zip.close();
    });
  }

  it("reads zips written by Python's zipfile, including forced ZIP64", () => {
    if (!hasPython()) return; // interop check only where python3 exists
    const file = join(dir, "py.zip");
    writeFileSync(join(dir, "payload.bin"), text);
    execFileSync("python3", [
      "-S",
      "-c",
      `import zipfile,sys
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[2], "deep/prefix/x.bin")
    with z.open("big.bin", "w", force_zip64=True) as f: f.write(open(sys.argv[2], "rb").read())
    z.writestr("stored.txt", "plain", compress_type=zipfile.ZIP_STORED)`,
      file,
      join(dir, "payload.bin"),
    ]);
    const zip = ZipReader.open(file);
    expect(zip.read("deep/prefix/x.bin").equals(text)).toBe(true);
    expect(zip.read("big.bin").equals(text)).toBe(true);
    expect(zip.read("stored.txt").toString()).toBe("plain");
    zip.close();
  });

  it("Python's zipfile reads our zips (deflate, ZIP64)", () => {
    if (!hasPython()) return;
    const file = join(dir, "ours64.zip");
    writeZip(file, members, { zip64: true });
    const out = execFileSync("python3", [
      "-S",
      "-c",
      "import zipfile,sys,zlib\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(sorted((i.filename, zlib.crc32(z.read(i))) for i in z.infolist()))",
      file,
    ]).toString();
    for (const m of members) expect(out).toContain(`('${m.name}', ${crc32(m.data)})`);
  });

  it("switches to ZIP64 end records past 65,534 members (CC3M's zip has 595K)", () => {
    const file = join(dir, "many.zip");
    const n = 65_600;
    writeZip(
      file,
      Array.from({ length: n }, (_, i) => ({
        name: `m${i}.jpg`,
        data: Buffer.from([i & 255]),
        method: "store" as const,
      })),
    );
    const zip = ZipReader.open(file);
    expect(zip.size).toBe(n);
    expect(zip.read("m65599.jpg")[0]).toBe(65599 & 255);
    zip.close();
  });

  it("detects a corrupted member by its CRC-32", () => {
    const file = join(dir, "corrupt.zip");
    writeZip(file, [{ name: "x.txt", data: Buffer.from("abcdefgh") }], { method: "store" });
    const bytes = readFileSync(file);
    bytes[30 + "x.txt".length + 2] ^= 0xff; // a byte of the stored data
    writeFileSync(file, bytes);
    const zip = ZipReader.open(file);
    expect(() => zip.read("x.txt")).toThrow(/CRC-32 mismatch/);
    expect(() => zip.read("x.txt")).toThrow(DataError);
    zip.close();
  });

  it("names a missing member and rejects a non-zip", () => {
    const file = join(dir, "deflate.zip");
    const zip = ZipReader.open(file);
    expect(() => zip.read("nope.jpg")).toThrow(/no member "nope.jpg"/);
    zip.close();
    const notZip = join(dir, "not.zip");
    writeFileSync(notZip, "just text");
    expect(() => ZipReader.open(notZip)).toThrow(FormatError);
    expect(() => ZipReader.open(notZip)).toThrow(/End Of Central Directory/);
  });
});
