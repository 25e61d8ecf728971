// Validates merged params against the schema and explains each problem by parameter name.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ErrorObject, Options, ValidateFunction } from 'ajv';
import { StepError } from '../errors.js';
import type { MergedParams } from './layers.js';
import { closestName, envVarName, flagName } from './names.js';
import { paramKeys, type JsonSchema } from './schema.js';
import { article, kindOf, printableKey, textProblems, truncate } from './text.js';

/** Ajv's options, the same for the validator generated at build time and one compiled at run time. */
export const AJV_OPTIONS = { allErrors: true, strict: true, verbose: true } as const satisfies Options;

/** The file `scripts/gen-validator.ts` writes next to this module: ajv's standalone code for the shipped schema. */
export const PRECOMPILED_FILE = 'params-validator.generated.cjs';

/** Identifies a schema's content; the generated validator carries the one it was made from. */
export const schemaHash = (schema: JsonSchema): string =>
  createHash('sha256').update(JSON.stringify(schema)).digest('hex');

const require = createRequire(import.meta.url);
const compiled = new WeakMap<JsonSchema, { validate: ValidateFunction; source: 'precompiled' | 'runtime' }>();

/**
 * The validator for `schema`: the one generated at build time when it was made from this very
 * schema (compiling the schema at run time costs ~0.1 s of every step), else compiled now.
 */
function compile(schema: JsonSchema): { validate: ValidateFunction; source: 'precompiled' | 'runtime' } {
  let entry = compiled.get(schema);
  if (!entry) {
    const precompiled = loadPrecompiled();
    if (precompiled && precompiled.schemaHash === schemaHash(schema)) {
      entry = { validate: precompiled, source: 'precompiled' };
    } else {
      const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
      entry = { validate: new Ajv2020(AJV_OPTIONS).compile(schema), source: 'runtime' };
    }
    compiled.set(schema, entry);
  }
  return entry;
}

function loadPrecompiled(): (ValidateFunction & { schemaHash?: string }) | undefined {
  try {
    return require(`./${PRECOMPILED_FILE}`) as ValidateFunction & { schemaHash?: string };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

/** Whether `schema` is checked by the build-time validator or one compiled at run time (for tests and the benchmark). */
export const validatorSource = (schema: JsonSchema): 'precompiled' | 'runtime' => compile(schema).source;

/** Returns the params unchanged when valid; otherwise throws PARAMS_INVALID listing every problem. */
export function validateParams<T>(merged: MergedParams, schema: JsonSchema): T {
  const { validate } = compile(schema);
  const valid = validate(merged.values);
  const problems = [
    ...(valid ? [] : (validate.errors ?? []).map((error) => explain(error, merged, schema))),
    ...textProblems(merged.values, secretParams(schema)),
  ];
  if (problems.length === 0) return merged.values as T;
  throw paramsInvalid([...new Set(problems)]);
}

/** One PARAMS_INVALID error listing every problem. */
export function paramsInvalid(problems: readonly string[]): StepError {
  const noun = problems.length === 1 ? 'parameter problem' : 'parameter problems';
  return new StepError('PARAMS_INVALID', `${problems.length} ${noun}:\n  - ${problems.join('\n  - ')}`);
}

/** Params whose values are secret (`writeOnly` in the schema): never quoted, at any depth. */
export function secretParams(schema: JsonSchema): Set<string> {
  return new Set(
    Object.entries(schema.properties ?? {})
      .filter(([, property]) => property.writeOnly === true)
      .map(([key]) => key),
  );
}

function explain(error: ErrorObject, merged: MergedParams, schema: JsonSchema): string {
  const path = displayPath(error.instancePath);
  const topKey = error.instancePath.split('/')[1] ?? '';
  const from = merged.origins[topKey] ? ` (from ${merged.origins[topKey]})` : '';
  const params = error.params as Record<string, unknown>;
  // Secret values (writeOnly in the schema, on the param or the field) are never quoted back;
  // only a pair's `key` (the secret's id) is safe to show.
  const inSecretParam = secretParams(schema).has(topKey) && !error.instancePath.endsWith('/key');
  const parent: JsonSchema | undefined = error.parentSchema;
  const secret = inSecretParam || parent?.writeOnly === true;
  switch (error.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      if (path === '') {
        return `${missing}: required parameter is missing (set ${envVarName(missing)}, --${flagName(missing)} or "${missing}" in JSON params)`;
      }
      return `${path}${from}: "${missing}" is missing`;
    }
    case 'additionalProperties': {
      const raw = String(params.additionalProperty);
      const extra = printableKey(raw);
      if (path === '') {
        const origin = merged.origins[raw] ? ` (from ${merged.origins[raw]})` : '';
        const hint = closestName(raw, paramKeys(schema));
        return `${extra}${origin}: unknown parameter${hint ? `; did you mean "${hint}"?` : ''}`;
      }
      return `${path}${from}: unknown field "${extra}"`;
    }
    case 'pattern':
      return `${path}${from}: ${secret ? 'the value' : JSON.stringify(truncate(valueAt(merged.values, error.instancePath)))} is not ${describe(error)}`;
    case 'type':
      return `${path}${from}: must be ${article(String(params.type))}, got ${secret ? 'something else' : kindOf(valueAt(merged.values, error.instancePath))}`;
    case 'minItems':
      return `${path}${from}: needs at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`;
    case 'uniqueItems':
      return `${path}${from}: items [${String(params.j)}] and [${String(params.i)}] are the same`;
    default:
      return `${path}${from}: ${error.message ?? error.keyword}`;
  }
}

/** Pattern failures read better with the schema's own description than with the regex. */
function describe(error: ErrorObject): string {
  const parent: JsonSchema | undefined = error.parentSchema;
  const description = parent?.description;
  if (description) return `valid: ${description.replace(/\.$/, '')}`;
  return `of the expected form (pattern ${String((error.params as { pattern: string }).pattern)})`;
}

function displayPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join('');
}

function valueAt(root: unknown, instancePath: string): unknown {
  let value = root;
  for (const part of instancePath.split('/').slice(1)) {
    value = (value as Record<string, unknown> | undefined)?.[part];
  }
  return value;
}
