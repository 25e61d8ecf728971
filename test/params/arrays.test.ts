// List params in the engines' shapes: Tekton array blocks on the command line, Argo lines,
// KEY=VALUE strings in JSON lists.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Params } from '../../src/config.js';
import { StepError } from '../../src/errors.js';
import { arrayParams, keyValueParams, linesValue, splitArrayArgs } from '../../src/params/arrays.js';
import { readParams } from '../../src/params/read.js';
import { paramsSchema } from '../../src/params/schema.js';

const schema = paramsSchema();
const invalid = (pattern: RegExp) => (error: unknown) =>
  error instanceof StepError && error.code === 'PARAMS_INVALID' && pattern.test(error.message);

describe('splitArrayArgs', () => {
  test('no header: the command line is left alone', () => {
    assert.deepEqual(splitArrayArgs(['build', '--tags', 'v1'], schema), {
      args: ['build', '--tags', 'v1'],
      arrays: undefined,
    });
  });

  test('blocks in header order; flag-looking elements and other markers stay values; empty blocks kept empty', () => {
    const argv = [
      'build',
      '--push',
      '--array-params=tags,build_args,platforms,labels',
      '--array=tags',
      'v1',
      '-o',
      '--array=build_args',
      'A=--output=type=local,dest=/tmp/x',
      '--',
      '--array=cache_from',
      '--array-params=tags',
      '--array=platforms',
      '--array=labels',
      'l=1',
    ];
    const split = splitArrayArgs(argv, schema);
    assert.deepEqual(
      { ...split, arrays: { ...split.arrays } },
      {
        args: ['build', '--push'],
        arrays: {
          tags: ['v1', '-o'],
          build_args: ['A=--output=type=local,dest=/tmp/x', '--', '--array=cache_from', '--array-params=tags'],
          platforms: [],
          labels: ['l=1'],
        },
      },
    );
  });

  const refused: Array<[string, string[], RegExp]> = [
    [
      'an element that is exactly a later marker',
      ['--array-params=tags,labels', '--array=tags', 'v1', '--array=labels', '--array=labels'],
      /"--array=labels", the marker of the LABELS block, appears twice or out of order/,
    ],
    [
      'an element that is exactly its own marker',
      ['--array-params=tags,labels', '--array=tags', '--array=tags', '--array=labels'],
      /the marker of the TAGS block, appears twice/,
    ],
    [
      'blocks out of order',
      ['--array-params=tags,labels', '--array=labels', '--array=tags'],
      /the marker of the LABELS block, appears twice or out of order/,
    ],
    ['a missing block', ['--array-params=tags,labels', '--array=tags', 'v1'], /the block --array=labels is missing/],
    [
      'an element before the first marker',
      ['--array-params=tags', 'v1', '--array=tags'],
      /expected --array=tags after it/,
    ],
    [
      'a header naming a non-list param',
      ['--array-params=tags,image', '--array=tags', '--array=image'],
      /"image" is not a list parameter/,
    ],
    [
      'a header naming a param twice',
      ['--array-params=tags,tags', '--array=tags', '--array=tags'],
      /names a parameter twice/,
    ],
  ];
  for (const [name, argv, message] of refused)
    test(`refused: ${name}`, () => assert.throws(() => splitArrayArgs(['build', ...argv], schema), invalid(message)));
});

describe('list params from the command line, env lines and JSON', () => {
  const read = (sources: {
    env?: NodeJS.ProcessEnv;
    arrays?: Record<string, string[]>;
    flags?: Record<string, unknown>;
  }) =>
    readParams<Params>(
      {
        paramsFiles: [],
        env: { PARAM_IMAGE: 'a/b', ...sources.env },
        flags: sources.flags ?? {},
        arrays: sources.arrays,
      },
      schema,
    );

  test('array blocks: KEY=VALUE split at the first =, strings kept; an empty block is unset (the default applies)', async () => {
    const params = await read({
      env: { PARAM_PLATFORMS: '["linux/arm64"]' },
      arrays: { tags: ['v1', 'latest'], build_args: ['A=x=y', 'B='], labels: [], platforms: [] },
    });
    assert.deepEqual(params.tags, ['v1', 'latest']);
    assert.deepEqual(params.build_args, [
      { key: 'A', value: 'x=y' },
      { key: 'B', value: '' },
    ]);
    assert.equal(params.labels, undefined);
    assert.deepEqual(params.platforms, ['linux/arm64'], 'an empty block leaves the lower layer');
  });

  test('PARAM_* lines (Argo string params): one item per line, CRLF tolerated, blank lines skipped; JSON when it starts with [', async () => {
    const params = await read({
      env: {
        PARAM_TAGS: 'v1\r\nlatest\n\n',
        PARAM_BUILD_ARGS: 'A=1\nB=two words, "quoted"',
        PARAM_LABELS: ' [{"key":"l","value":"v"}]',
      },
    });
    assert.deepEqual(params.tags, ['v1', 'latest']);
    assert.deepEqual(params.build_args, [
      { key: 'A', value: '1' },
      { key: 'B', value: 'two words, "quoted"' },
    ]);
    assert.deepEqual(params.labels, [{ key: 'l', value: 'v' }]);
  });

  test('KEY=VALUE strings inside JSON lists, next to pairs', async () => {
    const params = await read({
      env: {
        PARAM_TAGS: '1',
        PARAM_ANNOTATIONS: '["index:a=1", {"key": "b", "value": "2"}]',
        PARAM_BUILD_CONTEXTS: '["shared=/src/shared"]',
      },
    });
    assert.deepEqual(params.annotations, [
      { key: 'index:a', value: '1' },
      { key: 'b', value: '2' },
    ]);
    assert.deepEqual(params.build_contexts, [{ key: 'shared', value: '/src/shared' }]);
  });

  test('an element without = in a pair list is refused, naming it; secrets stay JSON only', async () => {
    await assert.rejects(
      read({ arrays: { tags: ['1'], build_args: ['NOVALUE'] } }),
      invalid(/build_args\[0\] \(from the BUILD_ARGS array \(--array=build_args, --build-args\)\): must be an object/),
    );
    await assert.rejects(
      read({ env: { PARAM_TAGS: '["1"]', PARAM_SECRETS: 'token=S3CRET' } }),
      (error: unknown) =>
        invalid(/PARAM_SECRETS: expected JSON/)(error) && !(error as Error).message.includes('S3CRET'),
    );
  });

  test('KEY=VALUE strings for the non-secret pair lists only; tags and secrets are list params; secret ssh takes JSON only, no lines', () => {
    assert.deepEqual(keyValueParams(schema), [
      'build_args',
      'ssh_key_files',
      'labels',
      'annotations',
      'build_contexts',
    ]);
    assert.ok(arrayParams(schema).includes('tags') && arrayParams(schema).includes('secrets'));
    assert.equal(linesValue(schema, 'ssh', 'default=key'), undefined);
  });
});
