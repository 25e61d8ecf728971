// Writes result files atomically, exactly as given (no trailing newline). Touches the filesystem.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import fs from 'fs-extra';
import { StepError } from './errors.js';
import type { Results } from './results.js';

/** Writes each result to `<dir>/<NAME>` via a temp file and rename, so readers never see half a value. */
export async function writeResults(dir: string, results: Results): Promise<string[]> {
  const written: string[] = [];
  try {
    await fs.ensureDir(dir);
    for (const [name, value] of Object.entries(results)) {
      const file = path.join(dir, name);
      const temp = path.join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
      await fs.writeFile(temp, value, { mode: 0o644 });
      await fs.rename(temp, file);
      written.push(file);
    }
  } catch (error) {
    throw new StepError('RESULTS_UNWRITABLE', `cannot write results to ${dir}: ${(error as Error).message}`, { cause: error });
  }
  return written;
}
