// Reads the build inputs that live in directories (mounted ConfigMaps). Touches the filesystem.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BuildConfig, Pair } from './config.js';
import { StepError } from './errors.js';

/**
 * Build args from `build_args_dir` (one file per key) merged with `build_args`; a key in
 * `build_args` wins. A mounted ConfigMap also holds `..data` links and dot-files: skipped.
 */
export async function collectBuildArgs(config: BuildConfig): Promise<Pair[]> {
  const fromDir = config.buildArgsDir ? await readPairsDir(config.buildArgsDir, 'build_args_dir') : [];
  const explicit = new Set(config.buildArgs.map((pair) => pair.key));
  return [...fromDir.filter((pair) => !explicit.has(pair.key)), ...config.buildArgs];
}

/** Each regular, non-hidden file of `dir` as a pair: file name = key, content = value. */
export async function readPairsDir(dir: string, param: string): Promise<Pair[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => !name.startsWith('.')).sort();
  } catch (error) {
    throw new StepError('PARAMS_UNREADABLE', `${param}: cannot read directory ${dir}: ${(error as NodeJS.ErrnoException).code}`, {
      cause: error,
    });
  }
  const pairs: Pair[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      pairs.push({ key: name, value: await readFile(file, 'utf8') });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EISDIR') continue;
      throw new StepError('PARAMS_UNREADABLE', `${param}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`, {
        cause: error,
      });
    }
  }
  return pairs;
}
