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

/** execa bundled into one file by scripts/bundle-execa.ts, next to this module. */
export const EXECA_BUNDLE = 'execa.bundle.js';

/**
 * execa, loaded on first use (validate, print-argv and a step that fails on its params never
 * need it): from the one-file bundle the build makes (~40 ms), else from the package (~150 ES
 * modules, ~0.15 s).
 */
export async function loadExeca(): Promise<{ execa: typeof import('execa').execa; from: 'bundle' | 'package' }> {
  try {
    const bundle = (await import(new URL(`./${EXECA_BUNDLE}`, import.meta.url).href)) as typeof import('execa');
    return { execa: bundle.execa, from: 'bundle' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return { execa: (await import('execa')).execa, from: 'package' };
  }
}

export const runBuildx: Runner = async (bin, args, options) => {
  const { execa } = await loadExeca();
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
  const child = execa(bin, args, {
    env: options.env,
    extendEnv: false,
    stdin: 'ignore',
    buffer: false,
    reject: false,
    cancelSignal: options.signal,
    forceKillAfterDelay: 5000,
  });
  const out = splitter();
  const err = splitter();
  child.stdout?.on('data', out.take);
  child.stderr?.on('data', err.take);
  const result = await child;
  out.flush();
  err.flush();
  const code = (result as { code?: string }).code;
  const spawnError = code === 'ENOENT' || code === 'EACCES' ? (result as unknown as NodeJS.ErrnoException) : undefined;
  return { exitCode: result.exitCode ?? (result.failed ? 1 : 0), tail, spawnError };
};
