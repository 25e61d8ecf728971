// The params' types, derived from schemas/params.schema.json: the schema is the one place a param
// is declared. `npm run schema-type` (run before every tsc and ESLint run: build, typecheck, lint, gen-tasks) copies the schema
// into the type ParamsSchema; the types below read it the way ajv does, for the keywords the
// schema uses. A keyword they do not know makes the value `never`, which fails the type check.
import type { ParamsSchema } from './schema.generated.js';

type Defs = ParamsSchema['$defs'];

/** A schema node, with a local `$ref` replaced by its target. */
type Resolved<Node> = Node extends { $ref: `#/$defs/${infer Name extends keyof Defs}` } ? Defs[Name] : Node;

/** The value a schema node accepts. */
type ValueOf<Node> = Shape<Resolved<Node>>;

type Shape<Node> = Node extends { enum: ReadonlyArray<infer Member> }
  ? Member
  : Node extends { type: 'string' }
    ? string
    : Node extends { type: 'number' | 'integer' }
      ? number
      : Node extends { type: 'boolean' }
        ? boolean
        : Node extends { type: 'array'; items: infer Item }
          ? Array<ValueOf<Item>>
          : Node extends { type: 'object'; properties: infer Properties }
            ? ObjectOf<Properties, Filled<Node, Properties>>
            : Node extends { type: 'object'; additionalProperties: infer Value }
              ? Record<string, ValueOf<Value>>
              : never;

/** The keys an object always has after validation: the required ones and those with a default (ajv's useDefaults). */
type Filled<Node, Properties> =
  | (Node extends { required: ReadonlyArray<infer Key> } ? Key : never)
  | { [Key in keyof Properties]: Properties[Key] extends { default: unknown } ? Key : never }[keyof Properties];

type ObjectOf<Properties, Always> = Flat<
  { [Key in keyof Properties & Always]: ValueOf<Properties[Key]> } & {
    [Key in Exclude<keyof Properties, Always>]?: ValueOf<Properties[Key]>;
  }
>;

type Flat<T> = { [Key in keyof T]: T[Key] } & {};

/** Params as the schema guarantees them after validation and defaults. */
export type Params = ValueOf<ParamsSchema>;

/** The name of a param, as the schema spells it (`build_args`). */
export type ParamName = keyof Params;

/** One `{ "key", "value" }` pair, as lists arrive in env JSON. */
export type Pair = NonNullable<Params['build_args']>[number];
