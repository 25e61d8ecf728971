// Runs buildx as a child process, streaming its output to our stderr line by line (masked).
// The one place buildx is spawned.
import { execa } from 'execa';
import { masker, type Masker } from '../mask.js';
import { writeOrWait } from '../output.js';
import { lineSplitter, type Piece } from './lines.js';

export type RunOptions = {
  env: Record<string, string | undefined>;
  /** Called for each line buildx prints, after it was passed through (at most its first 64 KiB). */
  onLine?: (line: string) => void;
  /** Applied to every line before it is shown or kept. */
  mask?: Masker;
  /**
   * Where buildx's output is shown; our stderr by default. A returned promise means the text is
   * queued: buildx's output is not read until it resolves.
   */
  write?: (text: string) => void | Promise<void>;
  signal?: AbortSignal;
  /**
   * Keep terminal control codes. buildx colours its warning block even when its output is not a
   * terminal, and pod logs show the codes raw (`ESC[33m1 warning found`): by default they are
   * kept only when our stderr is a terminal.
   */
  colour?: boolean;
};

/** CSI sequences (colours, cursor moves) as buildx and BuildKit write them. */
const CONTROL_SEQUENCE = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;?]*[ -/]*[@-~]`, 'g');

export type RunResult = { exitCode: number; tail: string[]; spawnError?: NodeJS.ErrnoException };

/** Runs `bin args`; never throws for a non-zero exit. Keeps the last lines for error messages. */
export type Runner = (bin: string, args: readonly string[], options: RunOptions) => Promise<RunResult>;

const TAIL_LINES = 60;
/** Characters of each line kept in the tail: enough for any error message, bounded for any line. */
const TAIL_LINE_CHARS = 4096;
/** How long buildx gets to cancel its build after SIGTERM before it is killed. */
const KILL_AFTER_MS = 5000;

export const runBuildx: Runner = async (bin, args, options) => {
  const mask = options.mask ?? masker([]);
  const write = options.write ?? writeOrWait(process.stderr);
  const tail: string[] = [];
  let paused: Promise<void> | undefined;
  const pause = (until: Promise<void>) => {
    child.stdout?.pause();
    child.stderr?.pause();
    const resume = (paused = Promise.all([paused, until]).then(() => {
      if (paused !== resume) return;
      paused = undefined;
      child.stdout?.resume();
      child.stderr?.resume();
    }));
  };
  // One write per chunk read, not per line: a log of millions of short lines stays cheap. While
  // the reader of our output lags, buildx is not read either, so its log cannot pile up here.
  const colour = options.colour ?? process.stderr.isTTY === true;
  const show = (raw: Piece[]) => {
    if (raw.length === 0) return;
    const pieces = colour ? raw : raw.map((piece) => ({ ...piece, text: piece.text.replace(CONTROL_SEQUENCE, '') }));
    const queued = write(pieces.map((piece) => (piece.last ? `${piece.text}\n` : piece.text)).join(''));
    if (queued) pause(queued);
    for (const piece of pieces) {
      if (!piece.first) continue;
      options.onLine?.(piece.text);
      tail.push(piece.text.slice(0, TAIL_LINE_CHARS));
      if (tail.length > TAIL_LINES) tail.shift();
    }
  };
  // buildx runs in a process group of its own, and a stop signals the whole group: SIGTERM, so
  // buildx cancels its build, then SIGKILL if it has not exited after KILL_AFTER_MS. Once buildx
  // exits, whatever is left of the group is killed: a wrapper script around buildx, or anything it
  // started, cannot outlive the step, nor hold buildx's stdout (and so the step) open.
  // Not execa's cancelSignal/forceKillAfterDelay: they signal through ChildProcess.kill, and a
  // stop that lands after libuv has reaped buildx but before Node emits its exit sends the signal
  // to pid 0, which is the step's own process group (seen on Node 20.20 with strace, when a failed
  // daemon wait stopped a `buildx create` just as it ended). The pid kept here is never 0.
  const child = execa(bin, args, {
    env: options.env,
    extendEnv: false,
    stdin: 'ignore',
    buffer: false,
    reject: false,
    detached: true,
  });
  const group = groupStopper(child.pid);
  child.once('exit', group.done);
  options.signal?.addEventListener('abort', group.stop, { once: true });
  if (options.signal?.aborted) group.stop();
  // stdout and stderr are split separately so their lines never interleave mid-line (only the
  // pieces of a line longer than 64 KiB can have the other stream's lines between them).
  // A masker that keeps state across lines (a helper's hidden output) gets one per stream and run.
  const out = lineSplitter(mask.forStream?.() ?? mask);
  const err = lineSplitter(mask.forStream?.() ?? mask);
  child.stdout?.on('data', (chunk: Buffer) => show(out.take(chunk)));
  child.stderr?.on('data', (chunk: Buffer) => show(err.take(chunk)));
  const result = await child;
  options.signal?.removeEventListener('abort', group.stop);
  group.done();
  show(out.end());
  show(err.end());
  await paused;
  const code = (result as { code?: string }).code;
  const spawnError = code === 'ENOENT' || code === 'EACCES' ? (result as unknown as NodeJS.ErrnoException) : undefined;
  return { exitCode: result.exitCode ?? (result.failed ? 1 : 0), tail, spawnError };
};

/**
 * `stop`: SIGTERM to the process group `pid` leads, SIGKILL after KILL_AFTER_MS. `done` (once
 * the leader exited): SIGKILL to whatever is left in the group, so nothing it started stays.
 */
function groupStopper(pid: number | undefined): { stop: () => void; done: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const signalGroup = (signal: NodeJS.Signals) => {
    if (!pid) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone already
    }
  };
  return {
    stop: () => {
      signalGroup('SIGTERM');
      timer ??= setTimeout(() => signalGroup('SIGKILL'), KILL_AFTER_MS);
    },
    done: () => {
      clearTimeout(timer);
      signalGroup('SIGKILL');
    },
  };
}
