// Strings that cannot reach buildx intact: NUL and lone surrogates, found at any depth.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { printableKey, textProblems } from '../../src/params/text.js';

const secrets = new Set(['secrets', 'ssh']);

describe('textProblems', () => {
  const cases: Array<{ name: string; values: Record<string, unknown>; problems: string[] }> = [
    {
      name: 'ordinary text, odd but whole Unicode',
      values: { target: 'a', labels: [{ key: 'k', value: 'é😀\u2028\u202e' }] },
      problems: [],
    },
    {
      name: 'a NUL in a build arg value',
      values: { build_args: [{ key: 'A', value: 'a\0b' }] },
      problems: [
        'build_args[0].value: contains a NUL character, which a command-line argument or file name cannot carry',
      ],
    },
    {
      name: 'a NUL in a secret value is fine: it only goes to a file',
      values: { secrets: [{ key: 'k', value: 'a\0b' }] },
      problems: [],
    },
    {
      name: 'a NUL in a secret id is not',
      values: { secrets: [{ key: 'k\0', value: 'v' }] },
      problems: ['secrets[0].key: contains a NUL character, which a command-line argument or file name cannot carry'],
    },
    {
      name: 'a lone surrogate, secret or not, named without the value',
      values: { tags: ['a\ud800'], ssh: [{ key: 'default', value: '\udc00key' }] },
      problems: [
        'tags[0]: is not valid Unicode (it holds a lone UTF-16 surrogate, which would reach buildx changed)',
        'ssh[0].value: is not valid Unicode (it holds a lone UTF-16 surrogate, which would reach buildx changed)',
      ],
    },
    {
      name: 'a key with a NUL is shown JSON-quoted',
      values: { result_paths: { 'IMAGE\0URL': 'a\0' } },
      problems: [
        'result_paths."IMAGE\\u0000URL": contains a NUL character, which a command-line argument or file name cannot carry',
      ],
    },
  ];
  for (const { name, values, problems } of cases)
    test(name, () => assert.deepEqual(textProblems(values, secrets), problems));

  test('100000 nested arrays do not overflow the stack', () => {
    const deep = JSON.parse(`${'['.repeat(100000)}"\\u0000"${']'.repeat(100000)}`) as unknown;
    assert.deepEqual(textProblems({ tags: deep }, secrets), []);
  });

  test('printableKey: a plain key as it is, one with control characters JSON-quoted', () => {
    assert.equal(printableKey('build_args'), 'build_args');
    assert.equal(printableKey('a\nb'), '"a\\nb"');
  });
});
