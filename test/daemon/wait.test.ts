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
    probe: (_endpoint: string, _tls: unknown, timeoutMs: number): Promise<ProbeResult> => {
      timeouts.push(timeoutMs);
      return Promise.resolve(results.shift() ?? { ok: false, transient: true, reason: 'ECONNREFUSED' });
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
    const waited = await waitForDaemon({
      endpoint: 'unix:///s',
      timeoutMs: 10_000,
      probe,
      log: (line) => lines.push(line),
      initialDelayMs: 1,
    });
    assert.deepEqual(waited, { tries: 4, workers: 1 });
    assert.deepEqual(lines, [
      'waiting for BuildKit daemon at unix:///s: ENOENT',
      'waiting for BuildKit daemon at unix:///s: the daemon has no workers yet',
    ]);
  });

  test('gives up at the deadline with DAEMON_UNREACHABLE naming the endpoint and the last reason', async () => {
    const { probe } = scripted([]);
    await assert.rejects(
      waitForDaemon({ endpoint: 'tcp://bk:1234', timeoutMs: 50, probe, log: () => {}, initialDelayMs: 5 }),
      (error: unknown) => {
        assert.ok(error instanceof StepError);
        assert.equal(error.code, 'DAEMON_UNREACHABLE');
        assert.match(error.message, /tcp:\/\/bk:1234 did not answer within 0\.05 s \(\d+ tries; last: ECONNREFUSED\)/);
        return true;
      },
    );
  });

  test('polls at the short fixed interval while nothing listens, and backs off once something does', async () => {
    const refused: ProbeResult = {
      ok: false,
      transient: true,
      reason: 'ECONNREFUSED: connect ECONNREFUSED',
      code: 'ECONNREFUSED',
    };
    const absent: ProbeResult = { ok: false, transient: true, reason: 'ENOENT: connect ENOENT', code: 'ENOENT' };
    const noWorkers: ProbeResult = { ok: false, transient: true, reason: 'the daemon has no workers yet' };
    const { probe } = scripted([
      absent,
      absent,
      absent,
      refused,
      absent,
      noWorkers,
      noWorkers,
      noWorkers,
      absent,
      { ok: true, workers: 1 },
    ]);
    const pauses: number[] = [];
    const waited = await waitForDaemon({
      endpoint: 'unix:///s',
      timeoutMs: 60_000,
      probe,
      log: () => {},
      initialDelayMs: 100,
      absentPollMs: 20,
      sleep: (ms) => {
        pauses.push(ms);
        return Promise.resolve();
      },
    });
    assert.deepEqual(waited, { tries: 10, workers: 1 });
    // The absent-socket pauses stay at 20 ms however long it lasts; the backoff is not reset by them.
    assert.deepEqual(pauses, [20, 20, 20, 20, 20, 100, 200, 400, 20]);
  });

  test('the default pause for an absent socket is far below the backoff, so a late sidecar is noticed quickly', async () => {
    const { probe } = scripted([
      { ok: false, transient: true, reason: 'ENOENT', code: 'ENOENT' },
      { ok: false, transient: true, reason: 'ENOENT', code: 'ENOENT' },
      { ok: true, workers: 1 },
    ]);
    const pauses: number[] = [];
    await waitForDaemon({
      endpoint: 'unix:///s',
      timeoutMs: 60_000,
      probe,
      log: () => {},
      sleep: (ms) => {
        pauses.push(ms);
        return Promise.resolve();
      },
    });
    assert.equal(pauses.length, 2);
    for (const ms of pauses) assert.ok(ms > 0 && ms < 100, `pause ${ms} ms`);
  });

  test('a refused tcp:// endpoint gets the short poll only for a while, then the backoff', async () => {
    let clock = 0;
    const refused: ProbeResult = { ok: false, transient: true, reason: 'ECONNREFUSED', code: 'ECONNREFUSED' };
    const probe = (): Promise<ProbeResult> => Promise.resolve(clock >= 3000 ? { ok: true, workers: 1 } : refused);
    const pauses: number[] = [];
    await waitForDaemon({
      endpoint: 'tcp://buildkitd:1234',
      timeoutMs: 60_000,
      probe,
      log: () => {},
      now: () => clock,
      initialDelayMs: 100,
      absentPollMs: 20,
      absentPollTcpForMs: 1000,
      sleep: (ms) => {
        pauses.push(ms);
        clock += ms;
        return Promise.resolve();
      },
    });
    assert.deepEqual(pauses.slice(0, 50), Array(50).fill(20), 'short polls for the first second');
    assert.deepEqual(pauses.slice(50), [100, 200, 400, 800, 1600], 'then the backoff');
  });

  test('the deadline still holds while polling an absent socket', async () => {
    let clock = 0;
    const { probe } = scripted([]);
    const absentForever = async (...args: Parameters<typeof probe>): Promise<ProbeResult> => {
      await probe(...args);
      return { ok: false, transient: true, reason: 'ENOENT: connect ENOENT', code: 'ENOENT' };
    };
    const pauses: number[] = [];
    await assert.rejects(
      waitForDaemon({
        endpoint: 'unix:///s',
        timeoutMs: 1000,
        probe: absentForever,
        log: () => {},
        now: () => clock,
        absentPollMs: 30,
        sleep: (ms) => {
          pauses.push(ms);
          clock += ms;
          return Promise.resolve();
        },
      }),
      (error: unknown) =>
        error instanceof StepError &&
        error.code === 'DAEMON_UNREACHABLE' &&
        /within 1 s \(\d+ tries; last: ENOENT/.test(error.message),
    );
    assert.equal(
      pauses.reduce((sum, ms) => sum + ms, 0),
      1000,
    );
    assert.equal(pauses.at(-1), 1000 % 30);
  });

  test('an abort during the absent-socket polling ends the wait with INTERRUPTED', async () => {
    const controller = new AbortController();
    let tries = 0;
    const probe = (): Promise<ProbeResult> => {
      if (++tries === 3) controller.abort(new Error('SIGTERM'));
      return Promise.resolve({ ok: false, transient: true, reason: 'ENOENT', code: 'ENOENT' });
    };
    await assert.rejects(
      waitForDaemon({ endpoint: 'unix:///s', timeoutMs: 60_000, probe, log: () => {}, signal: controller.signal }),
      (error: unknown) => {
        assert.ok(error instanceof StepError);
        assert.equal(error.code, 'INTERRUPTED');
        return true;
      },
    );
    assert.equal(tries, 3);
  });

  test('under TLS, only a handshake failure is DAEMON_TLS; other final failures are DAEMON_UNREACHABLE', async () => {
    const tls = { ca: Buffer.from('ca') };
    const cases: Array<[ProbeResult, string]> = [
      [{ ok: false, transient: false, reason: 'cert', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'DAEMON_TLS'],
      [{ ok: false, transient: false, reason: 'name', code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'DAEMON_TLS'],
      [{ ok: false, transient: false, reason: 'denied', code: 'EACCES' }, 'DAEMON_UNREACHABLE'],
      [{ ok: false, transient: false, reason: 'odd' }, 'DAEMON_UNREACHABLE'],
    ];
    for (const [result, expected] of cases) {
      const { probe } = scripted([result]);
      await assert.rejects(
        waitForDaemon({
          endpoint: 'tcp://buildkitd-0.buildkitd.fleet.svc:1234',
          tls,
          timeoutMs: 60_000,
          probe,
          log: () => {},
        }),
        (error: unknown) => error instanceof StepError && error.code === expected,
        result.ok ? '' : String(result.code),
      );
    }
  });

  test('under TLS, ENOTFOUND (a not-ready replica has no DNS record) is waited out like a refused connection', async () => {
    const notFound: ProbeResult = { ok: false, transient: true, reason: 'ENOTFOUND', code: 'ENOTFOUND' };
    const { probe } = scripted([notFound, notFound, { ok: true, workers: 1 }]);
    const waited = await waitForDaemon({
      endpoint: 'tcp://buildkitd-0.buildkitd.fleet.svc:1234',
      tls: { ca: Buffer.from('ca') },
      timeoutMs: 60_000,
      probe,
      log: () => {},
      sleep: () => Promise.resolve(),
    });
    assert.equal(waited.tries, 3);
  });

  test('a non-transient failure ends the wait at once', async () => {
    const { probe, timeouts } = scripted([{ ok: false, transient: false, reason: 'EACCES: permission denied' }]);
    await assert.rejects(waitForDaemon({ endpoint: 'unix:///s', timeoutMs: 60_000, probe, log: () => {} }), /EACCES/);
    assert.equal(timeouts.length, 1);
  });
});

/** A probe that answers `results` in turn (the last one forever), on a fake clock that pauses advance. */
function onClock(results: ProbeResult[]) {
  let clock = 0;
  const seen: { at: number; code?: string }[] = [];
  const pauses: number[] = [];
  return {
    seen,
    pauses,
    options: {
      probe: (): Promise<ProbeResult> => {
        const result = results.length > 1 ? results.shift()! : results[0]!;
        seen.push({ at: clock, ...(result.ok ? {} : { code: result.code }) });
        return Promise.resolve(result);
      },
      now: () => clock,
      sleep: (ms: number) => {
        pauses.push(ms);
        clock += ms;
        return Promise.resolve();
      },
      log: () => {},
    },
  };
}

const absent: ProbeResult = { ok: false, transient: true, reason: 'ENOENT: connect ENOENT /s', code: 'ENOENT' };
const denied: ProbeResult = { ok: false, transient: false, reason: 'EACCES: connect EACCES /s', code: 'EACCES' };
const refused: ProbeResult = {
  ok: false,
  transient: true,
  reason: 'ECONNREFUSED: connect ECONNREFUSED /s',
  code: 'ECONNREFUSED',
};

describe('waitForDaemon: EACCES right after the socket appears (buildkitd chmods it after creating it)', () => {
  test('EACCES within the grace after the socket appeared is waited out with the short poll', async () => {
    const clock = onClock([absent, absent, ...Array<ProbeResult>(40).fill(denied), { ok: true, workers: 1 }]);
    const waited = await waitForDaemon({
      endpoint: 'unix:///s',
      timeoutMs: 60_000,
      absentPollMs: 20,
      accessGraceMs: 2000,
      ...clock.options,
    });
    assert.deepEqual(waited, { tries: 43, workers: 1 });
    assert.deepEqual(new Set(clock.pauses), new Set([20]), 'short polls only');
  });

  test('EACCES that lasts past the grace is final, with the message it always had, long before the deadline', async () => {
    const clock = onClock([absent, absent, absent, denied]);
    await assert.rejects(
      waitForDaemon({
        endpoint: 'unix:///s',
        timeoutMs: 60_000,
        absentPollMs: 20,
        accessGraceMs: 2000,
        ...clock.options,
      }),
      (error: unknown) =>
        error instanceof StepError &&
        error.code === 'DAEMON_UNREACHABLE' &&
        error.message === 'BuildKit daemon at unix:///s cannot be reached: EACCES: connect EACCES /s',
    );
    const firstDenied = clock.seen.find((probe) => probe.code === 'EACCES')!.at;
    assert.equal(firstDenied, 60, 'the socket appeared at the fourth try');
    assert.ok(
      clock.seen.at(-1)!.at - firstDenied >= 2000 && clock.seen.at(-1)!.at - firstDenied < 2040,
      `gave up ${clock.seen.at(-1)!.at - firstDenied} ms after the socket appeared`,
    );
  });

  test('a socket that is there from the first try gets the same grace', async () => {
    const clock = onClock([denied]);
    await assert.rejects(
      waitForDaemon({ endpoint: 'unix:///s', timeoutMs: 60_000, absentPollMs: 20, ...clock.options }),
      /cannot be reached: EACCES/,
    );
    assert.ok(clock.seen.at(-1)!.at >= 2000 && clock.seen.at(-1)!.at < 2040, 'the default grace is 2 s');
  });

  test('a tcp:// endpoint gets no grace: EACCES there is not a socket being set up', async () => {
    const clock = onClock([denied]);
    await assert.rejects(waitForDaemon({ endpoint: 'tcp://bk:1234', timeoutMs: 60_000, ...clock.options }), /EACCES/);
    assert.equal(clock.seen.length, 1);
  });
});

describe('waitForDaemon: at the deadline, a socket without a daemon points at the sidecar log', () => {
  const cases: { name: string; endpoint: string; results: ProbeResult[]; hint: RegExp | undefined }[] = [
    {
      name: 'never appeared',
      endpoint: 'unix:///s',
      results: [absent],
      hint: /: the socket never appeared, so the daemon is not running\. See its log: .*`kubectl logs POD -c sidecar-buildkitd` \(Tekton\) or `-c buildkitd` \(Argo\)$/,
    },
    {
      name: 'disappeared',
      endpoint: 'unix:///s',
      results: [refused, absent],
      hint: /: the socket disappeared, so the daemon is not running\. See its log/,
    },
    {
      name: 'left behind by a dead daemon',
      endpoint: 'unix:///s',
      results: [refused],
      hint: /: nothing listens on the socket, so the daemon is not running\. See its log/,
    },
    {
      name: 'a daemon without workers',
      endpoint: 'unix:///s',
      results: [{ ok: false, transient: true, reason: 'the daemon has no workers yet' }],
      hint: undefined,
    },
    { name: 'tcp:// refused', endpoint: 'tcp://bk:1234', results: [refused], hint: undefined },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.hint ? 'names the sidecar container' : 'no sidecar hint'}`, async () => {
      const clock = onClock(c.results);
      await assert.rejects(
        waitForDaemon({ endpoint: c.endpoint, timeoutMs: 1000, ...clock.options }),
        (error: unknown) => {
          assert.ok(error instanceof StepError);
          assert.equal(error.code, 'DAEMON_UNREACHABLE');
          assert.match(error.message, /did not answer within 1 s/);
          if (c.hint) assert.match(error.message, c.hint);
          else assert.doesNotMatch(error.message, /See its log/);
          return true;
        },
      );
    });
  }
});

describe('countWorkers', () => {
  test('counts WorkerRecord fields in a gRPC frame', () => {
    const record = Buffer.from([0x0a, 0x02, 0x69, 0x64]); // WorkerRecord{ID: "id"}
    const message = Buffer.concat([
      Buffer.from([0x0a, record.length]),
      record,
      Buffer.from([0x0a, record.length]),
      record,
    ]);
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
    assert.equal(countWorkers(frame), 2);
    assert.equal(countWorkers(Buffer.from([0, 0, 0, 0, 0])), 0);
  });
});
