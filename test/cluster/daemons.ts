// Host daemons of the cluster: each in its own session (setsid, so a runner's Ctrl-C or a
// `timeout` on the process group never hits them half-way), output in a log file, PID recorded,
// stopped by PID only.
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tail } from '../bed/process.js';

export type HostDaemon = {
  name: string;
  pid: number;
  logFile: string;
  isRunning: () => boolean;
  exitStatus: () => string;
  logTail: (lines?: number) => string;
};

/** Running and not a zombie (a blocked event loop cannot reap its children, e.g. in a signal handler). */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

export function startHostDaemon(
  name: string,
  file: string,
  args: readonly string[],
  logFile: string,
  pidFile: string,
  env?: NodeJS.ProcessEnv,
): HostDaemon {
  const fd = openSync(logFile, 'a');
  const child = spawn(file, args, { stdio: ['ignore', fd, fd], env: env ?? process.env, detached: true });
  closeSync(fd);
  let status = '';
  child.on('exit', (code, signal) => (status = signal ? `killed by ${signal}` : `exit ${code}`));
  child.on('error', (error) => (status = `failed to start: ${error.message}`));
  child.unref();
  const pid = child.pid ?? -1;
  appendFileSync(pidFile, `${pid} ${name}\n`);
  return {
    name,
    pid,
    logFile,
    isRunning: () => status === '' && pid > 0 && alive(pid),
    exitStatus: () => status || 'exited',
    logTail: (lines = 30) => tail(logFile, lines),
  };
}

const sleepSync = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** SIGTERM, then SIGKILL after `graceMs`; synchronous so it also works from exit hooks. */
export function stopPid(pid: number, graceMs = 10_000): void {
  if (pid <= 0 || !alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && alive(pid)) sleepSync(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    for (let i = 0; i < 100 && alive(pid); i++) sleepSync(20);
  }
}

/** Polls `check` until true; fails early with the daemon's log tail when it exits. */
export async function waitFor(
  daemon: HostDaemon | undefined,
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (daemon && !daemon.isRunning())
      throw new Error(
        `${daemon.name} exited (${daemon.exitStatus()}) before ${what}; log ${daemon.logFile}:\n${daemon.logTail(40)}`,
      );
    try {
      if (await check()) return;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(
    `${what}: not after ${timeoutMs} ms${lastError ? ` (last error: ${lastError.slice(0, 500)})` : ''}${daemon ? `; ${daemon.name} log ${daemon.logFile}:\n${daemon.logTail(40)}` : ''}`,
  );
}
