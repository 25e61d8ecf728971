// The params JSON Schema, the single source of truth for parameter names, types and defaults.
// Imported as a JSON module: the CLI bundle carries it inline, the compiled modules read it from dist/schemas/.
import shipped from '../../schemas/params.schema.json' with { type: 'json' };

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

/** The params schema as shipped in `schemas/`. */
export function paramsSchema(): JsonSchema {
  return shipped;
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
