#!/usr/bin/env node
import { createInterface } from "node:readline";
import { main } from "./main.js";

const stdin = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin }).then((code) => {
  stdin.close();
  process.exitCode = code;
});
