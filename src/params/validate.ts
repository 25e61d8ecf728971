// Validates merged params against the schema and explains each problem by parameter name.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { StepError } from '../errors.js';
import { compileSchema } from './compile.js';
import type { MergedParams } from './layers.js';
import { closestName, envVarName, flagName } from './names.js';
import { paramKeys, type JsonSchema } from './schema.js';
import { article, kindOf, printableKey, textProblems, truncate } from './text.js';

const compiled = new WeakMap<JsonSchema, ValidateFunction>();

/** The validator for `schema`, compiled once per schema object. */
function compile(schema: JsonSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = compileSchema(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Returns the params unchanged when valid; otherwise throws PARAMS_INVALID listing every problem. */
export function validateParams<T>(merged: MergedParams, schema: JsonSchema): T {
  const validate = compile(schema);
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
