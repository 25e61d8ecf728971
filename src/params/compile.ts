// Compiles the params schema into ajv's validator, here at run time. The CLI bundle replaces this
// module with ajv's standalone code for the shipped schema, generated when the bundle is made
// (scripts/bundle.ts): compiling the schema costs every step ~0.2 s of CPU, loading the code ~0.
import { Ajv2020, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import type { JsonSchema } from './schema.js';

/** Ajv's options, the same for the bundle's generated validator. */
export const AJV_OPTIONS = { allErrors: true, strict: true, verbose: true } as const satisfies Options;

/** A validator for `schema`. */
export function compileSchema(schema: JsonSchema): ValidateFunction {
  return new Ajv2020(AJV_OPTIONS).compile(schema);
}
