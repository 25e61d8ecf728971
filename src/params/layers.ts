// Turns each params source into a layer of values, and merges layers by precedence. Pure.
import { StepError } from '../errors.js';
import { blockOrigin, linesValue, listValue } from './arrays.js';
import { closestName, envVarName, flagName, PARAMS_ENV } from './names.js';
import { paramKeys, paramType, type JsonSchema } from './schema.js';
import { kindOf } from './text.js';

/** Values from one source, and a human name for that source ("PARAM_TAGS", "file p.json"). */
export type Layer = { origin: string; values: Record<string, unknown>; originOf?: (key: string) => string };

/** Merged params, and for each key the source that gave its value. */
export type MergedParams = { values: Record<string, unknown>; origins: Record<string, string> };

/** A null-prototype copy, so keys like `__proto__` from user JSON stay plain data. */
export function plainObject(source: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, source);
}

/** Schema defaults: the lowest layer. */
export function defaultsLayer(schema: JsonSchema): Layer {
  const values = plainObject({});
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (property.default !== undefined) values[key] = structuredClone(property.default);
  }
  return { origin: 'default', values };
}

/** A JSON object given as text (a params file or BUILDKIT_STEP_PARAMS). */
export function jsonLayer(origin: string, text: string): Layer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StepError('PARAMS_INVALID', `${origin}: not valid JSON (${jsonErrorPlace(error)})`, { cause: error });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new StepError(
      'PARAMS_INVALID',
      `${origin}: must be a JSON object of parameters, got ${kindOf(parsed, false)}`,
    );
  }
  return { origin, values: plainObject(parsed as Record<string, unknown>) };
}

/** BUILDKIT_STEP_PARAMS, when set and not blank. */
export function envJsonLayer(env: NodeJS.ProcessEnv): Layer | undefined {
  const text = env[PARAMS_ENV];
  if (text === undefined || text.trim() === '') return undefined;
  return jsonLayer(PARAMS_ENV, text);
}

/**
 * One PARAM_<UPPER_SNAKE> env var per parameter. String params are taken verbatim; others are
 * JSON (`["v1","latest"]`, `120`, `true`). An empty value means "not set", because Tekton and
 * Argo pass every declared param, and an unset optional one arrives as "".
 */
export function paramEnvLayer(env: NodeJS.ProcessEnv, schema: JsonSchema): Layer {
  const keys = paramKeys(schema);
  const byEnvName = new Map(keys.map((key) => [envVarName(key), key]));
  const values = plainObject({});
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('PARAM_') || raw === undefined || isServiceLink(name)) continue;
    const key = byEnvName.get(name);
    if (key === undefined) {
      const hint = closestName(name, [...byEnvName.keys()]);
      throw new StepError('PARAMS_INVALID', `${name}: unknown parameter${hint ? `; did you mean ${hint}?` : ''}`);
    }
    if (raw === '') continue;
    const type = paramType(schema, key);
    values[key] =
      type === 'string'
        ? raw
        : ((type === 'array' ? linesValue(schema, key, raw) : undefined) ?? parseEnvJson(name, raw, type, key));
  }
  return { origin: 'env', values, originOf: envVarName };
}

/**
 * Kubernetes injects `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT_80_TCP_ADDR`, ... for every
 * Service in the namespace; a Service named `param-...` must not break every build.
 */
function isServiceLink(name: string): boolean {
  return /_SERVICE_(HOST|PORT(_[A-Z0-9_]+)?)$|_PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?$/.test(name);
}

/**
 * A secret param (`writeOnly`) given as a flag: refused, because every process on the node that can
 * read /proc/PID/cmdline would see its value. Names where it may come from instead.
 */
function secretFlag(key: string, schema: JsonSchema): StepError {
  const dir = `${key}_dir`;
  const files = schema.properties?.[dir] ? `, or as files in ${dir}` : '';
  return new StepError(
    'PARAMS_INVALID',
    `--${flagName(key)}: ${key} holds secret values and is never taken from the command line (any process can read a command line); give it in ${PARAMS_ENV} or ${envVarName(key)}${files}`,
  );
}

/** CLI flags already parsed by yargs, keyed by parameter name; undefined means not given. */
export function flagsLayer(flags: Record<string, unknown>, schema: JsonSchema): Layer {
  const values = plainObject({});
  for (const key of paramKeys(schema)) {
    const value = flags[key];
    if (value === undefined) continue;
    if (schema.properties?.[key]?.writeOnly === true) throw secretFlag(key, schema);
    const type = paramType(schema, key);
    const arrayOfObjects = type === 'array' && typeof value === 'string';
    const lines = arrayOfObjects ? linesValue(schema, key, value) : undefined;
    values[key] =
      lines ??
      (type === 'object' || arrayOfObjects ? parseEnvJson(`--${flagName(key)}`, value as string, type) : value);
  }
  return { origin: 'flag', values, originOf: (key) => `--${flagName(key)}` };
}

/** Tekton array params from the command line's array blocks; an empty block is unset. */
export function arraysLayer(arrays: Record<string, string[]>, schema: JsonSchema): Layer {
  const values = plainObject({});
  for (const [key, elements] of Object.entries(arrays)) {
    const value = listValue(schema, key, elements);
    if (value !== undefined) values[key] = value;
  }
  return { origin: 'array', values, originOf: blockOrigin };
}

/** Later layers win: pass them lowest precedence first. */
export function mergeLayers(layers: readonly Layer[]): MergedParams {
  const values = plainObject({});
  const origins = Object.create(null) as Record<string, string>;
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      values[key] = value;
      origins[key] = layer.originOf ? layer.originOf(key) : layer.origin;
    }
  }
  return { values, origins };
}

/** How a scalar param's text must look, for the error when it does not parse. */
const SCALAR_TEXT: Readonly<Record<string, string>> = {
  boolean: 'true or false',
  integer: 'an integer, e.g. 3',
  number: 'a number, e.g. 30 or 2.5',
};

function parseEnvJson(name: string, raw: string, type: string, key?: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    const scalar = SCALAR_TEXT[type];
    // The value itself is never quoted: params text can hold secret values.
    if (scalar)
      throw new StepError('PARAMS_INVALID', `${key ?? name} (from ${name}): expected ${scalar}`, { cause: error });
    const example = type === 'array' ? ', e.g. ["latest"]' : type === 'object' ? ', e.g. {"key":"value"}' : '';
    throw new StepError('PARAMS_INVALID', `${name}: expected JSON (${type})${example}; ${jsonErrorPlace(error)}`, {
      cause: error,
    });
  }
}

/**
 * Where JSON.parse gave up, without the snippet of input V8 puts in its message: params text
 * can hold secret values.
 */
function jsonErrorPlace(error: unknown): string {
  const message = (error as Error).message;
  const position = /position (\d+)/.exec(message)?.[1];
  if (position !== undefined) return `syntax error at character ${position}`;
  return /end of (JSON )?input/i.test(message) ? 'unexpected end of input' : 'syntax error';
}
