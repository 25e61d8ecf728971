// The validator generated at build time (scripts/gen-validator.ts) against one ajv compiles at run time.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { StepError } from '../../src/errors.js';
import { paramsSchema, type JsonSchema } from '../../src/params/schema.js';
import {
  AJV_OPTIONS,
  PRECOMPILED_FILE,
  schemaHash,
  validateParams,
  validatorSource,
} from '../../src/params/validate.js';

const require = createRequire(new URL('../../src/params/validate.js', import.meta.url));
const schema = paramsSchema();

/** Documents that exercise every kind of check the schema makes (types, patterns, enums, nesting, unknown keys). */
const documents: Array<Record<string, unknown>> = [
  { image: 'reg.example/team/app', tags: ['1.0'] },
  {
    image: 'reg.example/team/app',
    tags: ['1.0', 'latest'],
    build_args: [{ key: 'A', value: 'b' }],
    push: true,
    platforms: ['linux/amd64'],
    provenance: 'max',
  },
  {},
  { image: 'UPPER/case', tags: [] },
  { image: 'a/b', tags: ['ok', 'ok'], imgae: 'typo' },
  {
    image: 'a/b',
    tags: ['bad tag!'],
    build_args: [{ key: 'A' }],
    secrets: [{ key: 'x', value: 3 }],
    provenance: 'all',
    daemon_timeout: 'soon',
  },
  { image: 7, tags: 'latest', result_paths: { NOPE: '/x' }, labels: [{ key: 'a', value: 'b', extra: 1 }] },
];

const parentDescription = (parent: JsonSchema | undefined) => parent?.description;
const shape = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((error) => ({
    keyword: error.keyword,
    instancePath: error.instancePath,
    params: error.params,
    description: parentDescription(error.parentSchema),
  }));

describe('the precompiled params validator', () => {
  test('the build generated it from the shipped schema, and validation uses it', () => {
    const generated = require(`./${PRECOMPILED_FILE}`) as ValidateFunction & { schemaHash: string };
    assert.equal(generated.schemaHash, schemaHash(schema));
    assert.equal(validatorSource(schema), 'precompiled');
  });

  test('gives the same verdicts and the same errors as ajv compiling the schema at run time', () => {
    const generated = require(`./${PRECOMPILED_FILE}`) as ValidateFunction;
    const runtime = new Ajv2020(AJV_OPTIONS).compile(schema);
    let invalid = 0;
    for (const document of documents) {
      const verdict = generated(document);
      assert.equal(verdict, runtime(document), JSON.stringify(document));
      assert.deepEqual(shape(generated.errors), shape(runtime.errors), JSON.stringify(document));
      if (!verdict) invalid++;
    }
    assert.equal(invalid, 5);
  });

  test('a schema it was not made from is compiled at run time and enforced as written', () => {
    const changed = structuredClone<JsonSchema>(schema);
    changed.properties = {
      ...changed.properties,
      image: { type: 'string', pattern: '^only/this$', description: 'the one image this schema allows' },
    };
    assert.equal(validatorSource(changed), 'runtime');
    const merged = { values: { image: 'a/b', tags: ['1'] }, origins: { image: 'PARAM_IMAGE' } };
    assert.deepEqual(validateParams(merged, schema), merged.values);
    assert.throws(
      () => validateParams(merged, changed),
      (error: unknown) => {
        assert.ok(error instanceof StepError);
        assert.equal(error.code, 'PARAMS_INVALID');
        assert.match(
          error.message,
          /image \(from PARAM_IMAGE\): "a\/b" is not valid: the one image this schema allows/,
        );
        return true;
      },
    );
  });
});
