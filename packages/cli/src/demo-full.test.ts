import { it } from "vitest";
import { runDemo } from "./demo/run-demo.js";

it("full demo", async () => {
  const r = await runDemo(
    { out: "/tmp/proto/demo1", ranks: 2 },
    { stdout: process.stdout, stderr: process.stderr },
  );
  console.log(JSON.stringify(r));
}, 3_600_000);
