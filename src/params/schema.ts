// The params JSON Schema, the single source of truth for parameter names, types and defaults.
import { readFileSync } from 'node:fs';

export type JsonSchema = {
  description?: string;
  type?: string | string[];
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  required?: string[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  [keyword: string]: unknown;
};

const SCHEMA_URL = new URL('../../../schemas/params.schema.json', import.meta.url);

let cached: JsonSchema | undefined;

/** The params schema as shipped in `schemas/`, read once. */
export function paramsSchema(): JsonSchema {
  cached ??= JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as JsonSchema;
  return cached;
}

/** Follows a local `#/$defs/...` reference, or returns the schema itself. */
export function resolveRef(root: JsonSchema, schema: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace('#/$defs/', '');
  const target = root.$defs?.[name];
  if (!target) throw new Error(`schema: unresolved $ref ${schema.$ref}`);
  return { ...target, ...schema, $ref: undefined };
}

/** The JSON type a top-level parameter takes ('string', 'array', ...). */
export function paramType(root: JsonSchema, key: string): string {
  const property = root.properties?.[key];
  if (!property) throw new Error(`schema: no parameter ${key}`);
  const type = resolveRef(root, property).type;
  return Array.isArray(type) ? (type[0] ?? 'string') : (type ?? 'string');
}

/** The names of all parameters, in schema order. */
export function paramKeys(root: JsonSchema): string[] {
  return Object.keys(root.properties ?? {});
}
