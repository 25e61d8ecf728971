// The step's control flow with a scripted buildx and probe: retries, metadata checks, cleanup.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { RunResult, Runner } from '../src/buildx/run.js';
import type { Params } from '../src/config.js';
import type { ProbeResult } from '../src/daemon/probe.js';
import { StepError } from '../src/errors.js';
import { runBuild } from '../src/step.js';
import { withDefaults } from './params/fixture.js';
import { scratchDir } from './helpers.js';

const digest = `sha256:${'c'.repeat(64)}`;
const attemptsOf = (error: unknown) => (error as { attempts?: unknown }).attempts;
const params = (dir: string, extra: Partial<Params> = {}): Params =>
  withDefaults({
    image: 'r.example.com/a/b',
    tags: ['1'],
    context: dir,
    endpoint: 'unix:///nowhere.sock',
    daemon_timeout: 1,
    push: true,
    metadata_file: path.join(dir, 'metadata.json'),
    secrets: [{ key: 's', value: 'v' }],
    ...extra,
  });

/** A buildx stand-in: `create` succeeds; each `build` takes the next scripted outcome. */
function scriptedBuildx(dir: string, builds: Array<Partial<RunResult> & { lines?: string[] }>) {
  const calls: string[][] = [];
  const runner: Runner = (_bin, args, options) => {
    calls.push([...args]);
    if (args[0] === 'create') return Promise.resolve({ exitCode: 0, tail: [] });
    const outcome = builds.shift() ?? { exitCode: 0 };
    for (const line of outcome.lines ?? []) options.onLine?.(line);
    if (outcome.exitCode === 0)
      writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ 'containerimage.digest': digest }));
    return Promise.resolve({ exitCode: outcome.exitCode ?? 0, tail: outcome.tail ?? [] });
  };
  return { runner, builds: () => calls.filter((call) => call[0] === 'build').length };
}

function deps(dir: string, runner: Runner) {
  return {
    env: { TMPDIR: dir, BUILDKIT_STEP_STATE_DIR: path.join(dir, 'state') },
    cwd: dir,
    runner,
    probe: () => Promise.resolve({ ok: true as const, workers: 1 }),
    log: () => {},
    isTty: false,
    backoff: async () => {},
  };
}

const transient = {
  exitCode: 1,
  tail: [
    'ERROR: failed to build: failed to solve: failed to push r.example.com/a/b:1: unexpected status: 503 Service Unavailable',
  ],
};

describe('runBuild', () => {
  test('transient failures are retried up to `retries`; the summary counts attempts; secret files are gone', async () => {
    const dir = scratchDir('step');
    const buildx = scriptedBuildx(dir, [transient, transient, { exitCode: 0 }]);
    const outcome = await runBuild(params(dir), deps(dir, buildx.runner));
    assert.equal(outcome.summary.attempts, 3);
    assert.equal(outcome.results.IMAGE_DIGEST, digest);
    assert.deepEqual(
      readdirSync(path.join(dir, 'state')).filter((name) => name.startsWith('private-')),
      [],
    );
  });

  test('retries run out: the last failure, classified', async () => {
    const dir = scratchDir('step');
    const buildx = scriptedBuildx(dir, [transient, transient]);
    await assert.rejects(
      runBuild(params(dir, { retries: 1 }), deps(dir, buildx.runner)),
      (error: unknown) =>
        error instanceof StepError &&
        error.code === 'PUSH_FAILED' &&
        /attempt 2/.test(error.message) &&
        attemptsOf(error) === 2,
    );
    assert.equal(buildx.builds(), 2);
  });

  test('results that cannot fit are refused before anything runs: no daemon wait, no buildx, no push', async () => {
    const dir = scratchDir('step');
    const buildx = scriptedBuildx(dir, [{ exitCode: 0 }]);
    let probes = 0;
    const tags = Array.from({ length: 40 }, (_, index) => `release-candidate-${index}`);
    await assert.rejects(
      runBuild(params(dir, { tags }), {
        ...deps(dir, buildx.runner),
        probe: () => (probes++, Promise.resolve({ ok: true as const, workers: 1 })),
      }),
      (error: unknown) =>
        error instanceof StepError &&
        error.code === 'RESULTS_TOO_LARGE' &&
        /largest is IMAGES/.test(error.message) &&
        attemptsOf(error) === 0,
    );
    assert.equal(probes, 0, 'no daemon wait');
    assert.equal(buildx.builds(), 0, 'no build, so no push');
    assert.equal(existsSync(path.join(dir, 'state')), false, 'no secret files were written');
  });

  test('the early size check counts a digest as 71 bytes: results that fit exactly pass and are written as counted', async () => {
    const dir = scratchDir('step');
    const { tektonSize, successResults } = await import('../src/results.js');
    const { resolveConfig } = await import('../src/config.js');
    const tags = ['a', 'b', 'c'];
    const size = tektonSize(
      successResults(resolveConfig(params(dir, { tags }), { cwd: dir, tmpDir: dir }), { digest }),
    );
    const outcome = await runBuild(
      params(dir, { tags, results_max_bytes: size }),
      deps(dir, scriptedBuildx(dir, [{ exitCode: 0 }]).runner),
    );
    assert.equal(tektonSize(outcome.results), size);
    await assert.rejects(
      runBuild(
        params(dir, { tags, results_max_bytes: size - 1 }),
        deps(dir, scriptedBuildx(dir, [{ exitCode: 0 }]).runner),
      ),
      (error: unknown) => error instanceof StepError && error.code === 'RESULTS_TOO_LARGE',
    );
  });

  test('a build failure is never retried, and the stale metadata of an earlier run is not read', async () => {
    const dir = scratchDir('step');
    writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ 'containerimage.digest': digest }));
    const buildx = scriptedBuildx(dir, [
      {
        exitCode: 1,
        tail: [
          'ERROR: failed to build: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2',
        ],
      },
    ]);
    await assert.rejects(
      runBuild(params(dir), deps(dir, buildx.runner)),
      (error: unknown) => error instanceof StepError && error.code === 'BUILD_FAILED' && attemptsOf(error) === 1,
    );
    assert.equal(buildx.builds(), 1);
    assert.equal(existsSync(path.join(dir, 'metadata.json')), false);
  });

  test('the registry got another digest than the metadata names: METADATA_INVALID, not a wrong IMAGE_DIGEST', async () => {
    const dir = scratchDir('step');
    const other = `sha256:${'d'.repeat(64)}`;
    const buildx = scriptedBuildx(dir, [
      { exitCode: 0, lines: [`#9 pushing manifest for r.example.com/a/b:1@${other} 0.1s done`] },
    ]);
    await assert.rejects(
      runBuild(params(dir), deps(dir, buildx.runner)),
      (error: unknown) => error instanceof StepError && error.code === 'METADATA_INVALID',
    );
  });

  test('a daemon lost mid-build that does not come back: DAEMON_UNREACHABLE saying it was lost, after one wait', async () => {
    const dir = scratchDir('step');
    const lost = {
      exitCode: 1,
      tail: [
        'ERROR: failed to build: failed to receive status: rpc error: code = Unavailable desc = error reading from server: EOF',
      ],
    };
    const buildx = scriptedBuildx(dir, [lost]);
    let probes = 0;
    const probe = (): Promise<ProbeResult> =>
      Promise.resolve(
        ++probes === 1
          ? { ok: true, workers: 1 }
          : { ok: false, transient: true, reason: 'ECONNREFUSED: connect ECONNREFUSED /nowhere.sock' },
      );
    await assert.rejects(
      runBuild(params(dir, { daemon_timeout: 0.2 }), { ...deps(dir, buildx.runner), probe }),
      (error: unknown) => {
        assert.ok(error instanceof StepError);
        assert.equal(error.code, 'DAEMON_UNREACHABLE');
        assert.match(
          error.message,
          /^the BuildKit daemon was lost during build attempt 1 \(ERROR: .*error reading from server: EOF\) and did not come back: BuildKit daemon at unix:\/\/\/nowhere\.sock did not answer within 0\.2 s/,
        );
        return true;
      },
    );
    assert.equal(buildx.builds(), 1, 'no build on a daemon that is not back');
    assert.deepEqual(
      readdirSync(path.join(dir, 'state')).filter((name) => name.startsWith('private-')),
      [],
    );
  });

  test('a daemon lost and back: the next attempt starts once it answers, without the retry pause', async () => {
    const dir = scratchDir('step');
    const buildx = scriptedBuildx(dir, [
      { exitCode: 1, tail: ['ERROR: failed to build: failed to solve: Unavailable: error reading from server: EOF'] },
      { exitCode: 0 },
    ]);
    let probes = 0;
    let pauses = 0;
    const probe = (): Promise<ProbeResult> =>
      Promise.resolve(
        ++probes === 2 ? { ok: false, transient: true, reason: 'ECONNREFUSED' } : { ok: true, workers: 1 },
      );
    const outcome = await runBuild(params(dir), {
      ...deps(dir, buildx.runner),
      probe,
      backoff: () => {
        pauses++;
        return Promise.resolve();
      },
    });
    assert.equal(outcome.summary.attempts, 2);
    assert.equal(probes, 3, 'the first wait, then the wait again: refused once, then answered');
    assert.equal(pauses, 0);
  });

  test('a daemon lost on the last attempt: the message says so', async () => {
    const dir = scratchDir('step');
    const buildx = scriptedBuildx(dir, [
      { exitCode: 1, tail: ['ERROR: failed to build: rpc error: code = Unavailable desc = connection reset by peer'] },
    ]);
    await assert.rejects(
      runBuild(params(dir, { retries: 0 }), deps(dir, buildx.runner)),
      (error: unknown) =>
        error instanceof StepError &&
        error.code === 'DAEMON_UNREACHABLE' &&
        /attempt 1\): the BuildKit daemon at unix:\/\/\/nowhere\.sock was lost during the build: ERROR/.test(
          error.message,
        ),
    );
  });
});

describe('runBuild: buildx create and the daemon wait', () => {
  /** A buildx whose `create` takes `createMs` and ends as `create` says; events go to `events`. */
  function timedBuildx(dir: string, events: string[], createMs: number, create: Partial<RunResult> = {}): Runner {
    const builds = scriptedBuildx(dir, [{ exitCode: 0 }]);
    return async (bin, args, options) => {
      if (args[0] !== 'create') return builds.runner(bin, args, options);
      events.push(`create started ${args.at(-1)}`);
      await new Promise((resolve) => setTimeout(resolve, createMs));
      events.push('create done');
      return { exitCode: 0, tail: [], ...create };
    };
  }
  const absent = { ok: false as const, transient: true, reason: 'ENOENT: no socket', code: 'ENOENT' };

  test('the builder is created while the wait for a late daemon runs, and the build starts once both are done', async () => {
    const dir = scratchDir('step');
    const events: string[] = [];
    let probes = 0;
    const probe = () => {
      events.push(`probe ${++probes}`);
      return Promise.resolve(probes < 5 ? absent : { ok: true as const, workers: 1 });
    };
    const outcome = await runBuild(params(dir), { ...deps(dir, timedBuildx(dir, events, 30)), probe });
    assert.equal(outcome.results.IMAGE_DIGEST, digest);
    assert.ok(
      events.indexOf('create started unix:///nowhere.sock') < events.indexOf('probe 2'),
      `create started with the wait: ${events.join(', ')}`,
    );
    assert.ok(
      events.indexOf('create done') < events.indexOf('probe 5'),
      `create done while the daemon was still absent: ${events.join(', ')}`,
    );
  });

  test('a daemon that never answers wins over a failed buildx create: DAEMON_UNREACHABLE, and the create had ended', async () => {
    for (const create of [
      { exitCode: 1, tail: ['ERROR: bad builder'] },
      { exitCode: 1, tail: [], spawnError: Object.assign(new Error('no buildx'), { code: 'ENOENT' }) },
    ]) {
      const dir = scratchDir('step');
      const events: string[] = [];
      await assert.rejects(
        runBuild(params(dir, { daemon_timeout: 0.2 }), {
          ...deps(dir, timedBuildx(dir, events, 300, create)),
          probe: () => Promise.resolve(absent),
        }),
        (error: unknown) => {
          assert.ok(error instanceof StepError);
          assert.equal(error.code, 'DAEMON_UNREACHABLE');
          assert.match(error.message, /did not answer within 0\.2 s/);
          return true;
        },
      );
      assert.deepEqual(events, ['create started unix:///nowhere.sock', 'create done'], 'cleanup waited for the create');
    }
  });

  test('a daemon that never answers stops a buildx create still running: the step does not wait for it', async () => {
    const dir = scratchDir('step');
    let stopped = false;
    // Like buildx create against a tcp:// endpoint that accepts and never answers: 20 s, unless stopped.
    const runner: Runner = (_bin, _args, options) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ exitCode: 0, tail: [] }), 20_000);
        options.signal?.addEventListener('abort', () => {
          stopped = true;
          clearTimeout(timer);
          resolve({ exitCode: 1, tail: [] });
        });
      });
    const started = Date.now();
    await assert.rejects(
      runBuild(params(dir, { daemon_timeout: 0.2 }), { ...deps(dir, runner), probe: () => Promise.resolve(absent) }),
      (error: unknown) => error instanceof StepError && error.code === 'DAEMON_UNREACHABLE',
    );
    assert.ok(stopped, 'the create was stopped');
    assert.ok(Date.now() - started < 5000, `ended ${Date.now() - started} ms after it started`);
  });

  test('a daemon that answers and a failed buildx create: the create failure, before any build', async () => {
    const cases = [
      {
        create: { exitCode: 1, tail: ['ERROR: bad builder'] },
        code: 'INTERNAL',
        message: /buildx create failed \(exit 1\): ERROR: bad builder/,
      },
      {
        create: { exitCode: 1, tail: [], spawnError: Object.assign(new Error('no buildx'), { code: 'ENOENT' }) },
        code: 'BUILDX_MISSING',
        message: /cannot start buildx: ENOENT/,
      },
    ];
    for (const { create, code, message } of cases) {
      const dir = scratchDir('step');
      const events: string[] = [];
      await assert.rejects(
        runBuild(params(dir), deps(dir, timedBuildx(dir, events, 10, create))),
        (error: unknown) => error instanceof StepError && error.code === code && message.test(error.message),
      );
      assert.deepEqual(events, ['create started unix:///nowhere.sock', 'create done'], 'no build ran');
    }
  });

  test('with a fleet the builder is created after the pick, for the replica picked', async () => {
    const dir = scratchDir('step');
    const events: string[] = [];
    const probe = (endpoint: string) => {
      events.push(`probe ${endpoint}`);
      return Promise.resolve({ ok: true as const, workers: 1 });
    };
    const outcome = await runBuild(params(dir, { endpoints: ['tcp://10.0.0.1:1234', 'tcp://10.0.0.2:1234'] }), {
      ...deps(dir, timedBuildx(dir, events, 10)),
      probe,
    });
    const picked = outcome.summary.fleet?.endpoint;
    assert.ok(picked);
    assert.deepEqual(events.slice(-3), [`probe ${picked}`, `create started ${picked}`, 'create done']);
  });
});
