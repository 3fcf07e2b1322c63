#!/usr/bin/env node
import { bufferedLines } from "./io.js";
import { main } from "./main.js";

const stdin = bufferedLines(process.stdin);
main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin }).then((code) => {
  stdin.close();
  process.exitCode = code;
});
