// Starts a daemon process with its output in a log file, and stops it by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export type Daemon = {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves when the process has exited, with its exit code or signal. */
  exited: Promise<string>;
  isRunning: () => boolean;
  logTail: (lines?: number) => string;
  stop: () => Promise<void>;
};

const started = new Set<ChildProcess>();
// Last resort if a test process dies without running its `after` hooks: no daemon outlives it.
process.on('exit', () => {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
});

export function startDaemon(
  name: string,
  file: string,
  args: readonly string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): Daemon {
  const fd = openSync(logFile, 'a');
  const child = spawn(file, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
  closeSync(fd);
  started.add(child);
  let status = '';
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => {
      status = signal ? `killed by ${signal}` : `exit ${code}`;
      started.delete(child);
      resolve(status);
    });
    child.on('error', (error) => {
      status = `failed to start: ${error.message}`;
      started.delete(child);
      resolve(status);
    });
  });
  const isRunning = () => status === '';
  return {
    name,
    pid: child.pid ?? -1,
    logFile,
    exited,
    isRunning,
    logTail: (lines = 30) => tail(logFile, lines),
    stop: async () => {
      if (!isRunning() || !child.pid) return;
      process.kill(child.pid, 'SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!done && isRunning()) {
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
    },
  };
}

export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `check` until it returns true, the daemon exits, or the deadline passes. */
export async function waitUntil(daemon: Daemon, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!daemon.isRunning())
      throw new Error(`${daemon.name} exited (${await daemon.exited}) before it was ready:\n${daemon.logTail()}`);
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`${daemon.name} not ready after ${timeoutMs} ms:\n${daemon.logTail()}`);
}
