// The buildx runner with tiny stand-in executables: a stop reaches buildx's whole process group,
// and nothing buildx started outlives it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runBuildx } from '../../src/buildx/run.js';

const script = (body: string) => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'bks-run-')), 'buildx');
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
};

/** Running, as opposed to gone or a zombie (killed, waiting for whoever adopted it to reap it). */
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};

/** Waits a little for a killed process to die. */
const goneSoon = async (pid: number) => {
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(20);
  return !alive(pid);
};

describe('runBuildx', () => {
  test('an abort stops a wrapper that forwards no signal, and the buildx under it', async () => {
    // The "buildx" under the wrapper prints its PID, then runs until stopped.
    const bin = script(`sh -c 'echo child $$; exec sleep 30'\necho wrapper done`);
    const controller = new AbortController();
    let child = 0;
    const started = Date.now();
    const result = await runBuildx(bin, [], {
      env: { PATH: process.env.PATH },
      signal: controller.signal,
      write: () => {},
      onLine: (line) => {
        const match = /^child (\d+)$/.exec(line);
        if (match) {
          child = Number(match[1]);
          controller.abort();
        }
      },
    });
    assert.ok(child > 0, 'the child started');
    assert.ok(Date.now() - started < 4000, `stopped after ${Date.now() - started} ms, not after the 30 s sleep`);
    assert.notEqual(result.exitCode, 0);
    assert.ok(await goneSoon(child), 'the child under the wrapper is gone');
  });

  test('a process buildx left running in the background is stopped when buildx exits', async () => {
    const bin = script(`sleep 30 >/dev/null 2>&1 &\necho background $!\nexit 0`);
    let background = 0;
    const result = await runBuildx(bin, [], {
      env: { PATH: process.env.PATH },
      write: () => {},
      onLine: (line) => {
        const match = /^background (\d+)$/.exec(line);
        if (match) background = Number(match[1]);
      },
    });
    assert.equal(result.exitCode, 0);
    assert.ok(background > 0);
    assert.ok(await goneSoon(background), 'the background process is gone');
  });
});
