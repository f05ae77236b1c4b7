// The dashboard's real Sign in against a real test authorization server: the MCP conformance
// kit's client auth scenario runs signin_driver.mjs (the dashboard in headless Chromium on a
// real `switchboard serve`) as its client. Screenshots go to test-artifacts/dashboard/50-*.png.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { it } from "node:test";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const KIT = process.env.SWITCHBOARD_CONFORMANCE ? path.resolve(process.env.SWITCHBOARD_CONFORMANCE) : path.join(ROOT, "..", "shared", "conformance");
const DRIVER = path.join(ROOT, "ui", "e2e", "signin_driver.mjs");

function run(cmd, args, options) {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, killSignal: "SIGKILL", ...options }, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
  });
}

it("signs in through the dashboard against the conformance kit's authorization server (auth/metadata-default)", { timeout: 240_000 }, async () => {
  assert.ok(existsSync(path.join(KIT, "run")), `the conformance kit is missing at ${KIT} (set SWITCHBOARD_CONFORMANCE)`);
  const setup = await run("bash", [path.join(KIT, "setup.sh")], { timeout: 240_000 });
  assert.equal(setup.error, null, `setup.sh failed: ${setup.error?.message}\n${setup.stdout}\n${setup.stderr}`);
  const cwd = mkdtempSync(path.join(tmpdir(), "sb-signin-kit-"));
  try {
    const { error, stdout, stderr } = await run(
      "bash",
      [path.join(KIT, "run"), "client", "--command", `node ${DRIVER}`, "--scenario", "auth/metadata-default", "--timeout", "120000"],
      { cwd, timeout: 180_000 },
    );
    const output = stdout + stderr;
    assert.ok(output.includes("OVERALL: PASSED"), `the kit did not pass (${error?.message ?? "no error"}):\n${output.slice(-8_000)}`);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
