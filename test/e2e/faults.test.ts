// The step under faults, against the real buildx, buildkitd and registry: a daemon killed or
// restarted, SIGTERM, a registry that is down or failing, a socket it may not use, an endpoint that
// never answers, a full or read-only results dir. Every case passes a secret and proves that the
// step ends with the right code, leaves no secret file and no process of its own behind.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBuildkitd, type Buildkitd } from '../bed/buildkitd.js';
import { isPush, startFlakyProxy } from '../bed/flaky-proxy.js';
import { secretLeftovers, stepMarker, survivors, untilGone, type Marker, type Survivor } from '../bed/leftovers.js';
import { freePort, startRegistry } from '../bed/registry.js';
import { manifestDigest } from '../bed/registry-client.js';
import type { CliOptions } from '../helpers.js';
import { bedSuite, type StepRun } from './suite.js';

const suite = bedSuite('faults');
const { work, check } = suite;

type FaultRun = StepRun & { secrets: string[]; marker: Marker; left: Survivor[]; figures: Record<string, number> };

/** The figures of a case, for the record (after its assertions passed); `results` where the run's own dir does not hold them. */
const report = (name: string, run: FaultRun, results: Record<string, string> = run.results) =>
  process.stderr.write(
    `fault ${name}: exit ${run.exitCode}, ${results.ERROR_REASON ?? (run.exitCode === 0 ? 'success' : 'no ERROR_REASON')}, ${run.ms} ms ${JSON.stringify(run.figures)}${results.ERROR_MESSAGE ? `\n  ERROR_MESSAGE: ${results.ERROR_MESSAGE}` : ''}\n`,
  );

/**
 * Runs the step with an inline secret and a mounted one (`secrets_dir`), and a unique marker in
 * its env; `left` is every process with the marker the moment the step has exited. `during` sees
 * stderr as it arrives, can signal the step, and fills in figures.
 */
async function faultStep(
  name: string,
  files: Record<string, string>,
  params: Record<string, unknown>,
  options: Partial<CliOptions> & {
    during?: (
      stderr: string,
      kill: (signal: NodeJS.Signals) => void,
      figures: Record<string, number>,
      marker: Marker,
    ) => void;
  } = {},
): Promise<FaultRun> {
  const marker = stepMarker();
  const secret = `fault-secret-${name}-${randomUUID()}`;
  const mounted = `fault-mounted-${name}-${randomUUID()}`;
  const secretsDir = path.join(work, `${name}-secret-mount`);
  mkdirSync(secretsDir, { recursive: true });
  writeFileSync(path.join(secretsDir, 'mounted'), mounted);
  chmodSync(secretsDir, 0o755);
  const figures: Record<string, number> = {};
  const { during, ...cliOptions } = options;
  const run = await suite.step(
    name,
    files,
    { secrets: [{ key: 's', value: secret }], secrets_dir: secretsDir, ...params },
    {
      ...cliOptions,
      env: { ...cliOptions.env, ...marker.env },
      onStderr: during ? (stderr, child) => during(stderr, (signal) => child.kill(signal), figures, marker) : undefined,
    },
  );
  const left = survivors(marker);
  return { ...run, secrets: [secret, mounted], marker, left, figures };
}

/** The assertions every case makes: exit code, ERROR_REASON, no secret anywhere, no survivor. */
function assertClean(
  run: FaultRun,
  expected: { exit: number; reason?: string; results?: Record<string, string> },
): void {
  assert.deepEqual(run.left, [], 'no process of the step survives it');
  assert.equal(run.exitCode, expected.exit, run.stderr);
  const results = expected.results ?? run.results;
  assert.equal(results.ERROR_REASON, expected.reason);
  // The step's TMPDIR, state dir and results dir are all under run.dir; the mounted secret lives elsewhere.
  assert.deepEqual(secretLeftovers([run.dir], run.secrets), [], 'no secret file left');
  for (const text of [run.stdout, run.stderr])
    assert.ok(!run.secrets.some((secret) => text.includes(secret)), 'no secret value in the output');
}

const scratch = { Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'faults' };
/** A RUN that mounts both secrets, prints `started`, then runs for `seconds`; `id` makes it miss the cache of other runs. */
const slowRun = (seconds: number, id = '') => ({
  Dockerfile: `FROM ${suite.bed.busybox}\n${id ? `ENV FAULT_RUN=${id}\n` : ''}RUN --mount=type=secret,id=s --mount=type=secret,id=mounted echo started && sleep ${seconds}\n`,
});
const startedLine = /\n#\d+ \d+\.\d+ started/;

describe('SIGTERM', () => {
  /** SIGTERM once the RUN printed `started`; measures until no buildx process of the step is left. */
  const sigtermMidRun = async (name: string, env: NodeJS.ProcessEnv = {}) => {
    let signalledAt = 0;
    let buildxGone: Promise<{ ms: number; left: unknown[] }> | undefined;
    let buildxSeen = false;
    const run = await faultStep(
      name,
      slowRun(60),
      { image: `e2e/${name}`, tags: ['1'] },
      {
        env,
        during: (stderr, kill, _figures, marker) => {
          if (signalledAt || !startedLine.test(stderr)) return;
          buildxSeen = survivors(marker).some((survivor) => /buildx/.test(survivor.command));
          signalledAt = Date.now();
          kill('SIGTERM');
          buildxGone = untilGone(marker, /buildx/, 20_000);
        },
      },
    );
    const ended = Date.now();
    const gone = await buildxGone;
    run.figures.buildxGoneMs = gone?.ms ?? -1;
    run.figures.exitAfterSignalMs = ended - signalledAt;
    check(() => {
      assert.ok(signalledAt, 'the RUN step started');
      assert.ok(buildxSeen, 'buildx ran when the signal came');
      assertClean(run, { exit: 130, reason: 'INTERRUPTED' });
      assert.deepEqual(gone?.left, [], `buildx was still running ${gone?.ms} ms after SIGTERM`);
      assert.ok(gone.ms < 10_000, `buildx gone ${gone.ms} ms after SIGTERM`);
    });
    report(name, run);
  };

  test('mid-RUN: exit 130 INTERRUPTED, buildx gone within seconds, secret files removed', () =>
    sigtermMidRun('sigterm'));

  test('mid-RUN with buildx behind a wrapper script that forwards no signal: buildx is stopped all the same', async () => {
    const wrapper = path.join(work, 'wrapper-bin', 'buildx');
    mkdirSync(path.dirname(wrapper), { recursive: true });
    // No `exec`: the shell stays buildx's parent, and dies of SIGTERM without passing it on.
    writeFileSync(wrapper, `#!/bin/sh\n'${suite.bed.tools.buildx}' "$@"\n`, { mode: 0o755 });
    await sigtermMidRun('sigterm-wrapper', { BUILDKIT_STEP_BUILDX: wrapper });
  });
});

describe('endpoints that cannot be used', () => {
  test('a TCP endpoint that accepts and never answers: DAEMON_UNREACHABLE at daemon_timeout, naming the endpoint', async () => {
    const held: net.Socket[] = [];
    const server = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      const run = await faultStep('silent-tcp', scratch, {
        image: 'e2e/silent',
        tags: ['1'],
        endpoint,
        daemon_timeout: 3,
      });
      check(() => {
        assertClean(run, { exit: 10, reason: 'DAEMON_UNREACHABLE' });
        assert.ok(held.length >= 1, 'the step did connect');
        assert.match(
          run.results.ERROR_MESSAGE!,
          new RegExp(`${endpoint.replace(/\./g, '\\.')} did not answer within 3 s .*no answer within`),
        );
        assert.ok(run.ms < 15_000, `ended ${run.ms} ms after it started, soon after the 3 s daemon_timeout`);
      });
      run.figures.connections = held.length;
      report('silent-tcp', run);
    } finally {
      for (const socket of held) socket.destroy();
      server.close();
    }
  });

  /** The step as uid 1000 without groups, its own dirs belonging to that uid. */
  const asUser = (name: string) => {
    chmodSync(work, 0o755);
    for (const dir of ['tmp', 'state', 'results']) {
      mkdirSync(path.join(work, name, dir), { recursive: true });
      chownSync(path.join(work, name, dir), 1000, 1000);
    }
    return { wrap: ['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups'] };
  };

  test('a root 0600 socket in a dir anyone may enter, step as uid 1000: DAEMON_UNREACHABLE with EACCES after the 2 s grace', async () => {
    // A listening unix socket of our own: the daemon behind it does not matter, connect() is refused first.
    const dir = path.join(work, 'open-socket-dir');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const socket = path.join(dir, 'buildkitd.sock');
    const server = net.createServer((connection) => connection.destroy());
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    chmodSync(socket, 0o600);
    try {
      const run = await faultStep(
        'eacces-socket',
        scratch,
        { image: 'e2e/eacces', tags: ['1'], endpoint: `unix://${socket}`, daemon_timeout: 60 },
        asUser('eacces-socket'),
      );
      check(() => {
        assertClean(run, { exit: 10, reason: 'DAEMON_UNREACHABLE' });
        assert.match(
          run.results.ERROR_MESSAGE!,
          new RegExp(`^BuildKit daemon at unix://${socket} cannot be reached: EACCES`),
        );
        assert.ok(run.ms < 10_000, `failed in ${run.ms} ms, not after the 60 s daemon_timeout`);
      });
      report('eacces-socket', run);
    } finally {
      server.close();
    }
  });

  test('a socket that the daemon opens up while the step waits (chmod after create), step as uid 1000: EACCES waited out, success', async () => {
    // The bed daemon behind a socket of our own, which starts root 0600 like a socket buildkitd
    // has created but not yet chmodded; it is opened up once the step has met EACCES.
    const dir = path.join(work, 'late-chmod-dir');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const socket = path.join(dir, 'buildkitd.sock');
    const upstream = new URL(suite.bed.buildkitd.endpoint).pathname;
    const server = net.createServer((connection) => {
      const daemon = net.connect(upstream);
      connection.pipe(daemon).pipe(connection);
      connection.on('error', () => daemon.destroy());
      daemon.on('error', () => connection.destroy());
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    chmodSync(socket, 0o600);
    // This step goes on to build, so uid 1000 needs a buildx it may run (the bed's is under root's home).
    const buildx = path.join(work, 'eacces-late-chmod', 'buildx');
    mkdirSync(path.dirname(buildx), { recursive: true });
    copyFileSync(suite.bed.tools.buildx, buildx);
    chmodSync(buildx, 0o755);
    let openedAt: number | undefined;
    try {
      const run = await faultStep(
        'eacces-late-chmod',
        scratch,
        { image: 'e2e/late-chmod', tags: ['1'], endpoint: `unix://${socket}`, daemon_timeout: 60 },
        {
          ...asUser('eacces-late-chmod'),
          env: { BUILDKIT_STEP_BUILDX: buildx },
          during: (stderr) => {
            if (openedAt === undefined && /waiting for BuildKit daemon at .*EACCES/.test(stderr)) {
              chmodSync(socket, 0o666);
              openedAt = Date.now();
            }
          },
        },
      );
      check(() => {
        assert.ok(openedAt !== undefined, 'the step met EACCES first');
        assertClean(run, { exit: 0 });
        assert.match(run.results.IMAGE_DIGEST!, /^sha256:[0-9a-f]{64}$/);
      });
      report('eacces-late-chmod', run);
    } finally {
      server.close();
    }
  });

  test("the bed daemon's socket (root 0660 in a root-only dir), step as uid 1000: DAEMON_UNREACHABLE with EACCES after the 2 s grace", async () => {
    const socket = new URL(suite.bed.buildkitd.endpoint).pathname;
    const socketStats = statSync(socket);
    const dirMode = statSync(path.dirname(path.dirname(socket))).mode & 0o777;
    const run = await faultStep(
      'eacces-dir',
      scratch,
      { image: 'e2e/eacces', tags: ['1'], daemon_timeout: 60 },
      asUser('eacces-dir'),
    );
    run.figures.socketMode = socketStats.mode & 0o777;
    run.figures.bedDirMode = dirMode;
    check(() => {
      assert.equal(socketStats.uid, 0);
      assert.equal(socketStats.mode & 0o007, 0, 'others may not use the socket');
      assert.equal(dirMode & 0o007, 0, 'others may not enter its dir');
      assertClean(run, { exit: 10, reason: 'DAEMON_UNREACHABLE' });
      assert.match(run.results.ERROR_MESSAGE!, /cannot be reached: EACCES/);
      assert.ok(run.ms < 10_000, `failed in ${run.ms} ms, not after the 60 s daemon_timeout`);
    });
    report('eacces-dir', run);
  });
});

describe('a daemon that goes away', () => {
  // A daemon of these tests' own, killed by PID; in its own mount namespace so that the mounts of
  // a killed daemon go away with its last process, not into the host's mount table.
  const dir = path.join(work, 'own-daemon');
  const daemons: Buildkitd[] = [];
  const own = async () => {
    const daemon = await startBuildkitd(suite.bed.tools, {
      dir,
      wrap: ['unshare', '--mount', '--propagation', 'private'],
    });
    daemons.push(daemon);
    return daemon;
  };
  const kill = async (daemon: Buildkitd) => {
    process.kill(daemon.pid, 'SIGKILL');
    await daemon.exited;
  };
  after(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
  });

  test('killed mid-RUN and not back within daemon_timeout: DAEMON_UNREACHABLE saying the daemon was lost', async () => {
    const daemon = await own();
    let killedAt = 0;
    let killed: Promise<void> | undefined;
    const run = await faultStep(
      'daemon-killed',
      slowRun(6),
      { image: 'e2e/killed', tags: ['1'], endpoint: daemon.endpoint, daemon_timeout: 4, retries: 2 },
      {
        during: (stderr) => {
          if (killedAt || !startedLine.test(stderr)) return;
          killedAt = Date.now();
          killed = kill(daemon);
        },
      },
    );
    await killed;
    run.figures.exitAfterKillMs = Date.now() - killedAt;
    check(() => {
      assert.ok(killedAt, 'the RUN step started');
      assertClean(run, { exit: 10, reason: 'DAEMON_UNREACHABLE' });
      assert.match(run.results.ERROR_MESSAGE!, /lost/);
      assert.match(run.results.ERROR_MESSAGE!, new RegExp(`${daemon.endpoint}.*did not answer within 4 s`, 's'));
      assert.equal(run.stderr.match(/^#0 building with/gm)?.length, 1, 'no second build on a daemon that is not there');
      assert.ok(
        run.figures.exitAfterKillMs! >= 4000,
        `waited the whole daemon_timeout for it (${run.figures.exitAfterKillMs} ms)`,
      );
    });
    report('daemon-killed', run);
  });

  test('killed mid-RUN, then SIGTERM while the step waits for it again: INTERRUPTED at once', async () => {
    const daemon = await own();
    let killedAt = 0;
    let signalledAt = 0;
    const run = await faultStep(
      'daemon-killed-sigterm',
      slowRun(3),
      { image: 'e2e/killed-sigterm', tags: ['1'], endpoint: daemon.endpoint, daemon_timeout: 120, retries: 2 },
      {
        during: (stderr, signal) => {
          if (!killedAt && startedLine.test(stderr)) {
            killedAt = Date.now();
            void kill(daemon);
          }
          if (killedAt && !signalledAt && /waiting for BuildKit daemon at .*ECONNREFUSED/.test(stderr)) {
            signalledAt = Date.now();
            signal('SIGTERM');
          }
        },
      },
    );
    run.figures.exitAfterSignalMs = Date.now() - signalledAt;
    check(() => {
      assert.ok(signalledAt, 'the step waited for the lost daemon');
      assertClean(run, { exit: 130, reason: 'INTERRUPTED' });
      assert.ok(
        run.figures.exitAfterSignalMs! < 20_000,
        `ended ${run.figures.exitAfterSignalMs} ms after SIGTERM, not at the 120 s daemon_timeout`,
      );
    });
    report('daemon-killed-sigterm', run);
  });

  test('killed mid-RUN and restarted on the same socket: the step waits for it and succeeds on the next attempt', async () => {
    const daemon = await own();
    let killedAt = 0;
    let restarted: Promise<Buildkitd> | undefined;
    const run = await faultStep(
      'daemon-restarted',
      slowRun(3),
      { image: 'e2e/restarted', tags: ['1'], endpoint: daemon.endpoint, daemon_timeout: 60, retries: 2 },
      {
        during: (stderr, _kill, figures) => {
          if (!killedAt && startedLine.test(stderr)) {
            killedAt = Date.now();
            void kill(daemon);
          }
          // Restart only once the step is waiting for the daemon again.
          if (killedAt && !restarted && /waiting for BuildKit daemon at .*ECONNREFUSED/.test(stderr)) {
            figures.restartAfterKillMs = Date.now() - killedAt;
            restarted = own();
          }
        },
      },
    );
    await restarted;
    check(() => {
      assert.ok(killedAt, 'the RUN step started');
      assert.ok(restarted, 'the step waited for the daemon again');
      assertClean(run, { exit: 0 });
      assert.match(run.stderr, /transient failure \(DAEMON_UNREACHABLE\), retrying \(attempt 2 of 3\)/);
      assert.equal(run.summary.attempts, 2);
      assert.match(run.results.IMAGE_DIGEST!, /^sha256:[0-9a-f]{64}$/);
    });
    report('daemon-restarted', run);
  });

  test('gone before the step starts (its socket left behind) and restarted while the step waits: success', async () => {
    const daemon = daemons.at(-1)!;
    await kill(daemon);
    const socket = new URL(daemon.endpoint).pathname;
    assert.ok(existsSync(socket), 'the dead daemon left its socket');
    let restarted: Promise<Buildkitd> | undefined;
    const run = await faultStep(
      'daemon-late',
      scratch,
      { image: 'e2e/late', tags: ['1'], endpoint: daemon.endpoint, daemon_timeout: 60 },
      {
        during: (stderr) => {
          if (!restarted && /waiting for BuildKit daemon at .*ECONNREFUSED/.test(stderr))
            restarted = sleep(1000).then(own);
        },
      },
    );
    await restarted;
    check(() => {
      assert.ok(restarted, 'the step saw the dead socket first');
      assertClean(run, { exit: 0 });
      assert.ok(
        (run.summary.daemonWaitMs as number) >= 1000,
        `the step waited ${String(run.summary.daemonWaitMs)} ms for the new daemon`,
      );
    });
    run.figures.daemonWaitMs = run.summary.daemonWaitMs as number;
    report('daemon-late', run);
  });
});

describe('a registry that is down or failing', () => {
  test('cache export to a port with nothing listening: success, with a warning and cacheExportFailed', async () => {
    const host = suite.bed.registry.host;
    const dead = `127.0.0.1:${await freePort()}`;
    const run = await faultStep('cache-down', scratch, {
      image: `${host}/faults/cache-down`,
      tags: ['1'],
      push: true,
      cache_repo: `${dead}/team/cache`,
    });
    const pushed = await manifestDigest(host, 'faults/cache-down', '1');
    check(() => {
      assertClean(run, { exit: 0 });
      assert.equal(run.summary.cacheExportFailed, true);
      assert.match(run.stderr, new RegExp(`warning: the cache export failed, the image was built anyway .*${dead}`));
      assert.equal(pushed, run.results.IMAGE_DIGEST);
    });
    report('cache-down', run);
  });

  test('the cache registry stopped mid-build: success, with a warning; with cache_export_fatal a clear PUSH_FAILED', async () => {
    const host = suite.bed.registry.host;
    const runs: Record<string, FaultRun> = {};
    for (const fatal of [false, true]) {
      const name = fatal ? 'cache-stopped-fatal' : 'cache-stopped';
      const cache = await startRegistry(suite.bed.tools, { dir: path.join(work, `${name}-registry`) });
      let stopped: Promise<void> | undefined;
      try {
        runs[name] = await faultStep(
          name,
          slowRun(1, `${name}-${randomUUID()}`),
          {
            image: `${host}/faults/${name}`,
            tags: ['1'],
            push: true,
            cache_repo: `${cache.host}/team/cache`,
            cache_export_fatal: fatal,
            retries: 0,
          },
          {
            during: (stderr) => {
              if (!stopped && startedLine.test(stderr)) stopped = cache.stop();
            },
          },
        );
        await stopped;
        runs[name].figures.cacheRegistryStopped = stopped ? 1 : 0;
      } finally {
        await cache.stop();
      }
    }
    const lenient = runs['cache-stopped']!;
    const strict = runs['cache-stopped-fatal']!;
    const pushed = await manifestDigest(host, 'faults/cache-stopped', '1');
    check(() => {
      assert.equal(lenient.figures.cacheRegistryStopped, 1, 'the cache registry was stopped during the RUN');
      assertClean(lenient, { exit: 0 });
      assert.equal(lenient.summary.cacheExportFailed, true);
      assert.match(lenient.stderr, /warning: the cache export failed, the image was built anyway/);
      assert.equal(pushed, lenient.results.IMAGE_DIGEST);
      assert.equal(strict.figures.cacheRegistryStopped, 1, 'the cache registry was stopped during the RUN');
      assertClean(strict, { exit: 21, reason: 'PUSH_FAILED' });
      assert.match(strict.results.ERROR_MESSAGE!, /connection refused/);
    });
    report('cache-stopped', lenient);
    report('cache-stopped-fatal', strict);
  });

  test('cache export to a registry answering 503: success, with a warning and cacheExportFailed', async () => {
    const host = suite.bed.registry.host;
    const proxy = await startFlakyProxy(host, { failFirst: 1_000_000, match: isPush });
    try {
      const run = await faultStep('cache-503', scratch, {
        image: `${host}/faults/cache-503`,
        tags: ['1'],
        push: true,
        cache_to: [`type=registry,ref=${proxy.host}/team/cache:1`],
      });
      const pushed = await manifestDigest(host, 'faults/cache-503', '1');
      run.figures.injected503 = proxy.failures();
      check(() => {
        assertClean(run, { exit: 0 });
        assert.ok(proxy.failures() >= 1, 'the cache export reached the failing registry');
        assert.equal(run.summary.cacheExportFailed, true);
        assert.match(run.stderr, /warning: the cache export failed, the image was built anyway/);
        assert.equal(pushed, run.results.IMAGE_DIGEST);
      });
      report('cache-503', run);
    } finally {
      await proxy.close();
    }
  });

  test('a push to a registry answering 503 to every write: PUSH_FAILED after the configured retries, naming the registry', async () => {
    const proxy = await startFlakyProxy(suite.bed.registry.host, { failFirst: 1_000_000, match: isPush });
    try {
      const run = await faultStep('push-503', scratch, {
        image: `${proxy.host}/faults/push-503`,
        tags: ['1'],
        push: true,
        retries: 1,
      });
      run.figures.injected503 = proxy.failures();
      run.figures.builds = run.stderr.match(/^#0 building with/gm)?.length ?? 0;
      check(() => {
        assertClean(run, { exit: 21, reason: 'PUSH_FAILED' });
        assert.equal(run.figures.builds, 2, 'one try and one retry');
        assert.match(run.stderr, /transient failure \(PUSH_FAILED\), retrying \(attempt 2 of 2\)/);
        assert.match(run.results.ERROR_MESSAGE!, /attempt 2\)/);
        assert.ok(run.results.ERROR_MESSAGE!.includes(proxy.host), 'the message names the registry');
      });
      report('push-503', run);
    } finally {
      await proxy.close();
    }
  });

  test('a push to a port with nothing listening: PUSH_FAILED after the configured retries, naming the registry', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const run = await faultStep('push-down', scratch, {
      image: `${dead}/faults/push-down`,
      tags: ['1'],
      push: true,
      retries: 1,
    });
    run.figures.builds = run.stderr.match(/^#0 building with/gm)?.length ?? 0;
    check(() => {
      assertClean(run, { exit: 21, reason: 'PUSH_FAILED' });
      assert.equal(run.figures.builds, 2, 'one try and one retry');
      assert.ok(run.results.ERROR_MESSAGE!.includes(dead), 'the message names the registry');
    });
    report('push-down', run);
  });
});

describe('a results dir that cannot take the results', () => {
  /**
   * Runs the step with its results dir on a tmpfs of `options` (filled with `fill` bytes first) in
   * a private mount namespace, which dies with the step: nothing to unmount. What the step left
   * there is copied out before, into `left`.
   */
  const onTmpfs = async (
    name: string,
    mountOptions: string,
    fill: number,
    files: Record<string, string>,
    params: Record<string, unknown>,
  ) => {
    const results = path.join(work, name, 'results');
    const copy = path.join(work, name, 'left');
    mkdirSync(results, { recursive: true });
    mkdirSync(copy, { recursive: true });
    const script = [
      'results="$1"; copy="$2"; options="$3"; fill="$4"; shift 4',
      'mount -t tmpfs -o "$options" tmpfs "$results" || exit 99',
      'if [ "$fill" -gt 0 ]; then head -c "$fill" /dev/zero > "$results/filler"; fi',
      '"$@"; code=$?',
      'cp -a "$results/." "$copy/"',
      'exit $code',
    ].join('\n');
    const wrap = [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      results,
      copy,
      mountOptions,
      String(fill),
    ];
    const run = await faultStep(name, files, params, { wrap });
    const left = Object.fromEntries(
      readdirSync(copy).map((file) => [file, readFileSync(path.join(copy, file), 'utf8')]),
    );
    return { run, left };
  };
  const builds = (run: FaultRun) => run.stderr.match(/^#0 building with/gm)?.length ?? 0;

  test('read-only: RESULTS_UNWRITABLE (EROFS) before any build; ERROR_REASON still reaches a result path elsewhere', async () => {
    const elsewhere = path.join(work, 'results-ro', 'elsewhere', 'ERROR_REASON');
    const { run, left } = await onTmpfs('results-ro', 'ro,size=64k', 0, scratch, {
      image: 'e2e/ro',
      tags: ['1'],
      result_paths: { ERROR_REASON: elsewhere },
    });
    run.figures.builds = builds(run);
    check(() => {
      assertClean(run, {
        exit: 24,
        reason: 'RESULTS_UNWRITABLE',
        results: { ERROR_REASON: readFileSync(elsewhere, 'utf8') },
      });
      assert.match(
        run.stderr,
        /error RESULTS_UNWRITABLE: the results dir: cannot write to \S+ EROFS \(the file system is read-only\)/,
      );
      assert.equal(builds(run), 0, 'no build ran');
      assert.deepEqual(left, {});
    });
    report('results-ro', run, { ERROR_REASON: readFileSync(elsewhere, 'utf8') });
  });

  test('full: RESULTS_UNWRITABLE (ENOSPC) before any build, said on stderr and in the exit code; nothing written there', async () => {
    const { run, left } = await onTmpfs('results-full', 'size=4k', 4096, scratch, { image: 'e2e/full', tags: ['1'] });
    run.figures.builds = builds(run);
    check(() => {
      assertClean(run, { exit: 24, results: left });
      assert.match(
        run.stderr,
        /error RESULTS_UNWRITABLE: the results dir: cannot write to \S+ ENOSPC \(no space left on the device\)/,
      );
      assert.match(run.stderr, /also failed to write an error result: cannot write result \S+ERROR_REASON: ENOSPC/);
      assert.equal(run.summary.code, 'RESULTS_UNWRITABLE');
      assert.equal(builds(run), 0, 'no build ran');
      assert.deepEqual(Object.keys(left), ['filler'], 'no result, temp or probe file left');
    });
    report('results-full', run, left);
  });

  test('room for one file only: no subset of the image results, no truncated file; ERROR_REASON alone fits', async () => {
    // Pushed, so the step has five results to write (an unpushed build writes IMAGE_DIGEST alone, which would fit).
    const { run, left } = await onTmpfs('results-one-page', 'size=8k', 4096, scratch, {
      image: `${suite.bed.registry.host}/e2e/one-page`,
      tags: ['1'],
      push: true,
    });
    run.figures.builds = builds(run);
    check(() => {
      assertClean(run, { exit: 24, reason: 'RESULTS_UNWRITABLE', results: left });
      assert.equal(builds(run), 1, 'the build ran (the dir had room when it started)');
      assert.match(run.stderr, /error RESULTS_UNWRITABLE: cannot write result \S+IMAGE_\w+: ENOSPC/);
      assert.deepEqual(
        Object.keys(left).sort(),
        ['ERROR_REASON', 'filler'],
        'no IMAGE_* result without the others, no temp file',
      );
    });
    report('results-one-page', run, left);
  });
});
