// The core path end to end: the built CLI against the bed's real buildkitd, buildx and registry.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startBuildkitd } from '../bed/buildkitd.js';
import { imageManifests, layoutIndex, readImageFile } from '../bed/oci.js';
import { fakeBuildx, runCli, writeContext } from '../helpers.js';
import { bedSuite } from './suite.js';

const suite = bedSuite('build');
const { work, check } = suite;
const stepEnv = suite.env;

describe('build against a real buildkitd', () => {
  test('FROM scratch + COPY: IMAGE_DIGEST is the manifest digest in the OCI layout', async () => {
    const dir = path.join(work, 'scratch');
    const context = writeContext(path.join(dir, 'src'), {
      Dockerfile: 'FROM scratch\nCOPY hello.txt /hello.txt\n',
      'hello.txt': 'hello from buildkit-step\n',
    });
    const layout = path.join(dir, 'layout');
    const run = await runCli({
      // `build` named, as the Task and the WorkflowTemplate run it.
      args: ['build'],
      resultsDir: path.join(dir, 'results'),
      env: stepEnv({
        PARAM_IMAGE: 'example.com/team/hello',
        PARAM_TAGS: '["v1","latest"]',
        PARAM_CONTEXT: context,
        PARAM_OCI_LAYOUT: layout,
        PARAM_METADATA_FILE: path.join(dir, 'metadata.json'),
      }),
    });
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      const summary = JSON.parse(run.stdout) as { status: string; maxRssKiB: unknown };
      assert.equal(summary.status, 'succeeded');
      // The step's own peak RSS (Node alone, in KiB): a running Node process holds at least ~10 MiB.
      assert.ok(
        Number.isInteger(summary.maxRssKiB) && (summary.maxRssKiB as number) > 10 * 1024,
        `maxRssKiB ${String(summary.maxRssKiB)}`,
      );
      // One index.json entry per tag, all naming the same manifest.
      const index = layoutIndex(layout);
      assert.deepEqual(
        index.map((entry) => entry.annotations?.['org.opencontainers.image.ref.name']),
        ['v1', 'latest'],
      );
      assert.match(run.results.IMAGE_DIGEST ?? '', /^sha256:[a-f0-9]{64}$/);
      for (const entry of index) assert.equal(entry.digest, run.results.IMAGE_DIGEST);
      // Chains signs what IMAGE_URL + IMAGE_DIGEST name: an unpushed image is in no registry.
      assert.deepEqual(Object.keys(run.results), ['IMAGE_DIGEST'], 'only the digest for an unpushed build');
      const [manifest] = imageManifests(layout, index[0]!.digest);
      assert.equal(readImageFile(layout, manifest!, '/hello.txt'), 'hello from buildkit-step\n');
      assert.ok(existsSync(path.join(dir, 'metadata.json')));
    });
  });

  test('`build --help` prints the build help with every parameter, and runs nothing', async () => {
    const fake = fakeBuildx(path.join(work, 'help-buildx'));
    const run = await runCli({
      args: ['build', '--help'],
      resultsDir: path.join(work, 'help-results'),
      env: { BUILDKIT_STEP_BUILDX: fake.bin },
    });
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      assert.match(run.stdout, /Parameters:/);
      assert.match(run.stdout, /--cache-repo/);
      assert.equal(fake.ran(), false);
    });
  });

  test('RUN on the busybox base: a build arg reaches the RUN step, from env JSON and from a ConfigMap-style dir', async () => {
    const dir = path.join(work, 'run');
    const context = writeContext(path.join(dir, 'src'), {
      'docker/app.Dockerfile':
        'ARG BASE\nFROM $BASE AS base\nARG GREETING\nARG FROM_DIR\nRUN echo "greeting=$GREETING from_dir=$FROM_DIR" > /out.txt\nFROM base AS final\nRUN echo final > /final.txt\n',
    });
    writeContext(path.join(dir, 'args'), {
      // A file's one trailing newline (as kubectl create configmap --from-file writes it) is dropped.
      FROM_DIR: 'configmap value\n',
      GREETING: 'overridden by build_args',
      '..data': 'ignored',
    });
    const layout = path.join(dir, 'layout');
    const run = await runCli({
      resultsDir: path.join(dir, 'results'),
      env: stepEnv({
        BUILDKIT_STEP_PARAMS: JSON.stringify({
          image: `${suite.bed.registry.host}/team/run`,
          tags: ['t1'],
          context,
          dockerfile: 'docker/app.Dockerfile',
          target: 'base',
          build_args: [
            { key: 'BASE', value: suite.bed.busybox },
            { key: 'GREETING', value: 'hello, "world" = 1' },
          ],
          build_args_dir: path.join(dir, 'args'),
          oci_layout: layout,
        }),
      }),
    });
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      const [manifest] = imageManifests(layout, run.results.IMAGE_DIGEST!);
      assert.equal(
        readImageFile(layout, manifest!, 'out.txt'),
        'greeting=hello, "world" = 1 from_dir=configmap value\n',
      );
      // `ARG BASE` with no default in FROM draws a Dockerfile warning, which buildx colours even
      // into a pipe: the log has the warning without the codes, and no stray builder-name line.
      assert.match(run.stderr, /warning found/);
      assert.ok(!run.stderr.includes('\x1b'), 'no terminal control codes in a piped log');
      assert.ok(!run.stderr.split('\n').includes('buildkit-step'), "buildx create's name line is not shown");
      assert.throws(
        () => readImageFile(layout, manifest!, 'final.txt'),
        /in no layer/,
        'target=base must stop before the final stage',
      );
    });
  });

  test('the step waits for a daemon that starts a few seconds after it', async () => {
    const dir = path.join(work, 'late');
    const daemonDir = path.join(dir, 'daemon');
    const context = writeContext(path.join(dir, 'src'), { Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'late' });
    let late: Awaited<ReturnType<typeof startBuildkitd>> | undefined;
    const starting = new Promise<void>((resolve) => setTimeout(resolve, 3000)).then(async () => {
      late = await startBuildkitd(suite.bed.tools, { dir: daemonDir, noWait: true });
    });
    try {
      const run = await runCli({
        resultsDir: path.join(dir, 'results'),
        env: stepEnv({
          PARAM_ENDPOINT: `unix://${daemonDir}/buildkitd.sock`,
          PARAM_IMAGE: 'late/app',
          PARAM_TAGS: '["1"]',
          PARAM_CONTEXT: context,
          PARAM_OCI_LAYOUT: path.join(dir, 'layout'),
        }),
      });
      await starting;
      check(() => {
        assert.equal(run.exitCode, 0, run.stderr);
        assert.match(run.stderr, /waiting for BuildKit daemon at unix:\/\/.*buildkitd\.sock: ENOENT/);
        assert.ok(run.ms >= 3000, `the step finished after ${run.ms} ms, before the daemon could have started`);
        assert.equal(run.results.IMAGE_DIGEST, layoutIndex(path.join(dir, 'layout'))[0]?.digest);
      });
    } finally {
      await starting;
      await late?.stop();
    }
  });

  test('the step run twice in one pod (same buildx state dir): both succeed, the second digest matches its layout', async () => {
    const dir = path.join(work, 'twice');
    const context = writeContext(path.join(dir, 'src'), { Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'twice' });
    const env = stepEnv({
      BUILDKIT_STEP_STATE_DIR: path.join(dir, 'state'),
      PARAM_IMAGE: 'twice/app',
      PARAM_TAGS: '["1"]',
      PARAM_CONTEXT: context,
      PARAM_OCI_LAYOUT: path.join(dir, 'layout'),
    });
    const first = await runCli({ resultsDir: path.join(dir, 'r1'), env });
    const second = await runCli({ resultsDir: path.join(dir, 'r2'), env });
    check(() => {
      assert.equal(first.exitCode, 0, first.stderr);
      assert.equal(second.exitCode, 0, second.stderr);
      // Provenance records each build, so the digests differ; each must match its own layout.
      assert.equal(second.results.IMAGE_DIGEST, layoutIndex(path.join(dir, 'layout'))[0]?.digest);
    });
  });

  test('a failing RUN: BUILD_FAILED exit code, the error in ERROR_MESSAGE, no IMAGE_* results', async () => {
    const dir = path.join(work, 'fail');
    const context = writeContext(path.join(dir, 'src'), {
      Dockerfile: `FROM ${suite.bed.busybox}\nRUN echo about to fail && exit 3\n`,
    });
    const run = await runCli({
      resultsDir: path.join(dir, 'results'),
      env: stepEnv({
        PARAM_IMAGE: 'fail/app',
        PARAM_TAGS: '["1"]',
        PARAM_CONTEXT: context,
        PARAM_OCI_LAYOUT: path.join(dir, 'layout'),
      }),
    });
    check(() => {
      assert.equal(run.exitCode, 20, run.stderr);
      assert.deepEqual(Object.keys(run.results).sort(), ['ERROR_MESSAGE', 'ERROR_REASON']);
      assert.equal(run.results.ERROR_REASON, 'BUILD_FAILED');
      assert.match(run.results.ERROR_MESSAGE ?? '', /exit code: 3/);
    });
  });
});

describe('failures before the build', () => {
  test('a daemon that never comes: DAEMON_UNREACHABLE within the timeout, naming the endpoint and the sidecar log', async () => {
    const dir = path.join(work, 'never');
    const fake = fakeBuildx(path.join(dir, 'bin'));
    const endpoint = `unix://${dir}/nobody-listens.sock`;
    const run = await runCli({
      resultsDir: path.join(dir, 'results'),
      env: {
        BUILDKIT_STEP_BUILDX: fake.bin,
        PARAM_ENDPOINT: endpoint,
        PARAM_DAEMON_TIMEOUT: '2',
        PARAM_IMAGE: 'never/app',
        PARAM_TAGS: '["1"]',
      },
    });
    check(() => {
      assert.equal(run.exitCode, 10, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'DAEMON_UNREACHABLE');
      assert.ok(run.results.ERROR_MESSAGE?.includes(endpoint), run.results.ERROR_MESSAGE);
      // A missing socket means a daemon that is not running: its own log says why.
      assert.match(
        run.results.ERROR_MESSAGE ?? '',
        /the socket never appeared, .*kubectl logs POD -c sidecar-buildkitd/,
      );
      assert.ok(run.ms < 2000 + 3000, `took ${run.ms} ms for a 2 s timeout`);
      assert.ok(run.ms >= 2000, `gave up after ${run.ms} ms, before its 2 s timeout`);
      // The builder is created while the wait runs (it contacts no daemon); nothing is built.
      assert.deepEqual(
        fake.calls().map((call) => call.split(' ')[0]),
        ['create'],
      );
      assert.equal(run.results.IMAGE_DIGEST, undefined);
    });
  });

  const badParams: Array<{ name: string; env: NodeJS.ProcessEnv; mentions: RegExp }> = [
    {
      name: 'wrong type',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]', PARAM_DAEMON_TIMEOUT: '"soon"' },
      mentions: /daemon_timeout \(from PARAM_DAEMON_TIMEOUT\): must be a number/,
    },
    {
      name: 'unknown key',
      env: { BUILDKIT_STEP_PARAMS: '{"image":"a/b","tags":["1"],"tag":"x"}' },
      mentions: /tag \(from BUILDKIT_STEP_PARAMS\): unknown parameter; did you mean "tags"\?/,
    },
    { name: 'missing tag', env: { PARAM_IMAGE: 'a/b' }, mentions: /tags: required parameter is missing/ },
    {
      name: 'empty tags',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '[]' },
      mentions: /tags \(from PARAM_TAGS\): needs at least 1 item/,
    },
    {
      name: 'bad JSON in the env var',
      env: { BUILDKIT_STEP_PARAMS: '{"image": "a/b",' },
      mentions: /BUILDKIT_STEP_PARAMS: not valid JSON/,
    },
  ];
  for (const { name, env, mentions } of badParams) {
    test(`bad params (${name}): PARAMS_INVALID, buildx never started, no image result`, async () => {
      const dir = path.join(work, `bad-${name.replaceAll(' ', '-')}`);
      const fake = fakeBuildx(path.join(dir, 'bin'));
      const run = await runCli({
        resultsDir: path.join(dir, 'results'),
        env: { BUILDKIT_STEP_BUILDX: fake.bin, PARAM_ENDPOINT: suite.bed.buildkitd.endpoint, ...env },
      });
      check(() => {
        assert.equal(run.exitCode, 2, run.stderr);
        assert.match(run.stderr, mentions);
        assert.equal(run.results.ERROR_REASON, 'PARAMS_INVALID');
        assert.equal(run.results.IMAGE_DIGEST, undefined);
        assert.equal(fake.ran(), false);
      });
    });
  }
});
