// Writes result files atomically, exactly as given (no trailing newline). Touches the filesystem.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import fs from 'fs-extra';
import type { ResultName } from './result-names.js';
import { StepError } from './errors.js';
import type { Results } from './results.js';

export type ResultTargets = { dir: string | undefined; paths: Partial<Record<ResultName, string>> };

type Write = { file: string; value: string };

/** Every file each result goes to: `<dir>/<NAME>` and its own path if one is given. */
function plannedWrites(targets: ResultTargets, results: Results): Write[] {
  return (Object.entries(results) as Array<[ResultName, string]>).flatMap(([name, value]) =>
    [targets.dir ? path.join(targets.dir, name) : undefined, targets.paths[name]]
      .filter((file): file is string => Boolean(file))
      .map((file) => ({ file, value })),
  );
}

/**
 * Writes all results or none: each goes to a temp file beside its target first, and only when
 * every one was written are they renamed into place. A full disk leaves no subset of the results
 * (an IMAGE_DIGEST without IMAGE_URL) and no truncated file. Returns the files written.
 */
export async function writeResults(targets: ResultTargets, results: Results): Promise<string[]> {
  const writes = plannedWrites(targets, results);
  const temps: string[] = [];
  try {
    for (const write of writes) temps.push(await writeTemp(write));
    for (const [index, write] of writes.entries()) await rename(temps[index]!, write.file);
  } finally {
    await Promise.all(temps.map((temp) => fs.remove(temp).catch(() => {})));
  }
  return writes.map((write) => write.file);
}

/**
 * Error results, each on its own and atomically: whatever can be written is (ERROR_REASON first),
 * so one unwritable place does not hide the reason from another. Returns what could not be written.
 */
export async function writeFailureResults(targets: ResultTargets, results: Results): Promise<StepError[]> {
  const problems: StepError[] = [];
  for (const write of plannedWrites(targets, results)) {
    let temp: string | undefined;
    try {
      temp = await writeTemp(write);
      await rename(temp, write.file);
    } catch (error) {
      problems.push(error as StepError);
    } finally {
      if (temp) await fs.remove(temp).catch(() => {});
    }
  }
  return problems;
}

/**
 * Fails with RESULTS_UNWRITABLE unless a small file can be written (and is removed again) in every
 * dir a result goes to: run before the build, so a read-only or full results dir does not cost a
 * whole build (and a push) whose results are then lost.
 */
export async function checkResultsWritable(targets: ResultTargets): Promise<void> {
  const dirs = new Map<string, string>();
  if (targets.dir) dirs.set(targets.dir, 'the results dir');
  for (const [name, file] of Object.entries(targets.paths))
    if (file && !dirs.has(path.dirname(file))) dirs.set(path.dirname(file), `result_paths.${name}`);
  for (const [dir, what] of dirs) {
    const probe = path.join(dir, `.buildkit-step-probe.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await fs.ensureDir(dir);
      await fs.writeFile(probe, 'probe', { flag: 'wx' });
    } catch (error) {
      throw new StepError('RESULTS_UNWRITABLE', `${what}: cannot write to ${dir}: ${explain(error)}`, { cause: error });
    } finally {
      await fs.remove(probe).catch(() => {});
    }
  }
}

async function writeTemp({ file, value }: Write): Promise<string> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fs.ensureDir(path.dirname(file));
    await fs.writeFile(temp, value, { mode: 0o644, flag: 'wx' });
    return temp;
  } catch (error) {
    await fs.remove(temp).catch(() => {});
    throw new StepError('RESULTS_UNWRITABLE', `cannot write result ${file}: ${explain(error)}`, { cause: error });
  }
}

async function rename(temp: string, file: string): Promise<void> {
  try {
    await fs.rename(temp, file);
  } catch (error) {
    throw new StepError('RESULTS_UNWRITABLE', `cannot write result ${file}: ${explain(error)}`, { cause: error });
  }
}

const HINTS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied for this user',
  EDQUOT: 'the disk quota is used up',
};

/** The errno code with a plain-words hint, e.g. `ENOSPC (no space left on the device)`. */
export function explain(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (!code) return (error as Error).message;
  return HINTS[code] ? `${code} (${HINTS[code]})` : `${code}: ${(error as Error).message}`;
}
