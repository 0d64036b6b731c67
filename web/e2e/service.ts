// The real service for the end-to-end tests: a tiny model and data from prepare.py, then
// `python -m scaler_wizard.cli serve` on a free loopback port with a temporary workspace.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const STATE = join(tmpdir(), "scaler-wizard-e2e.json");
const PYTHON = process.env.SCALER_WIZARD_PYTHON ?? join(REPO, ".venv/bin/python");

export interface ServiceInfo {
  url: string;
  token: string;
  pid: number;
  root: string;
  model: string;
  data: string;
  bad_data: string;
  workspace: string;
}

export function readState(): ServiceInfo {
  return JSON.parse(readFileSync(STATE, "utf-8")) as ServiceInfo;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? ok(address.port) : fail(new Error("no port"))));
    });
  });
}

export async function startService(): Promise<ServiceInfo> {
  const root = mkdtempSync(join(tmpdir(), "scaler-wizard-e2e-"));
  const prepared = spawnSync(PYTHON, [join(REPO, "web/e2e/prepare.py"), root], { encoding: "utf-8" });
  if (prepared.status !== 0) throw new Error(`prepare.py failed: ${prepared.stderr}`);
  const paths = JSON.parse(prepared.stdout.trim().split("\n").pop() ?? "{}") as Omit<ServiceInfo, "url" | "token" | "pid" | "root">;
  const port = await freePort();
  const child: ChildProcess = spawn(
    PYTHON,
    ["-m", "scaler_wizard.cli", "serve", "--workspace", paths.workspace, "--port", String(port)],
    { cwd: root, env: { ...process.env, SCALER_WIZARD_HOME: paths.workspace }, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited: ${output}`);
    const ok = await fetch(`${url}/api/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`the service did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const token = readFileSync(join(paths.workspace, "server/token"), "utf-8").trim();
  child.unref();
  const info: ServiceInfo = { url, token, pid: child.pid ?? 0, root, ...paths };
  writeFileSync(STATE, JSON.stringify(info));
  return info;
}

export async function stopService(): Promise<void> {
  let info: ServiceInfo;
  try {
    info = readState();
  } catch {
    return;
  }
  // Jobs run in sessions of their own: none may outlive the tests (e.g. one left at a gate).
  const jobs = await fetch(`${info.url}/api/jobs`, { headers: { Authorization: `Bearer ${info.token}` } })
    .then((r) => r.json() as Promise<{ pid: number | null }[]>)
    .catch(() => []);
  for (const job of jobs) {
    try {
      if (job.pid) process.kill(job.pid, "SIGKILL");
    } catch {
      // ended meanwhile
    }
  }
  try {
    process.kill(-info.pid, "SIGTERM"); // the service's process group (it runs detached)
  } catch {
    // already gone
  }
  await new Promise((r) => setTimeout(r, 1000));
  if (!process.env.SCALER_WIZARD_E2E_KEEP) rmSync(info.root, { recursive: true, force: true });
  rmSync(STATE, { force: true });
}
