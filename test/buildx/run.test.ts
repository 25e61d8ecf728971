// Running a real child process through runBuildx, with execa loaded from the build's bundle.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { EXECA_BUNDLE, loadExeca, runBuildx } from '../../src/buildx/run.js';

describe('runBuildx', () => {
  test('execa comes from the one-file bundle the build made', async () => {
    assert.ok(existsSync(new URL(`../../src/buildx/${EXECA_BUNDLE}`, import.meta.url)), 'npm run build writes the bundle');
    assert.equal((await loadExeca()).from, 'bundle');
  });

  test('streams both outputs line by line (masked), keeps the tail, and returns the exit code', async () => {
    const shown: string[] = [];
    const lines: string[] = [];
    const script = 'printf "one\\ntwo token-123"; printf "err token-123\\n" >&2; exit 3';
    const result = await runBuildx('/bin/sh', ['-c', script], {
      env: { PATH: process.env.PATH },
      mask: (text) => text.replaceAll('token-123', '***'),
      write: (text) => shown.push(text),
      onLine: (line) => lines.push(line),
    });
    assert.equal(result.exitCode, 3);
    assert.equal(result.spawnError, undefined);
    assert.deepEqual([...lines].sort(), ['err ***', 'one', 'two ***']);
    assert.deepEqual([...shown].sort(), ['err ***\n', 'one\n', 'two ***\n']);
    assert.deepEqual([...result.tail].sort(), ['err ***', 'one', 'two ***']);
  });

  test('passes only the given env to the child', async () => {
    const lines: string[] = [];
    await runBuildx('/bin/sh', ['-c', 'echo "[$ONLY_THIS][$HOME]"'], { env: { ONLY_THIS: 'yes' }, write: () => {}, onLine: (line) => lines.push(line) });
    assert.deepEqual(lines, ['[yes][]']);
  });

  test('a binary that does not exist is a spawn error, not an exit code', async () => {
    const result = await runBuildx('/nonexistent/buildx', ['version'], { env: {}, write: () => {} });
    assert.equal(result.spawnError?.code, 'ENOENT');
  });
});
