// Debian's Chromium for the browser test: found, else installed with apt-get when we are root, else a
// reason to skip that the test prints. Launched headless with a fresh profile and the flags a sandboxless
// container needs.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** The Chromium executable, or why there is none. */
export function findChromium(): { path: string } | { reason: string } {
  let path = CANDIDATES.find(existsSync);
  if (path) return { path };
  if (process.platform !== "linux" || process.getuid?.() !== 0 || !existsSync("/usr/bin/apt-get"))
    return { reason: "no Chromium at /usr/bin/chromium, and not root on Debian to apt-get install it" };
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let r = spawnSync("apt-get", ["install", "-y", "-qq", "chromium"], { env, encoding: "utf8" });
  if (r.status !== 0) {
    spawnSync("apt-get", ["update", "-qq"], { env, encoding: "utf8" });
    r = spawnSync("apt-get", ["install", "-y", "-qq", "chromium"], { env, encoding: "utf8" });
  }
  path = CANDIDATES.find(existsSync);
  return path
    ? { path }
    : { reason: `apt-get install chromium failed: ${(r.stderr || r.stdout).trim().split("\n").pop()}` };
}

/** Headless Chromium with a fresh --user-data-dir; `gpu` leaves the GPU on and enables WebGPU. */
export function launchChromium(path: string, options: { gpu?: boolean } = {}): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), "llava-chromium-"));
  return chromium.launchPersistentContext(profile, {
    executablePath: path,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      ...(options.gpu ? ["--enable-unsafe-webgpu"] : ["--disable-gpu"]),
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
