// Masking secret values in shown text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { masker } from '../src/mask.js';

test('masks whole values and each line of multi-line ones, longest first; leaves tiny fragments', () => {
  const mask = masker(['hunter2-long', '-----BEGIN KEY-----\nAAAAbbbbCCCC\n-----END KEY-----', 'ab']);
  assert.equal(mask('token=hunter2-long; key line AAAAbbbbCCCC; ab'), 'token=***; key line ***; ab');
  assert.equal(masker([])('unchanged'), 'unchanged');
  assert.equal(masker(['a.b*c+'])('x a.b*c+ y aXbbc'), 'x *** y aXbbc');
});

test('a secret of 500 KB is masked (an alternation regex of it would not compile)', () => {
  const big = 'k'.repeat(512000);
  assert.equal(masker([big, 'short-secret'])(`a ${big} b short-secret c`), 'a *** b *** c');
});
