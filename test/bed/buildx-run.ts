// Runs the real buildx asynchronously (in-process servers keep serving) with its state in a temp dir.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';

export type BuildxResult = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
};

export type BuildxRun = {
  /** Directory for BUILDX_CONFIG (created if missing). */
  configDir: string;
  /** Extra environment, e.g. DOCKER_CONFIG. */
  env?: NodeJS.ProcessEnv;
  /** Kill (by PID) after this many ms; default 180 s. */
  timeoutMs?: number;
};

/** Runs `buildx ...args`; never throws for a non-zero exit, the caller reads `code` and `stderr`. */
export function runBuildx(buildx: string, args: readonly string[], options: BuildxRun): Promise<BuildxResult> {
  mkdirSync(options.configDir, { recursive: true });
  return new Promise((resolve, reject) => {
    const child = spawn(buildx, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BUILDX_CONFIG: options.configDir, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) process.kill(child.pid, 'SIGKILL');
    }, options.timeoutMs ?? 180_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** `buildx create --driver remote` for `endpoint`, repeatable thanks to a fixed `--node`. Throws with stderr on failure. */
export async function createRemoteBuilder(
  buildx: string,
  configDir: string,
  name: string,
  endpoint: string,
  driverOpts: Record<string, string> = {},
): Promise<void> {
  const opts = Object.entries(driverOpts).map(([key, value]) => `${key}=${value}`);
  const args = [
    'create',
    '--name',
    name,
    '--node',
    `${name}0`,
    '--driver',
    'remote',
    ...(opts.length > 0 ? ['--driver-opt', opts.join(',')] : []),
    endpoint,
  ];
  const result = await runBuildx(buildx, args, { configDir, timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`buildx ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
}

/** The lines of buildx output that carry an error (`ERROR:` and `error:` lines), for reports and matching. */
export function errorLines(output: string): string[] {
  return output.split('\n').filter((line) => /\berror\b/i.test(line));
}
