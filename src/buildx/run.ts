// Runs buildx as a child process, streaming its output to our stderr line by line (masked).
// The one place buildx is spawned.

export type RunOptions = {
  env: Record<string, string | undefined>;
  /** Called for each line buildx prints, after it was passed through. */
  onLine?: (line: string) => void;
  /** Applied to every line before it is shown or kept. */
  mask?: (text: string) => string;
  /** Where buildx's output is shown; our stderr by default. */
  write?: (text: string) => void;
  signal?: AbortSignal;
};

export type RunResult = { exitCode: number; tail: string[]; spawnError?: NodeJS.ErrnoException };

/** Runs `bin args`; never throws for a non-zero exit. Keeps the last lines for error messages. */
export type Runner = (bin: string, args: readonly string[], options: RunOptions) => Promise<RunResult>;

const TAIL_LINES = 60;

export const runBuildx: Runner = async (bin, args, options) => {
  // Loaded on first use: execa takes ~0.3 s to import, which validate, print-argv and a step
  // that fails on its params never need.
  const { execa } = await import('execa');
  const mask = options.mask ?? ((text: string) => text);
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const tail: string[] = [];
  const emit = (raw: string) => {
    const line = mask(raw);
    write(`${line}\n`);
    options.onLine?.(line);
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  // stdout and stderr are split into lines separately so their lines never interleave mid-line.
  const splitter = () => {
    let partial = '';
    return {
      take: (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        lines.forEach(emit);
      },
      flush: () => partial && emit(partial),
    };
  };
  // buildx runs in a process group of its own, and a stop signals the whole group: a wrapper
  // script around buildx (or anything it started) cannot outlive the step.
  const child = execa(bin, args, {
    env: options.env,
    extendEnv: false,
    stdin: 'ignore',
    buffer: false,
    reject: false,
    detached: true,
  });
  const stopGroup = stopper(child.pid);
  options.signal?.addEventListener('abort', stopGroup.stop, { once: true });
  if (options.signal?.aborted) stopGroup.stop();
  const out = splitter();
  const err = splitter();
  child.stdout?.on('data', out.take);
  child.stderr?.on('data', err.take);
  const result = await child;
  options.signal?.removeEventListener('abort', stopGroup.stop);
  stopGroup.done();
  out.flush();
  err.flush();
  const code = (result as { code?: string }).code;
  const spawnError = code === 'ENOENT' || code === 'EACCES' ? (result as unknown as NodeJS.ErrnoException) : undefined;
  return { exitCode: result.exitCode ?? (result.failed ? 1 : 0), tail, spawnError };
};

/** How long buildx gets to cancel its build after SIGTERM before its group is killed. */
const KILL_AFTER_MS = 5000;

/**
 * `stop`: SIGTERM to the process group `pid` leads, SIGKILL after KILL_AFTER_MS. `done` (once
 * the leader exited): SIGKILL to whatever is left in the group, so nothing it started stays.
 */
function stopper(pid: number | undefined): { stop: () => void; done: () => void } {
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
