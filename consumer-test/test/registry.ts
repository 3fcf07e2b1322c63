// A throwaway npm registry: verdaccio on 127.0.0.1, installed from npm and storing into a temporary
// folder. @llava-ts/* come only from what the test publishes; everything else is proxied from the public
// npm registry.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { cleanEnv, runOk } from "./run.js";

/**
 * Installed with npm into the test's temporary folder, not a workspace dependency: its ~320 packages
 * (64 MB) would otherwise land in every contributor's install and in the lockfile, for one test. npm's
 * cache makes the second run quick. 6.8 is the last verdaccio that runs on Node 20 (6.9 asks for 22), and
 * the packages support Node ^20.19.
 */
export const VERDACCIO = "verdaccio@6.8.0";

export interface Registry {
  url: string;
  /** An .npmrc holding the publish token. */
  userconfig: string;
  publish(tarball: string, tag?: string): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function config(storage: string, upstream: string): string {
  return `storage: ${JSON.stringify(join(storage, "storage"))}
auth:
  htpasswd:
    file: ${JSON.stringify(join(storage, "htpasswd"))}
    max_users: 1
uplinks:
  npmjs:
    url: ${upstream}
    timeout: 120s
    maxage: 60m
packages:
  "@llava-ts/*":
    access: $all
    publish: $authenticated
  "**":
    access: $all
    proxy: npmjs
log: { type: stdout, format: pretty, level: error }
`;
}

async function waitForPing(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited (${child.exitCode}):\n${log()}`);
    try {
      if ((await fetch(`${url}-/ping`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`verdaccio did not answer on ${url} within 120 s:\n${log()}`);
}

/** Installs verdaccio into `dir` and starts it on a free port of 127.0.0.1, storing into `dir`. */
export async function startRegistry(
  dir: string,
  upstream = "https://registry.npmjs.org/",
): Promise<Registry> {
  mkdirSync(dir, { recursive: true });
  await runOk(
    "npm",
    [
      ...["install", "--prefix", join(dir, "server"), VERDACCIO, "--registry", upstream],
      ...["--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"],
    ],
    { cwd: dir },
  );
  const bin = join(dir, "server/node_modules/verdaccio/bin/verdaccio");
  const file = join(dir, "config.yaml");
  writeFileSync(file, config(dir, upstream));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const child = spawn(process.execPath, [bin, "--config", file, "--listen", `127.0.0.1:${port}`], {
    cwd: dir,
    env: cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const stop = async () => {
    // Exited already: exitCode when it ended itself, signalCode when a signal ended it.
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  try {
    await waitForPing(url, child, () => output);
    // One user, for publishing.
    const res = await fetch(`${url}-/user/org.couchdb.user:consumer`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "consumer", password: "consumer-test" }),
    });
    const { token } = (await res.json()) as { token?: string };
    if (!token) throw new Error(`verdaccio did not register a user (HTTP ${res.status})`);
    const userconfig = join(dir, ".npmrc");
    writeFileSync(userconfig, `//127.0.0.1:${port}/:_authToken=${token}\n`);
    return {
      url,
      userconfig,
      async publish(tarball, tag = "latest") {
        // publishConfig asks for provenance, which only a CI provider can sign: not here.
        await runOk(
          "npm",
          [
            "publish",
            tarball,
            "--registry",
            url,
            "--userconfig",
            userconfig,
            "--tag",
            tag,
            "--provenance=false",
          ],
          { cwd: dir },
        );
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
