// Runs a command to completion without blocking the event loop; its output goes to a log file,
// and a failure throws with the command, the exit status and the log's tail.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { tail } from '../bed/process.js';

export type ExecOptions = {
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  onTimeout?: () => void;
};

export function exec(
  file: string,
  args: readonly string[],
  options: ExecOptions,
): Promise<{ exitCode: number | null; ms: number }> {
  const started = Date.now();
  const fd = openSync(options.logFile, 'a');
  const child = spawn(file, args, { stdio: ['ignore', fd, fd], env: options.env ?? process.env, cwd: options.cwd });
  closeSync(fd);
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          if (options.onTimeout) options.onTimeout();
          else if (child.pid) process.kill(child.pid, 'SIGKILL');
        }, options.timeoutMs)
      : undefined;
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${file}: ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut)
        reject(
          new Error(`${describe(file, args)} timed out after ${options.timeoutMs} ms:\n${tail(options.logFile, 40)}`),
        );
      else resolve({ exitCode: signal ? null : code, ms: Date.now() - started });
    });
  });
}

/** Like `exec`, but anything but exit 0 is an error. */
export async function execOk(file: string, args: readonly string[], options: ExecOptions): Promise<number> {
  const { exitCode, ms } = await exec(file, args, options);
  if (exitCode !== 0)
    throw new Error(
      `${describe(file, args)} failed (exit ${exitCode}); log ${options.logFile}:\n${tail(options.logFile, 40)}`,
    );
  return ms;
}

const describe = (file: string, args: readonly string[]): string => [file, ...args].join(' ').slice(0, 400);

/**
 * For a slow suite's set-up: `timed` runs a stage, says how long it took and keeps the line;
 * `summary` is all of them, for the suite's last words.
 */
export function stageTimer(say: (line: string) => void): {
  timed: <T>(what: string, run: () => T | Promise<T>) => Promise<T>;
  summary: () => string;
} {
  const lines: string[] = [];
  return {
    timed: async (what, run) => {
      const started = Date.now();
      const result = await run();
      const line = `${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`;
      lines.push(line);
      say(line);
      return result;
    },
    summary: () => `timings:\n  ${lines.join('\n  ')}`,
  };
}
