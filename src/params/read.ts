// Reads every params source (files, env, flags) and returns validated params. Touches the filesystem.
import { readFile } from 'node:fs/promises';
import { StepError } from '../errors.js';
import { defaultsLayer, envJsonLayer, flagsLayer, jsonLayer, mergeLayers, paramEnvLayer, type Layer } from './layers.js';
import type { JsonSchema } from './schema.js';
import { validateParams } from './validate.js';

export type ParamSources = {
  paramsFiles: readonly string[];
  env: NodeJS.ProcessEnv;
  flags: Record<string, unknown>;
};

/** Precedence, highest first: flags > PARAM_* > BUILDKIT_STEP_PARAMS > files (later wins) > defaults. */
export async function readParams<T>(sources: ParamSources, schema: JsonSchema): Promise<T> {
  const layers: Layer[] = [defaultsLayer(schema)];
  for (const file of sources.paramsFiles) layers.push(jsonLayer(`params file ${file}`, await readParamsFile(file)));
  const envJson = envJsonLayer(sources.env);
  if (envJson) layers.push(envJson);
  layers.push(paramEnvLayer(sources.env, schema), flagsLayer(sources.flags, schema));
  return validateParams<T>(mergeLayers(layers), schema);
}

async function readParamsFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new StepError('PARAMS_UNREADABLE', `--params-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      cause: error,
    });
  }
}
