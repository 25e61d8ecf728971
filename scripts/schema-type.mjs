// Writes src/params/schema.generated.ts: the params schema as a TypeScript type, which
// src/params/types.ts turns into `Params`. Plain JavaScript because it runs before tsc (build,
// typecheck, lint and gen-tasks call it first); the output is not committed, so it cannot drift.
import { readFileSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const schema = readFileSync(new URL('schemas/params.schema.json', root), 'utf8');
writeFileSync(
  new URL('src/params/schema.generated.ts', root),
  `// Written by scripts/schema-type.mjs from schemas/params.schema.json; not committed.\nexport type ParamsSchema = ${schema}`,
);
