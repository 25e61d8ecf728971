// The readiness loop with a scripted probe and a fake clock.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProbeResult } from '../../src/daemon/probe.js';
import { countWorkers } from '../../src/daemon/probe.js';
import { waitForDaemon } from '../../src/daemon/wait.js';
import { StepError } from '../../src/errors.js';

function scripted(results: ProbeResult[]) {
  const timeouts: number[] = [];
  return {
    timeouts,
    probe: async (_endpoint: string, _tls: unknown, timeoutMs: number) => {
      timeouts.push(timeoutMs);
      return results.shift() ?? { ok: false, transient: true, reason: 'ECONNREFUSED' };
    },
  };
}

describe('waitForDaemon', () => {
  test('retries transient failures until the daemon answers, logging each new reason once', async () => {
    const lines: string[] = [];
    const { probe } = scripted([
      { ok: false, transient: true, reason: 'ENOENT' },
      { ok: false, transient: true, reason: 'ENOENT' },
      { ok: false, transient: true, reason: 'the daemon has no workers yet' },
      { ok: true, workers: 1 },
    ]);
    const waited = await waitForDaemon({ endpoint: 'unix:///s', timeoutMs: 10_000, probe, log: (line) => lines.push(line), initialDelayMs: 1 });
    assert.deepEqual(waited, { tries: 4, workers: 1 });
    assert.deepEqual(lines, ['waiting for BuildKit daemon at unix:///s: ENOENT', 'waiting for BuildKit daemon at unix:///s: the daemon has no workers yet']);
  });

  test('gives up at the deadline with DAEMON_UNREACHABLE naming the endpoint and the last reason', async () => {
    const { probe } = scripted([]);
    await assert.rejects(waitForDaemon({ endpoint: 'tcp://bk:1234', timeoutMs: 50, probe, log: () => {}, initialDelayMs: 5 }), (error: unknown) => {
      assert.ok(error instanceof StepError);
      assert.equal(error.code, 'DAEMON_UNREACHABLE');
      assert.match(error.message, /tcp:\/\/bk:1234 did not answer within 0\.05 s \(\d+ tries; last: ECONNREFUSED\)/);
      return true;
    });
  });

  test('a non-transient failure ends the wait at once', async () => {
    const { probe, timeouts } = scripted([{ ok: false, transient: false, reason: 'EACCES: permission denied' }]);
    await assert.rejects(waitForDaemon({ endpoint: 'unix:///s', timeoutMs: 60_000, probe, log: () => {} }), /EACCES/);
    assert.equal(timeouts.length, 1);
  });
});

describe('countWorkers', () => {
  test('counts WorkerRecord fields in a gRPC frame', () => {
    const record = Buffer.from([0x0a, 0x02, 0x69, 0x64]); // WorkerRecord{ID: "id"}
    const message = Buffer.concat([Buffer.from([0x0a, record.length]), record, Buffer.from([0x0a, record.length]), record]);
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
    assert.equal(countWorkers(frame), 2);
    assert.equal(countWorkers(Buffer.from([0, 0, 0, 0, 0])), 0);
  });
});
