// Sticky routing over a fleet of three real buildkitd replicas on TCP with mutual TLS: a
// repository keeps its replica (and its cache), a replica that is down is passed over for the
// next one in the key's order, and repositories spread over the replicas as the pure function says.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rankEndpoints } from '../../src/fleet/route.js';
import { startBuildkitd, type Buildkitd } from '../bed/buildkitd.js';
import { freePort } from '../bed/registry.js';
import { daemonTls, makeTlsFiles, type TlsFiles } from '../bed/tls.js';
import { bedSuite, type StepRun } from './suite.js';

const suite = bedSuite('fleet');
const { work, check } = suite;

const REPLICAS = 3;
let tls: TlsFiles;
const replicas: Buildkitd[] = [];
const endpoints = () => replicas.map((replica) => replica.endpoint);

type Fleet = { endpoint: string; rank: number; skipped: string[] };
const fleetOf = (run: StepRun) => run.summary.fleet as Fleet;

/** A step against the fleet: the endpoint list, the client certificate Secret, a short wait per replica. */
function fleetStep(
  name: string,
  image: string,
  files: Record<string, string>,
  extra: Record<string, unknown> = {},
): Promise<StepRun> {
  const tlsDir = path.join(work, name, 'tls');
  cpSync(tls.client.dir, tlsDir, { recursive: true });
  const params = {
    image,
    tags: ['1'],
    endpoints: endpoints(),
    tls_dir: tlsDir,
    tls_server_name: tls.servername,
    endpoint_wait: 1,
    ...extra,
  };
  return suite.step(name, files, params, { env: { PARAM_ENDPOINT: '' } });
}

/** The builds a replica ran, from its own history (buildctl debug histories). */
function history(replica: Buildkitd): string[] {
  const out = execFileSync(
    suite.bed.tools.buildctl,
    [
      '--addr',
      replica.endpoint,
      '--tlscacert',
      tls.client.ca,
      '--tlscert',
      tls.client.cert,
      '--tlskey',
      tls.client.key,
      '--tlsservername',
      tls.servername,
      'debug',
      'histories',
      '--format',
      '{{json .}}',
    ],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter((line) => line.trim() !== '');
}

/** A build whose RUN step is new to every replica unless `run` repeats (then a replica that ran it has it cached). */
const context = (marker: string, run = randomUUID()) => ({
  Dockerfile: `FROM ${suite.bed.busybox}\nRUN echo ${run} && cat /proc/sys/kernel/random/uuid > /id\nCOPY app.txt /app.txt\n`,
  'app.txt': marker,
});

describe('sticky routing over 3 replicas (TCP + mutual TLS)', () => {
  before(async () => {
    tls = makeTlsFiles(path.join(work, 'pki'));
    for (let n = 0; n < REPLICAS; n++) {
      replicas.push(
        await startBuildkitd(suite.bed.tools, {
          dir: path.join(work, `replica-${n}`),
          tcpAddress: `tcp://127.0.0.1:${await freePort()}`,
          tls: daemonTls(tls),
        }).catch((error: Error) => {
          throw new Error(`fleet replica ${n} (TCP + mTLS) did not start: ${error.message}`, { cause: error });
        }),
      );
    }
  });
  after(async () => {
    for (const replica of replicas) await replica.stop();
  });

  test('8 builds of 4 repositories land where the pure function says, on more than one replica', async () => {
    // Ports are random, so the hash order differs per run: take the first names that the
    // function spreads over every replica, then prove the real builds land exactly there.
    const names: string[] = [];
    const covered = new Set<string>();
    for (let i = 0; names.length < 4; i++) {
      const image = `fleet/spread-${i}`;
      const first = rankEndpoints(endpoints(), image)[0]!;
      if (covered.size < REPLICAS && covered.has(first)) continue;
      names.push(image);
      covered.add(first);
    }
    const before = replicas.map((replica) => history(replica).length);
    const runs: Array<{ image: string; run: StepRun }> = [];
    // Two at a time: 8 builds, gentle on a shared machine.
    const jobs = [...names, ...names].map((image, index) => ({ image, index }));
    for (let at = 0; at < jobs.length; at += 2) {
      const pair = jobs.slice(at, at + 2);
      runs.push(
        ...(await Promise.all(
          pair.map(async ({ image, index }) => ({
            image,
            run: await fleetStep(`spread-${index}`, image, context(`${image} ${index}`)),
          })),
        )),
      );
    }
    const grew = replicas.map((replica, n) => history(replica).length - before[n]!);
    check(() => {
      for (const { image, run } of runs) {
        assert.equal(run.exitCode, 0, run.stderr);
        assert.equal(fleetOf(run).endpoint, rankEndpoints(endpoints(), image)[0], `${image} built on its first choice`);
        assert.equal(fleetOf(run).rank, 0);
      }
      const used = new Set(runs.map(({ run }) => fleetOf(run).endpoint));
      assert.ok(used.size > 1, `more than one replica used: ${[...used].join(', ')}`);
      const expected = replicas.map(
        (replica) => runs.filter(({ run }) => fleetOf(run).endpoint === replica.endpoint).length,
      );
      assert.deepEqual(grew, expected, "each replica's own build history grew by the builds routed to it");
    });
  });

  test('two builds of one repository land on the same replica; the second is cached', async () => {
    const image = 'fleet/sticky';
    const run = randomUUID();
    const first = await fleetStep('sticky-1', image, context('one', run));
    const second = await fleetStep('sticky-2', image, context('one', run));
    check(() => {
      assert.equal(first.exitCode, 0, first.stderr);
      assert.equal(second.exitCode, 0, second.stderr);
      assert.equal(fleetOf(first).endpoint, rankEndpoints(endpoints(), image)[0]);
      assert.equal(fleetOf(second).endpoint, fleetOf(first).endpoint);
      const runCached = new RegExp(`#(\\d+) \\[2/3\\] RUN echo ${run} [^\\n]*\\n#\\1 CACHED`);
      assert.doesNotMatch(first.stderr, runCached, 'the first build ran its RUN step');
      assert.match(second.stderr, runCached, "the second took it from the replica's own cache");
      assert.ok((second.summary.cachedSteps as number) > (first.summary.cachedSteps as number));
    });
  });

  test("the repository's replica is down: the next one in its order builds, and the log and summary say so", async () => {
    const image = 'fleet/sticky';
    const order = rankEndpoints(endpoints(), image);
    const down = replicas.find((replica) => replica.endpoint === order[0])!;
    await down.stop();
    const run = await fleetStep('failover', image, context('one'));
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      assert.deepEqual(fleetOf(run), { endpoint: order[1], rank: 1, skipped: [order[0]] });
      assert.match(
        run.stderr,
        new RegExp(
          `fleet: ${order[0]!.replaceAll('.', '\\.')} \\(choice 1 for fleet/sticky\\) did not answer within 1 s; moving on to ${order[1]!.replaceAll('.', '\\.')}`,
        ),
      );
      assert.match(run.stderr, /fleet: building on \S+, choice 2 for fleet\/sticky/);
    });
  });
});
