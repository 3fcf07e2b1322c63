// @llava-ts/datasets/internal: pieces of the readers for scripts and tools (scripts/index-large.mjs).
// Not a stable API.

export { indexJsonArray } from "../index-json-array.js";
export { writeZip, type ZipMethod, ZipWriter, type ZipWriterOptions } from "../zip-writer.js";
