// Writes result files atomically, exactly as given (no trailing newline). Touches the filesystem.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import fs from 'fs-extra';
import type { ResultName } from './config.js';
import { StepError } from './errors.js';
import type { Results } from './results.js';

export type ResultTargets = { dir: string | undefined; paths: Partial<Record<ResultName, string>> };

/** Writes each result to `<dir>/<NAME>` and to its own path if one is given; returns the files written. */
export async function writeResults(targets: ResultTargets, results: Results): Promise<string[]> {
  const written: string[] = [];
  for (const [name, value] of Object.entries(results) as Array<[ResultName, string]>) {
    const files = [targets.dir ? path.join(targets.dir, name) : undefined, targets.paths[name]].filter((file): file is string => Boolean(file));
    for (const file of files) {
      await writeAtomically(file, value);
      written.push(file);
    }
  }
  return written;
}

/** Temp file in the same dir, then rename: a reader sees the old file or the whole new one. */
async function writeAtomically(file: string, value: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fs.ensureDir(path.dirname(file));
    await fs.writeFile(temp, value, { mode: 0o644 });
    await fs.rename(temp, file);
  } catch (error) {
    await fs.remove(temp).catch(() => {});
    throw new StepError('RESULTS_UNWRITABLE', `cannot write result ${file}: ${(error as Error).message}`, { cause: error });
  }
}
