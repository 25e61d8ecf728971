// List params in the shapes the engines give them: Tekton array params as argv blocks, Argo
// string params as `KEY=VALUE` lines, and `KEY=VALUE` strings inside JSON lists. Pure.
import { StepError } from '../errors.js';
import { flagName, workflowParamName } from './names.js';
import { paramKeys, paramType, resolveRef, type JsonSchema } from './schema.js';

/**
 * Starts the array blocks: `--array-params=tags,build_args,...` names, in order, the blocks
 * that follow it. Everything after it on the command line belongs to the blocks.
 */
export const ARRAY_HEADER = '--array-params';

/** Opens the block of one array param: `--array=tags`, then its elements, one argv element each. */
export const arrayMarker = (key: string): string => `--array=${key}`;

/** Secret lists (`writeOnly`) stay JSON only: their values may hold newlines, and a JSON error never quotes them. */
const jsonOnly = (schema: JsonSchema, key: string): boolean => schema.properties?.[key]?.writeOnly === true;

/** Pair-list params that also take `KEY=VALUE` strings (split at the first `=`): every pair list but the secret ones. */
export function keyValueParams(schema: JsonSchema): string[] {
  return arrayParams(schema).filter((key) => isPairList(schema, key) && !jsonOnly(schema, key));
}

/** The list params (type array) of the schema, in schema order. */
export function arrayParams(schema: JsonSchema): string[] {
  return paramKeys(schema).filter((key) => paramType(schema, key) === 'array');
}

/** Whether a list param's items are `{key, value}` pairs. */
export function isPairList(schema: JsonSchema, key: string): boolean {
  const items = schema.properties?.[key]?.items;
  if (!items) return false;
  const resolved = resolveRef(schema, items);
  return resolved.type === 'object' && Boolean(resolved.properties?.key && resolved.properties?.value);
}

/** The command line split into the ordinary part and the array blocks (undefined without a header). */
export type SplitArgv = { args: string[]; arrays: Record<string, string[]> | undefined };

/**
 * Finds the header and reads the blocks after it. Each block's elements are values, whatever
 * they look like (`--output=...`, `-o`), except an element that is exactly the marker of a
 * block the header names: that would be ambiguous, so it is refused (PARAMS_INVALID), as is a
 * header that names a non-list param, names one twice, or blocks out of the header's order.
 */
export function splitArrayArgs(argv: readonly string[], schema: JsonSchema): SplitArgv {
  const at = headerIndex(argv);
  if (at < 0) return { args: [...argv], arrays: undefined };
  const names = (argv[at]!.split('=')[1] ?? '').split(',').filter((name) => name !== '');
  const lists = new Set(arrayParams(schema));
  const problems = names
    .filter((name) => !lists.has(name))
    .map((name) => `${ARRAY_HEADER}: ${JSON.stringify(name)} is not a list parameter`);
  if (new Set(names).size !== names.length) problems.push(`${ARRAY_HEADER}: names a parameter twice`);
  if (problems.length > 0) throw new StepError('PARAMS_INVALID', problems.join('; '));
  const markers = new Map(names.map((name, index) => [arrayMarker(name), index]));
  const arrays = Object.create(null) as Record<string, string[]>;
  let current = -1;
  for (const arg of argv.slice(at + 1)) {
    const index = markers.get(arg);
    if (index === undefined) {
      if (current < 0)
        throw new StepError(
          'PARAMS_INVALID',
          `${ARRAY_HEADER}: expected ${arrayMarker(names[0] ?? '')} after it, got another argument`,
        );
      arrays[names[current]!]!.push(arg);
      continue;
    }
    if (index !== current + 1) {
      // Which of the two was the value cannot be told: name the marker's param.
      throw new StepError(
        'PARAMS_INVALID',
        `the array blocks: ${JSON.stringify(arg)}, the marker of the ${workflowParamName(names[index]!)} block, appears twice or out of order; no list element may be exactly a marker`,
      );
    }
    current = index;
    arrays[names[current]!] = [];
  }
  if (current !== names.length - 1)
    throw new StepError('PARAMS_INVALID', `${ARRAY_HEADER}: the block ${arrayMarker(names[current + 1]!)} is missing`);
  return { args: argv.slice(0, at), arrays };
}

/** Where the array blocks start (-1: none). */
const headerIndex = (argv: readonly string[]): number =>
  argv.findIndex((arg) => arg === ARRAY_HEADER || arg.startsWith(`${ARRAY_HEADER}=`));

/** The command line without its array blocks, also when they are malformed. */
export const beforeArrays = (argv: readonly string[]): string[] =>
  headerIndex(argv) < 0 ? [...argv] : argv.slice(0, headerIndex(argv));

/**
 * The values of a list param given as strings (argv blocks, lines): pair lists split each at
 * its first `=`; an element without one is left as it is, for validation to name. An empty
 * list is "unset" (a Tekton array param left at its default `[]`).
 */
export function listValue(schema: JsonSchema, key: string, elements: readonly string[]): unknown[] | undefined {
  if (elements.length === 0) return undefined;
  return keyValueParams(schema).includes(key) ? elements.map(splitKeyValue) : [...elements];
}

/** `KEY=VALUE` -> `{key, value}` at the first `=`; anything else unchanged. */
export function splitKeyValue(item: unknown): unknown {
  if (typeof item !== 'string') return item;
  const at = item.indexOf('=');
  return at < 0 ? item : { key: item.slice(0, at), value: item.slice(at + 1) };
}

/**
 * A list param's string form outside JSON (`PARAM_*`, a flag): JSON when it starts with `[`
 * (after spaces), otherwise one element per line (a trailing `\r` dropped, empty lines
 * skipped). Undefined when the param takes JSON only.
 */
export function linesValue(schema: JsonSchema, key: string, raw: string): unknown[] | undefined {
  if (jsonOnly(schema, key) || raw.trimStart().startsWith('[')) return undefined;
  const lines = raw
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line !== '');
  return listValue(schema, key, lines) ?? [];
}

/** `KEY=VALUE` strings inside a JSON list of a pair-list param become pairs. */
export function normalizeKeyValues(values: Record<string, unknown>, schema: JsonSchema): void {
  for (const key of keyValueParams(schema)) {
    const value = values[key];
    if (Array.isArray(value)) values[key] = value.map(splitKeyValue);
  }
}

/** The flag spelling of an array block's param, for messages. */
export const blockOrigin = (key: string): string =>
  `the ${workflowParamName(key)} array (${arrayMarker(key)}, --${flagName(key)})`;
