// A real browser for the dashboard's tests: Debian's Chromium driven by playwright-core
// (which downloads nothing). `.ci/run` installs it when missing; on a machine without it the
// tests fail saying how to install it, rather than being skipped.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const chromiumPath = process.env.SPOOL_CHROMIUM ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: install it (apt-get install -y chromium) or set SPOOL_CHROMIUM to its path`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // No sandbox (CI runs as root), no GPU, and nothing that reaches the internet.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
