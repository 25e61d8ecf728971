// Picking a fleet replica with a scripted probe: first choice, moving on, TLS failures, none answering.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProbeResult, TlsMaterial } from '../../src/daemon/probe.js';
import { StepError } from '../../src/errors.js';
import { pickEndpoint } from '../../src/fleet/pick.js';
import { rankEndpoints } from '../../src/fleet/route.js';

const fleet = ['tcp://a:1234', 'tcp://b:1234', 'tcp://c:1234'];
const key = 'registry.example.com/team/app';
const order = rankEndpoints(fleet, key);
const up: ProbeResult = { ok: true, workers: 1 };
const refused = { ok: false, transient: true, reason: 'connect ECONNREFUSED', code: 'ECONNREFUSED' } as ProbeResult;
const badTls = {
  ok: false,
  transient: false,
  reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate',
  code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
} as ProbeResult;
/** What probeDaemon gives for a replica whose headless-Service name is not published (pod not ready). */
const unresolved = {
  ok: false,
  transient: true,
  reason: 'ENOTFOUND: getaddrinfo ENOTFOUND buildkitd-0.buildkitd.fleet.svc',
  code: 'ENOTFOUND',
} as ProbeResult;
/** A replica that refuses for a reason that is neither TLS nor transient. */
const denied = { ok: false, transient: false, reason: 'EACCES: permission denied', code: 'EACCES' } as ProbeResult;

function run(
  answers: Record<string, ProbeResult> | ((endpoint: string, call: number) => ProbeResult),
  tls?: TlsMaterial,
  timeoutMs = 150,
) {
  const lines: string[] = [];
  const probed: string[] = [];
  const picked = pickEndpoint({
    endpoints: fleet,
    routingKey: key,
    waitMs: 60,
    timeoutMs,
    tls,
    probe: (endpoint) => {
      probed.push(endpoint);
      return Promise.resolve(
        typeof answers === 'function' ? answers(endpoint, probed.length) : (answers[endpoint] ?? refused),
      );
    },
    log: (line) => lines.push(line),
  });
  return { picked, lines, probed };
}

describe('pickEndpoint', () => {
  test('the first choice answers: it builds, nothing skipped, nothing else probed', async () => {
    const { picked, lines, probed } = run({ [order[0]!]: up });
    assert.deepEqual(await picked, { endpoint: order[0], rank: 0, skipped: [], workers: 1, tries: 1 });
    assert.deepEqual([...new Set(probed)], [order[0]]);
    assert.deepEqual(lines, []);
  });

  test("the first choice is down: the next in the key's order builds, and the log says so", async () => {
    const { picked, lines } = run({ [order[1]!]: up, [order[2]!]: up });
    const result = await picked;
    assert.equal(result.endpoint, order[1]);
    assert.equal(result.rank, 1);
    assert.deepEqual(
      result.skipped.map((entry) => entry.endpoint),
      [order[0]],
    );
    assert.ok(
      lines.some((line) =>
        line.startsWith(
          `fleet: ${order[0]} (choice 1 for ${key}) did not answer within 0.06 s; moving on to ${order[1]}`,
        ),
      ),
      lines.join('\n'),
    );
    assert.ok(lines.some((line) => line.startsWith(`fleet: building on ${order[1]}, choice 2`)));
  });

  test('a TLS failure ends the pick at once (the same client certificate would fail everywhere)', async () => {
    const tls = { ca: Buffer.from('ca'), cert: Buffer.from('cert'), key: Buffer.from('key') } as TlsMaterial;
    const { picked, probed } = run({ [order[0]!]: badTls, [order[1]!]: up }, tls);
    await assert.rejects(picked, (error: unknown) => error instanceof StepError && error.code === 'DAEMON_TLS');
    assert.deepEqual([...new Set(probed)], [order[0]]);
  });

  test('an unresolvable first choice under TLS (a restarting replica): the next replica builds, not DAEMON_TLS', async () => {
    const tls = { ca: Buffer.from('ca'), cert: Buffer.from('cert'), key: Buffer.from('key') } as TlsMaterial;
    const { picked, lines } = run({ [order[0]!]: unresolved, [order[1]!]: up }, tls);
    const result = await picked;
    assert.equal(result.endpoint, order[1]);
    assert.deepEqual(
      result.skipped.map((entry) => entry.endpoint),
      [order[0]],
    );
    assert.ok(lines.some((line) => line.includes('ENOTFOUND')));
  });

  test('a first choice that fails for another reason under TLS: moved past, reported as unreachable, not TLS', async () => {
    const tls = { ca: Buffer.from('ca'), cert: Buffer.from('cert'), key: Buffer.from('key') } as TlsMaterial;
    const { picked } = run({ [order[0]!]: denied, [order[1]!]: up }, tls);
    assert.equal((await picked).endpoint, order[1]);
  });

  test('a fleet coming back: after a pass with no answer it goes round again, within the overall timeout', async () => {
    const started = Date.now();
    const { picked, lines } = run(
      (endpoint) => (endpoint === order[2] && Date.now() - started > 250 ? up : refused),
      undefined,
      5000,
    );
    const result = await picked;
    assert.equal(result.endpoint, order[2]);
    assert.deepEqual(
      result.skipped.map((entry) => entry.endpoint),
      [order[0], order[1]],
      'each replica passed over once in the summary',
    );
    assert.ok(
      lines.some((line) => line.includes(`; moving on to ${order[0]}`)),
      'from the last choice back to the first',
    );
  });

  test('none answers: DAEMON_UNREACHABLE naming every replica', async () => {
    const { picked } = run({});
    await assert.rejects(
      picked,
      (error: unknown) =>
        error instanceof StepError &&
        error.code === 'DAEMON_UNREACHABLE' &&
        fleet.every((endpoint) => error.message.includes(endpoint)),
    );
  });
});
