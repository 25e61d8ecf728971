// The error codes are API: each exit code names one code, so a pipeline can branch on either.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODES } from '../src/errors.js';

test('every error code has its own exit code', () => {
  const byExit = new Map<number, string[]>();
  for (const [code, { exit }] of Object.entries(ERROR_CODES)) byExit.set(exit, [...(byExit.get(exit) ?? []), code]);
  const shared = [...byExit.values()].filter((codes) => codes.length > 1);
  assert.deepEqual(shared, [], `exit codes shared by several error codes: ${JSON.stringify(shared)}`);
});
