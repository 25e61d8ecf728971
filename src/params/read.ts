// Reads every params source (files, env, flags) and returns validated params. Touches the filesystem.
import { readFile } from 'node:fs/promises';
import { RESULT_NAMES, type ResultName } from '../result-names.js';
import { StepError } from '../errors.js';
import { PARAMS_ENV } from './names.js';
import { normalizeKeyValues } from './arrays.js';
import {
  arraysLayer,
  defaultsLayer,
  envJsonLayer,
  flagsLayer,
  jsonLayer,
  mergeLayers,
  paramEnvLayer,
  type Layer,
} from './layers.js';
import type { JsonSchema } from './schema.js';
import { validateParams } from './validate.js';

export type ParamSources = {
  paramsFiles: readonly string[];
  env: NodeJS.ProcessEnv;
  flags: Record<string, unknown>;
  /** Tekton array params from the command line's array blocks (see params/arrays.ts). */
  arrays?: Record<string, string[]>;
};

/** Precedence, highest first: flags > PARAM_* > BUILDKIT_STEP_PARAMS > files (later wins) > defaults. */
export async function readParams<T>(sources: ParamSources, schema: JsonSchema): Promise<T> {
  const layers: Layer[] = [defaultsLayer(schema)];
  for (const file of sources.paramsFiles) layers.push(jsonLayer(`params file ${file}`, await readParamsFile(file)));
  const envJson = envJsonLayer(sources.env);
  if (envJson) layers.push(envJson);
  layers.push(paramEnvLayer(sources.env, schema));
  if (sources.arrays) layers.push(arraysLayer(sources.arrays, schema));
  layers.push(flagsLayer(sources.flags, schema));
  const merged = mergeLayers(layers);
  normalizeKeyValues(merged.values, schema);
  return validateParams<T>(merged, schema);
}

async function readParamsFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new StepError(
      'PARAMS_UNREADABLE',
      `--params-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * `result_paths` read on its own, leniently, before the full validation: a StepAction gets its
 * results only at those paths, so ERROR_REASON for invalid params must go there too.
 */
export function earlyResultPaths(sources: Omit<ParamSources, 'paramsFiles'>): Partial<Record<ResultName, string>> {
  const candidates = [
    sources.flags.result_paths,
    sources.env.PARAM_RESULT_PATHS,
    parseOrUndefined(sources.env[PARAMS_ENV])?.result_paths,
  ];
  for (const candidate of candidates) {
    const value = typeof candidate === 'string' ? parseOrUndefined(candidate) : candidate;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    const known = Object.entries(value as Record<string, unknown>).filter(
      (entry): entry is [ResultName, string] =>
        (RESULT_NAMES as readonly string[]).includes(entry[0]) && typeof entry[1] === 'string' && entry[1] !== '',
    );
    if (known.length > 0) return Object.fromEntries(known);
  }
  return {};
}

function parseOrUndefined(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
