// Cache keys as tags: the sanitising rule, shortening, suffixes, and the refs made from them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cacheRefs, cacheSuffix, cacheTag, keyAsTag, MAX_TAG_LENGTH, unusableKeys } from '../../src/cache/keys.js';

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

describe('keyAsTag', () => {
  const cases: Array<[string, string | undefined]> = [
    ['main', 'main'],
    ['feature/x', 'feature-x'],
    ['user@feature/ä', 'user-feature--'],
    ['release-1.2_rc', 'release-1.2_rc'],
    ['.hidden', 'hidden'],
    ['--/x', 'x'],
    ['///', undefined],
    ['...', undefined],
  ];
  for (const [key, tag] of cases)
    test(`${JSON.stringify(key)} → ${JSON.stringify(tag)}`, () => assert.equal(keyAsTag(key), tag));

  test('a key too long for a tag is cut and ends with its hash, so two long names stay apart', () => {
    const a = `feature/${'x'.repeat(200)}-a`;
    const b = `feature/${'x'.repeat(200)}-b`;
    assert.equal(keyAsTag(a)!.length, MAX_TAG_LENGTH);
    assert.match(keyAsTag(a)!, TAG);
    assert.notEqual(keyAsTag(a), keyAsTag(b));
    assert.equal(keyAsTag(a), keyAsTag(a), 'stable');
  });
});

describe('cacheSuffix and cacheTag', () => {
  test('the suffix names the target and a single platform (slashes as dashes); several platforms, no suffix', () => {
    assert.equal(cacheSuffix(undefined, []), '');
    assert.equal(cacheSuffix('test', []), '-test');
    assert.equal(cacheSuffix(undefined, ['linux/arm64/v8']), '-linux-arm64-v8');
    assert.equal(cacheSuffix('test', ['linux/amd64']), '-test-linux-amd64');
    assert.equal(cacheSuffix(undefined, ['linux/amd64', 'linux/arm64']), '');
  });
  test('a long key with a long target still makes a valid tag, the suffix kept whole', () => {
    const suffix = cacheSuffix('t'.repeat(100), ['linux/amd64']);
    assert.ok(suffix.length <= 64);
    const tag = cacheTag('k'.repeat(300), suffix)!;
    assert.match(tag, TAG);
    assert.ok(tag.endsWith(suffix));
  });
});

describe('cacheRefs', () => {
  const settings = {
    repo: 'r.example.com/c',
    key: 'feature/x',
    fallbackKeys: ['main'],
    write: true,
    target: undefined,
    platforms: [],
  };
  test('the key first, then fallbacks; export to the key', () => {
    assert.deepEqual(cacheRefs(settings), {
      from: ['r.example.com/c:feature-x', 'r.example.com/c:main'],
      to: 'r.example.com/c:feature-x',
    });
  });
  test('no export without write; nothing without a repo; duplicates read once', () => {
    assert.equal(cacheRefs({ ...settings, write: false }).to, undefined);
    assert.deepEqual(cacheRefs({ ...settings, repo: undefined }), { from: [], to: undefined });
    assert.deepEqual(cacheRefs({ ...settings, fallbackKeys: ['feature-x', 'main', 'main'] }).from, [
      'r.example.com/c:feature-x',
      'r.example.com/c:main',
    ]);
  });
});

describe('unusableKeys', () => {
  test('names the param and the index', () => {
    assert.deepEqual(unusableKeys('main', ['ok']), []);
    const problems = unusableKeys('///', ['ok', '..']);
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /^cache_key: /);
    assert.match(problems[1]!, /^cache_fallback_keys\/1: /);
  });
});
