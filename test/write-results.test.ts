// Result files: all or nothing for an image's results, best effort for error results, and the
// check that a results dir takes files before the build.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { StepError } from '../src/errors.js';
import { checkResultsWritable, explain, writeFailureResults, writeResults } from '../src/write-results.js';
import { scratchDir } from './helpers.js';

const temp = () => scratchDir('write-results');

describe('writeResults', () => {
  test('every result, exact, in the dir and at its own path; no temp file left', async () => {
    const dir = temp();
    const own = path.join(dir, 'own', 'IMAGE_URL');
    const written = await writeResults(
      { dir: path.join(dir, 'results'), paths: { IMAGE_URL: own } },
      { IMAGE_DIGEST: 'sha256:x', IMAGE_URL: 'r/a:1' },
    );
    assert.deepEqual(
      written.sort(),
      [path.join(dir, 'results', 'IMAGE_DIGEST'), path.join(dir, 'results', 'IMAGE_URL'), own].sort(),
    );
    assert.equal(readFileSync(own, 'utf8'), 'r/a:1');
    assert.deepEqual(readdirSync(path.join(dir, 'results')).sort(), ['IMAGE_DIGEST', 'IMAGE_URL']);
  });

  test('one result that cannot be written: none is put in place, and no temp file stays', async () => {
    const dir = temp();
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, '');
    const results = path.join(dir, 'results');
    await assert.rejects(
      writeResults(
        { dir: results, paths: { IMAGE_URL: path.join(blocker, 'IMAGE_URL') } },
        { IMAGE_DIGEST: 'sha256:x', IMAGE_URL: 'r/a:1' },
      ),
      (error: unknown) =>
        error instanceof StepError &&
        error.code === 'RESULTS_UNWRITABLE' &&
        error.message.includes(path.join(blocker, 'IMAGE_URL')),
    );
    assert.deepEqual(readdirSync(results), [], 'IMAGE_DIGEST is not left alone, and no temp file');
  });
});

describe('writeFailureResults', () => {
  test('writes what it can and returns what it could not', async () => {
    const dir = temp();
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, '');
    const reason = path.join(dir, 'elsewhere', 'ERROR_REASON');
    const problems = await writeFailureResults(
      { dir: path.join(blocker, 'results'), paths: { ERROR_REASON: reason } },
      { ERROR_REASON: 'BUILD_FAILED', ERROR_MESSAGE: 'boom' },
    );
    assert.equal(readFileSync(reason, 'utf8'), 'BUILD_FAILED');
    assert.equal(problems.length, 2, 'both files in the blocked dir');
    assert.ok(problems.every((problem) => problem.code === 'RESULTS_UNWRITABLE'));
  });
});

describe('checkResultsWritable', () => {
  test('a writable dir passes and keeps nothing of the check; a missing one is made', async () => {
    const dir = path.join(temp(), 'results');
    await checkResultsWritable({ dir, paths: {} });
    assert.deepEqual(readdirSync(dir), []);
  });

  test('an unusable dir fails with RESULTS_UNWRITABLE naming where the results were to go', async () => {
    const dir = temp();
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, '');
    await assert.rejects(
      checkResultsWritable({
        dir: path.join(dir, 'ok'),
        paths: { ERROR_REASON: path.join(blocker, 'x', 'ERROR_REASON') },
      }),
      (error: unknown) => {
        assert.ok(error instanceof StepError);
        assert.equal(error.code, 'RESULTS_UNWRITABLE');
        assert.match(error.message, /^result_paths\.ERROR_REASON: cannot write to .*a-file\/x: (ENOTDIR|EEXIST)/);
        return true;
      },
    );
    assert.equal(existsSync(path.join(dir, 'ok', 'ERROR_REASON')), false);
  });
});

describe('explain', () => {
  test('the errno codes of a results dir in plain words', () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: something`), { code });
    assert.equal(explain(errno('ENOSPC')), 'ENOSPC (no space left on the device)');
    assert.equal(explain(errno('EROFS')), 'EROFS (the file system is read-only)');
    assert.equal(explain(errno('EXDEV')), 'EXDEV: EXDEV: something');
    assert.equal(explain(new Error('plain')), 'plain');
  });
});
