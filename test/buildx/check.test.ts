// Counting the findings of `buildx build --call=check` from its output.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countCheckFindings } from '../../src/buildx/check.js';

describe('countCheckFindings', () => {
  // Captured from buildx 0.38 against buildkit 0.34 (stdout and stderr lines interleaved).
  const withFindings = [
    '#1 [internal] load build definition from Dockerfile',
    'Check complete, 3 warnings have been found!',
    '',
    'WARNING: FromAsCasing - https://docs.docker.com/go/dockerfile/rule/from-as-casing/',
    "'as' and 'FROM' keywords' casing do not match",
    'WARNING: LegacyKeyValueFormat - https://docs.docker.com/go/dockerfile/rule/legacy-key-value-format/',
    'WARNING: SecretsUsedInArgOrEnv - https://docs.docker.com/go/dockerfile/rule/secrets-used-in-arg-or-env/',
  ];
  const cases: Array<[string, string[], number | undefined]> = [
    ['the closing line counts', withFindings, 3],
    ['one finding', ['Check complete, 1 warning has been found!'], 1],
    ['a clean Dockerfile', ['#2 DONE 0.0s', 'Check complete, no warnings found.'], 0],
    ['no closing line: the WARNING lines count', withFindings.filter((line) => !line.startsWith('Check complete')), 3],
    [
      'a check that failed shows no result',
      ['ERROR: failed to build: failed to solve: dockerfile parse error on line 1: unknown instruction: FORM'],
      undefined,
    ],
  ];
  for (const [name, lines, count] of cases) test(name, () => assert.equal(countCheckFindings(lines), count));
});
