// Masking secret values in shown text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hidingHelperOutput, masker } from '../src/mask.js';

test('masks whole values and each line of multi-line ones, longest first; leaves tiny fragments', () => {
  const mask = masker(['hunter2-long', '-----BEGIN KEY-----\nAAAAbbbbCCCC\n-----END KEY-----', 'ab']);
  assert.equal(mask('token=hunter2-long; key line AAAAbbbbCCCC; ab'), 'token=***; key line ***; ab');
  assert.equal(masker([])('unchanged'), 'unchanged');
  assert.equal(masker(['a.b*c+'])('x a.b*c+ y aXbbc'), 'x *** y aXbbc');
});

test('cut: the start of an unfinished line that can be shown without splitting a secret', () => {
  const mask = masker(['secret-1', 'abcd']);
  // Holds back 7 characters (longest secret - 1): a secret may begin there and go on later.
  assert.equal(mask.cut('0123456789ABCDEFGHIJ'), 13);
  assert.equal(mask.cut('0123456789abcdefghij'), 10, 'a short secret across the cut too');
  assert.equal(mask.cut('0123456789 secret-1 tail'), 11, 'a secret across the cut moves it to its start');
  assert.equal(mask.cut('012345678901234567 secret'), 18);
  assert.equal(mask.cut('short'), 0);
  assert.equal(masker([]).cut('anything at all'), 15, 'nothing to hide: all of it');
  assert.equal(
    masker(['KLMNOPQR', 'HIJKL']).cut('0123456789HIJKLMNOPQRxx'),
    10,
    "a cut moved to one secret's start must not split another",
  );
});

test('cut holds back no more than the longest secret line: a multi-line secret never occurs within one line', () => {
  const pem = `-----BEGIN KEY-----\n${'A'.repeat(64)}\n${'B'.repeat(64)}\n-----END KEY-----`;
  const line = `${'x'.repeat(1000)}`;
  assert.equal(masker([pem]).cut(line), 1000 - 63, 'held back: the longest line of the key less one');
});

test('a secret of 500 KB is masked (an alternation regex of it would not compile)', () => {
  const big = 'k'.repeat(512000);
  assert.equal(masker([big, 'short-secret'])(`a ${big} b short-secret c`), 'a *** b *** c');
});

describe('hidingHelperOutput', () => {
  test("hides a failed credential helper's quoted output, on one line or across several", () => {
    const mask = hidingHelperOutput(masker(['s3cret-value']));
    assert.equal(
      mask('ERROR: failed to solve: error getting credentials - err: exit status 1, out: `token=abc s3cret-value`'),
      'ERROR: failed to solve: error getting credentials - err: exit status 1, out: `(hidden)`',
    );
    assert.equal(
      mask('error getting credentials - err: exit status 1, out: `line one'),
      'error getting credentials - err: exit status 1, out: `(hidden)',
    );
    assert.equal(mask('line two with a token'), '');
    assert.equal(mask('last line`'), '`');
    assert.equal(mask('#5 DONE 0.1s s3cret-value'), '#5 DONE 0.1s ***', 'other secrets are still masked after it');
  });
  test('holds a line back whole while it may become a helper error', () => {
    const mask = hidingHelperOutput(masker([]));
    assert.equal(mask.cut('ERROR: error getting credentials - err: exit'), 0);
    assert.equal(mask.cut('#5 plain progress'), '#5 plain progress'.length);
  });
  test("each stream's masker hides on its own: a backtick on the other stream does not end the hiding", () => {
    const mask = hidingHelperOutput(masker([]));
    const [stderr, stdout] = [mask.forStream!(), mask.forStream!()];
    assert.equal(
      stderr('error getting credentials - err: exit status 1, out: `first line'),
      'error getting credentials - err: exit status 1, out: `(hidden)',
    );
    assert.equal(stdout('a line with a ` backtick'), 'a line with a ` backtick');
    assert.equal(stderr('token=abc'), '', 'still hidden');
    assert.equal(stderr('end`'), '`');
  });
});
