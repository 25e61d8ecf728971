// What the step leaves behind, and how it fails: results, the size guard, retries, commands.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ERROR_CODES } from '../../src/errors.js';
import { paramKeys, paramsSchema } from '../../src/params/schema.js';
import { isManifestPut, startFlakyProxy } from '../bed/flaky-proxy.js';
import { manifestDigest } from '../bed/registry-client.js';
import { fakeBuildx, REPO, runCli } from '../helpers.js';
import { bedSuite } from './suite.js';

const suite = bedSuite('results');
const { work, check } = suite;

const step = suite.step;

const scratch = { Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'results' };

describe('results', () => {
  test('a push: every result exact, in the results dir and at per-result paths (StepAction style), no trailing newline', async () => {
    const host = suite.bed.registry.host;
    const stepResults = path.join(work, 'push', 'step-results');
    const resultPaths = Object.fromEntries(
      ['IMAGE_DIGEST', 'IMAGE_URL', 'IMAGE_REF', 'IMAGES', 'ARTIFACT_OUTPUTS'].map((name) => [
        name,
        path.join(stepResults, name),
      ]),
    );
    const run = await step('push', scratch, {
      image: `${host}/team/results`,
      tags: ['v1', 'latest'],
      push: true,
      result_paths: resultPaths,
    });
    const pushed = await Promise.all(['v1', 'latest'].map((tag) => manifestDigest(host, 'team/results', tag)));
    const written: Record<string, string> = { ...run.results };
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      const digest = run.results.IMAGE_DIGEST!;
      assert.deepEqual(pushed, [digest, digest], 'the registry has IMAGE_DIGEST for every tag');
      assert.deepEqual(run.results, {
        IMAGE_DIGEST: digest,
        IMAGE_URL: `${host}/team/results:v1`,
        IMAGE_REF: `${host}/team/results@${digest}`,
        IMAGES: `${host}/team/results:v1@${digest},${host}/team/results:latest@${digest}`,
        ARTIFACT_OUTPUTS: JSON.stringify({ uri: `${host}/team/results`, digest, isBuildArtifact: 'true' }),
      });
      for (const [name, file] of Object.entries(resultPaths)) assert.equal(readFileSync(file, 'utf8'), written[name]);
      assert.deepEqual(
        readdirSync(path.join(run.dir, 'results')).filter((name) => name.startsWith('.')),
        [],
        'no temp files left',
      );
      assert.equal(run.summary.status, 'succeeded');
      assert.equal(run.summary.digest, digest);
      assert.equal(run.summary.attempts, 1);
      assert.deepEqual(run.summary.pushed, [`${host}/team/results:v1`, `${host}/team/results:latest`]);
      assert.equal(typeof run.summary.durationMs, 'number');
      assert.equal(run.stdout.trim().split('\n').length, 1, 'stdout is the one JSON summary line; logs go to stderr');
    });
  });

  test('the size guard: results over results_max_bytes fail with RESULTS_TOO_LARGE before the build: nothing pushed, no image result', async () => {
    const run = await step('too-large', scratch, {
      image: `${suite.bed.registry.host}/team/large`,
      tags: ['v1', 'v2', 'v3'],
      push: true,
      results_max_bytes: 400,
    });
    const pushed = await Promise.all(
      ['v1', 'v2', 'v3'].map((tag) => manifestDigest(suite.bed.registry.host, 'team/large', tag)),
    );
    check(() => {
      assert.deepEqual(pushed, [undefined, undefined, undefined], 'no tag reached the registry');
      assert.doesNotMatch(run.stderr, /BuildKit daemon .* answers/, 'refused before waiting for the daemon');
      assert.equal(run.summary.attempts, 0);
      assert.equal(run.exitCode, 23, run.stderr);
      assert.deepEqual(Object.keys(run.results).sort(), ['ERROR_MESSAGE', 'ERROR_REASON']);
      assert.equal(run.results.ERROR_REASON, 'RESULTS_TOO_LARGE');
      assert.match(run.results.ERROR_MESSAGE!, /over results_max_bytes=400; the largest is IMAGES/);
      assert.equal(run.summary.status, 'failed');
      assert.equal(run.summary.code, 'RESULTS_TOO_LARGE');
    });
  });
});

describe('retries', () => {
  test('a registry that answers 503 to the first pushes: the step retries and succeeds, and says so', async () => {
    // BuildKit retries one failed request itself (8 tries in all); failing 8 manifest PUTs
    // makes the first buildx attempt fail for certain and the second one pass.
    const proxy = await startFlakyProxy(suite.bed.registry.host, { failFirst: 8, match: isManifestPut('1') });
    try {
      const run = await step('retry', scratch, {
        image: `${proxy.host}/team/flaky`,
        tags: ['1'],
        push: true,
        retries: 2,
      });
      const pushed = await manifestDigest(suite.bed.registry.host, 'team/flaky', '1');
      check(() => {
        assert.equal(run.exitCode, 0, run.stderr);
        assert.equal(proxy.failures(), 8);
        assert.match(run.stderr, /transient failure \(PUSH_FAILED\), retrying \(attempt 2 of 3\)/);
        assert.equal(run.summary.attempts, 2);
        assert.equal(pushed, run.results.IMAGE_DIGEST);
      });
    } finally {
      await proxy.close();
    }
  });

  test('a failing RUN is tried exactly once', async () => {
    const run = await step(
      'no-retry',
      { Dockerfile: `FROM ${suite.bed.busybox}\nRUN echo "HTTP 503 Service Unavailable" && exit 7\n` },
      { image: 'e2e/no-retry', tags: ['1'], retries: 5 },
    );
    check(() => {
      assert.equal(run.exitCode, 20, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'BUILD_FAILED');
      assert.match(run.results.ERROR_MESSAGE!, /attempt 1\).*exit code: 7/s);
      assert.equal(run.stderr.match(/^#0 building with/gm)?.length, 1, 'one buildx build');
      assert.equal(run.summary.attempts, 1, 'the failure summary counts attempts');
      assert.doesNotMatch(run.stderr, /retrying/);
    });
  });
});

describe('failures', () => {
  test('buildx missing: BUILDX_MISSING', async () => {
    const run = await step(
      'no-buildx',
      scratch,
      { image: 'e2e/x', tags: ['1'] },
      { env: { BUILDKIT_STEP_BUILDX: path.join(work, 'no', 'buildx') } },
    );
    check(() => {
      assert.equal(run.exitCode, ERROR_CODES.BUILDX_MISSING.exit, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'BUILDX_MISSING');
    });
  });

  test('SIGTERM mid-build: INTERRUPTED, buildx stopped, secret files gone', async () => {
    let signalled = false;
    const run = await step(
      'interrupt',
      { Dockerfile: `FROM ${suite.bed.busybox}\nRUN --mount=type=secret,id=s echo started && sleep 60\n` },
      { image: 'e2e/interrupt', tags: ['1'], secrets: [{ key: 's', value: 'interrupt-secret' }] },
      {
        onStderr: (stderr, child) => {
          if (!signalled && /\n#\d+ \d+\.\d+ started/.test(stderr)) {
            signalled = true;
            child.kill('SIGTERM');
          }
        },
      },
    );
    check(() => {
      assert.ok(signalled, 'the RUN step started');
      assert.equal(run.exitCode, 130, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'INTERRUPTED');
      assert.ok(run.ms < 30_000, `stopped promptly (${run.ms} ms), not after the 60 s RUN`);
      const state = path.join(run.dir, 'state');
      assert.deepEqual(existsSync(state) ? readdirSync(state).filter((name) => name.startsWith('private-')) : [], []);
    });
  });
});

describe('failures before the build', () => {
  test('invalid params: ERROR_REASON still reaches the per-result paths (a StepAction has no other results)', async () => {
    const paths = {
      ERROR_REASON: path.join(work, 'early', 'step', 'ERROR_REASON'),
      ERROR_MESSAGE: path.join(work, 'early', 'step', 'ERROR_MESSAGE'),
    };
    const run = await runCli({
      resultsDir: path.join(work, 'early', 'scratch'),
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '[latest', PARAM_RESULT_PATHS: JSON.stringify(paths) },
    });
    check(() => {
      assert.equal(run.exitCode, 2, run.stderr);
      assert.equal(readFileSync(paths.ERROR_REASON, 'utf8'), 'PARAMS_INVALID');
      assert.match(readFileSync(paths.ERROR_MESSAGE, 'utf8'), /PARAM_TAGS: expected JSON/);
    });
  });

  test('an OCI layout under a path that cannot be a directory: OUTPUT_UNWRITABLE before any daemon wait or build', async () => {
    const fake = fakeBuildx(path.join(work, 'unwritable-bin'));
    const run = await step(
      'unwritable',
      scratch,
      {
        image: 'e2e/x',
        tags: ['1'],
        oci_layout: '/dev/null/layout',
        endpoint: 'unix:///nonexistent/buildkitd.sock',
        daemon_timeout: 60,
      },
      { env: { BUILDKIT_STEP_BUILDX: fake.bin } },
    );
    check(() => {
      assert.equal(run.exitCode, 25, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'OUTPUT_UNWRITABLE');
      assert.match(run.results.ERROR_MESSAGE!, /^oci_layout: cannot write to \/dev\/null/);
      assert.ok(run.ms < 10_000, `failed at once (${run.ms} ms), not after the 60 s daemon timeout`);
      assert.equal(fake.ran(), false);
    });
  });

  test('SIGTERM while waiting for the daemon: INTERRUPTED at once, not at the end of daemon_timeout', async () => {
    let signalled = false;
    const run = await step(
      'interrupt-wait',
      scratch,
      { image: 'e2e/x', tags: ['1'], endpoint: `unix://${work}/never/buildkitd.sock`, daemon_timeout: 120 },
      {
        onStderr: (stderr, child) => {
          if (!signalled && stderr.includes('waiting for BuildKit daemon')) {
            signalled = true;
            child.kill('SIGTERM');
          }
        },
      },
    );
    check(() => {
      assert.equal(run.exitCode, 130, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'INTERRUPTED');
      assert.ok(run.ms < 10_000, `stopped after ${run.ms} ms`);
    });
  });
});

describe('commands', () => {
  const params = {
    BUILDKIT_STEP_PARAMS: JSON.stringify({
      image: 'r.example.com/a/b',
      tags: ['1'],
      secrets: [{ key: 'tok', value: 'print-argv-secret' }],
    }),
  };

  test('validate: exit 0 with resolved params (secrets hidden); the params code on bad input', async () => {
    const quoted = {
      BUILDKIT_STEP_PARAMS: JSON.stringify({
        image: 'r.example.com/a/b',
        tags: ['1'],
        secrets: [
          { key: 'tok', value: 'print-argv-secret' },
          { key: 'q', value: 'with "quotes" and \\ backslash' },
        ],
      }),
    };
    const ok = await runCli({ args: ['validate'], resultsDir: path.join(work, 'validate'), env: quoted });
    const bad = await runCli({
      args: ['validate'],
      resultsDir: path.join(work, 'validate-bad'),
      env: { PARAM_TAGS: '[]' },
    });
    check(() => {
      assert.equal(ok.exitCode, 0, ok.stderr);
      const out = JSON.parse(ok.stdout) as { valid: boolean; params: { tags: string[]; daemon_timeout: number } };
      assert.equal(out.valid, true);
      assert.equal(out.params.daemon_timeout, 120);
      assert.ok(!ok.stdout.includes('print-argv-secret'));
      assert.ok(!ok.stdout.includes('quotes'), 'a secret with quotes and backslashes is hidden too');
      assert.equal(bad.exitCode, 2);
      assert.equal((JSON.parse(bad.stdout) as { code: string }).code, 'PARAMS_INVALID');
      assert.deepEqual(ok.results, {}, 'validate writes no results');
    });
  });

  test('print-argv: the exact argv the build runs, without running or writing anything', async () => {
    const fake = fakeBuildx(path.join(work, 'argv-bin'));
    const env = {
      ...params,
      BUILDKIT_STEP_BUILDX: fake.bin,
      PARAM_ENDPOINT: suite.bed.buildkitd.endpoint,
      BUILDKIT_STEP_STATE_DIR: path.join(work, 'argv-state'),
    };
    const printed = await runCli({ args: ['print-argv'], resultsDir: path.join(work, 'argv-results'), env });
    check(() => {
      assert.equal(printed.exitCode, 0, printed.stderr);
      assert.equal(fake.ran(), false);
      assert.equal(existsSync(path.join(work, 'argv-state')), false, 'nothing written');
      assert.ok(!printed.stdout.includes('print-argv-secret'));
    });
    const plan = JSON.parse(printed.stdout) as { create: string[]; build: string[] };
    // The real run with the recording buildx: same argv but for the random private dir name.
    await runCli({ resultsDir: path.join(work, 'argv-results-2'), env });
    const recorded = readFileSync(path.join(work, 'argv-bin', 'ran'), 'utf8')
      .trim()
      .split('\n');
    const normalize = (line: string) => line.replace(/private-[A-Za-z0-9]{6}/g, 'private-*');
    check(() => {
      assert.doesNotMatch(
        fake.env(),
        /^(PARAM_|BUILDKIT_STEP_PARAMS=)/m,
        'buildx does not inherit the params (they may hold secrets)',
      );
      assert.ok(!fake.env().includes('print-argv-secret'));
      assert.equal(normalize(recorded[0]!), normalize(plan.create.join(' ')));
      assert.equal(normalize(recorded[1]!), normalize(plan.build.join(' ')));
      assert.ok(plan.build.includes('--secret'));
    });
  });

  test('schema prints the params schema; --help lists every param with its flag and env var', async () => {
    const schema = await runCli({ args: ['schema'], resultsDir: path.join(work, 'schema') });
    const help = await runCli({ args: ['--help'], resultsDir: path.join(work, 'help') });
    check(() => {
      assert.equal(schema.exitCode, 0);
      assert.deepEqual(
        JSON.parse(schema.stdout),
        JSON.parse(readFileSync(path.join(REPO, 'schemas', 'params.schema.json'), 'utf8')),
      );
      assert.equal(help.exitCode, 0);
      for (const key of paramKeys(paramsSchema())) {
        assert.ok(help.stdout.includes(`--${key.replaceAll('_', '-')}`), `--help lists --${key}`);
        assert.ok(
          help.stdout.replace(/\s+/g, ' ').includes(`PARAM_${key.toUpperCase()}`),
          `--help lists PARAM_${key.toUpperCase()}`,
        );
      }
      for (const command of ['build', 'validate', 'print-argv', 'schema']) assert.ok(help.stdout.includes(command));
    });
  });
});
