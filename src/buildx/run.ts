// Runs buildx as a child process, streaming its output to our stderr. The one place buildx is spawned.
import { execa } from 'execa';

export type RunOptions = {
  env: Record<string, string | undefined>;
  /** Called for each line buildx prints, after it was passed through. */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
};

export type RunResult = { exitCode: number; tail: string[]; spawnError?: NodeJS.ErrnoException };

/** Runs `bin args`; never throws for a non-zero exit. Keeps the last lines for error messages. */
export type Runner = (bin: string, args: readonly string[], options: RunOptions) => Promise<RunResult>;

const TAIL_LINES = 40;

export const runBuildx: Runner = async (bin, args, options) => {
  const tail: string[] = [];
  let partial = '';
  const take = (chunk: Buffer) => {
    process.stderr.write(chunk);
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      options.onLine?.(line);
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    }
  };
  const child = execa(bin, args, {
    env: options.env,
    extendEnv: false,
    stdin: 'ignore',
    buffer: false,
    reject: false,
    cancelSignal: options.signal,
    forceKillAfterDelay: 5000,
  });
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const result = await child;
  if (partial) {
    options.onLine?.(partial);
    tail.push(partial);
  }
  const spawnError = (result as { code?: string }).code === 'ENOENT' || (result as { code?: string }).code === 'EACCES'
    ? (result as unknown as NodeJS.ErrnoException)
    : undefined;
  return { exitCode: result.exitCode ?? (result.failed ? 1 : 0), tail, spawnError };
};
