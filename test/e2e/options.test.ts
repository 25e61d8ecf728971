// The build options platform teams use every day, each through a real build on the bed's
// buildkitd, buildx and registry: named contexts, RUN network/hosts/limits, entitlements,
// compression, a local export next to the image, Dockerfile checks, VCS labels.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ERROR_CODES } from '../../src/errors.js';
import { startBuildkitd, type Buildkitd } from '../bed/buildkitd.js';
import { blobPath, imageManifests, layoutIndex, readImageFile, readJson } from '../bed/oci.js';
import { manifest, manifestDigest } from '../bed/registry-client.js';
import { runCli, writeContext } from '../helpers.js';
import { bedSuite } from './suite.js';

const suite = bedSuite('options');
const { work, check } = suite;

/** The one image manifest of a single-platform OCI layout build. */
const imageOf = (run: { dir: string; results: Record<string, string> }, layout = path.join(run.dir, 'layout')) => {
  const [image] = imageManifests(layout, run.results.IMAGE_DIGEST!);
  assert.ok(image, 'an image manifest');
  return { layout, image };
};

let entitled: Buildkitd | undefined;
/**
 * A second daemon that grants both entitlements through `insecure-entitlements` in its
 * buildkitd.toml: what the shipped Tasks' buildkitd-config workspace gives a sidecar, no fork needed.
 */
async function entitledDaemon(): Promise<Buildkitd> {
  const dir = path.join(work, 'entitled-daemon');
  const config = path.join(work, 'entitled-buildkitd.toml');
  writeFileSync(config, 'insecure-entitlements = ["network.host", "security.insecure"]\n');
  entitled ??= await startBuildkitd(suite.bed.tools, { dir, config });
  return entitled;
}
after(async () => {
  await entitled?.stop();
});

describe('named build contexts', () => {
  test('a second checkout dir and a docker-image:// override reach FROM and COPY --from', async () => {
    const second = writeContext(path.join(work, 'second-checkout'), { 'lib/b.txt': 'from the second checkout\n' });
    const run = await suite.step(
      'contexts',
      {
        Dockerfile:
          'FROM base\nCOPY --from=shared /lib/b.txt /from-second.txt\nRUN cat /from-second.txt > /copied-by-run.txt\n',
      },
      {
        image: 'e2e/contexts',
        tags: ['1'],
        oci_layout: path.join(work, 'contexts', 'layout'),
        build_contexts: [
          { key: 'shared', value: second },
          { key: 'base', value: `docker-image://${suite.bed.busybox}` },
        ],
      },
    );
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      const { layout, image } = imageOf(run);
      assert.equal(readImageFile(layout, image, 'from-second.txt'), 'from the second checkout\n');
      // RUN works only because `base` is the busybox image: FROM base resolved through the context.
      assert.equal(readImageFile(layout, image, 'copied-by-run.txt'), 'from the second checkout\n');
    });
  });
});

describe('RUN network, hosts and limits', () => {
  const probe = [
    'RUN ls /sys/class/net | sort | tr "\\n" " " > /nets.txt',
    'RUN grep -w db.internal /etc/hosts | tr -s " \\t" " " > /hosts.txt || true',
    'RUN ulimit -n > /nofile.txt',
    'RUN df -k /dev/shm | tail -n 1 | tr -s " " | cut -d" " -f2 > /shm.txt',
  ].join('\n');

  test('network none, add_hosts, ulimits and shm_size change what RUN sees; the defaults do not', async () => {
    const files = { Dockerfile: `FROM ${suite.bed.busybox}\n${probe}\n` };
    const shaped = await suite.step('run-options', files, {
      image: 'e2e/run-options',
      tags: ['1'],
      oci_layout: path.join(work, 'run-options', 'layout'),
      network: 'none',
      add_hosts: ['db.internal=10.0.0.5'],
      ulimits: ['nofile=1024:2048'],
      shm_size: '96m',
    });
    const plain = await suite.step('run-defaults', files, {
      image: 'e2e/run-defaults',
      tags: ['1'],
      oci_layout: path.join(work, 'run-defaults', 'layout'),
    });
    check(() => {
      assert.equal(shaped.exitCode, 0, shaped.stderr);
      assert.equal(plain.exitCode, 0, plain.stderr);
      const a = imageOf(shaped);
      const b = imageOf(plain);
      assert.equal(readImageFile(a.layout, a.image, 'nets.txt'), 'lo ', 'network none: only loopback');
      assert.notEqual(
        readImageFile(b.layout, b.image, 'nets.txt'),
        'lo ',
        'the default network has more than loopback on the bed',
      );
      assert.equal(readImageFile(a.layout, a.image, 'hosts.txt'), '10.0.0.5 db.internal\n');
      assert.equal(readImageFile(b.layout, b.image, 'hosts.txt'), '');
      assert.equal(readImageFile(a.layout, a.image, 'nofile.txt'), '1024\n');
      assert.equal(readImageFile(a.layout, a.image, 'shm.txt'), `${96 * 1024}\n`);
      assert.notEqual(readImageFile(b.layout, b.image, 'shm.txt'), `${96 * 1024}\n`);
    });
  });
});

describe('entitlements', () => {
  test('a daemon that does not grant network.host: ENTITLEMENT_REFUSED naming the buildkitd.toml setting', async () => {
    const run = await suite.step(
      'entitlement-refused',
      { Dockerfile: `FROM ${suite.bed.busybox}\nRUN true\n` },
      { image: 'e2e/ent', tags: ['1'], network: 'host', allow: ['network.host'], retries: 3 },
    );
    check(() => {
      assert.equal(run.exitCode, ERROR_CODES.ENTITLEMENT_REFUSED.exit, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'ENTITLEMENT_REFUSED');
      assert.match(
        run.results.ERROR_MESSAGE ?? '',
        /does not grant network\.host \(add insecure-entitlements = \["network\.host"\] to its buildkitd\.toml/,
      );
      assert.equal(run.summary.attempts, 1, 'a refusal is not retried');
    });
  });

  test('security.insecure refused by the default daemon, granted by one started with the flag', async () => {
    const files = { Dockerfile: `FROM ${suite.bed.busybox}\nRUN true\n` };
    const refused = await suite.step('insecure-refused', files, {
      image: 'e2e/insecure',
      tags: ['1'],
      allow: ['security.insecure'],
    });
    const daemon = await entitledDaemon();
    const granted = await suite.step('insecure-granted', files, {
      image: 'e2e/insecure',
      tags: ['1'],
      allow: ['security.insecure'],
      endpoint: daemon.endpoint,
    });
    check(() => {
      assert.equal(refused.exitCode, ERROR_CODES.ENTITLEMENT_REFUSED.exit, refused.stderr);
      assert.match(refused.results.ERROR_MESSAGE ?? '', /does not grant security\.insecure/);
      assert.equal(granted.exitCode, 0, granted.stderr);
    });
  });

  test('network host on a daemon that grants it: RUN sees the host network', async () => {
    const daemon = await entitledDaemon();
    const run = await suite.step(
      'network-host',
      { Dockerfile: `FROM ${suite.bed.busybox}\nRUN ls /sys/class/net | sort | tr "\\n" " " > /nets.txt\n` },
      {
        image: 'e2e/host',
        tags: ['1'],
        network: 'host',
        allow: ['network.host'],
        endpoint: daemon.endpoint,
        no_cache: true,
        oci_layout: path.join(work, 'network-host', 'layout'),
      },
    );
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      const { layout, image } = imageOf(run);
      const host = `${readdirSync('/sys/class/net').sort().join(' ')} `;
      assert.equal(readImageFile(layout, image, 'nets.txt'), host);
    });
  });
});

describe('layer compression', () => {
  test('zstd with force: every layer of the pushed image and of the OCI layout is zstd, the base layer included', async () => {
    const host = suite.bed.registry.host;
    const run = await suite.step(
      'zstd',
      { Dockerfile: `FROM ${suite.bed.busybox}\nRUN echo hi > /hi.txt\n` },
      {
        image: `${host}/e2e/zstd`,
        tags: ['1'],
        push: true,
        oci_layout: path.join(work, 'zstd', 'layout'),
        compression: 'zstd',
        compression_level: 3,
        force_compression: true,
      },
    );
    check(() => assert.equal(run.exitCode, 0, run.stderr));
    const { layout, image } = imageOf(run);
    const pushedDigest = await manifestDigest(host, 'e2e/zstd', '1');
    const pushedIndex = await manifest<{ manifests?: Array<{ digest: string; annotations?: Record<string, string> }> }>(
      host,
      'e2e/zstd',
      '1',
    );
    const pushedImageDigest = pushedIndex.manifests?.find(
      (entry) => entry.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest',
    )?.digest;
    const pushed = await manifest<{ layers: Array<{ mediaType: string }> }>(host, 'e2e/zstd', pushedImageDigest!);
    check(() => {
      assert.equal(pushedDigest, run.results.IMAGE_DIGEST);
      assert.ok((image.layers ?? []).length >= 2, 'base layer + RUN layer');
      for (const layer of image.layers ?? []) {
        assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
        assert.equal(
          readFileSync(blobPath(layout, layer.digest)).subarray(0, 4).toString('hex'),
          '28b52ffd',
          'zstd magic',
        );
      }
      assert.deepEqual(
        [...new Set(pushed.layers.map((layer) => layer.mediaType))],
        ['application/vnd.oci.image.layer.v1.tar+zstd'],
      );
    });
  });
});

describe('local export next to the image', () => {
  const dockerfile = (testExit: number) =>
    [
      `FROM ${suite.bed.busybox} AS test`,
      `RUN mkdir -p /reports && echo "tests: 3 passed" > /reports/junit.txt && exit ${testExit}`,
      'FROM scratch AS reports',
      'COPY --from=test /reports /',
      `FROM ${suite.bed.busybox}`,
      'COPY --from=test /reports/junit.txt /app/junit.txt',
    ].join('\n');

  test('the reports stage lands in local_export_dir, the image is pushed, the shared stage runs once', async () => {
    const host = suite.bed.registry.host;
    const dest = path.join(work, 'export', 'reports');
    const run = await suite.step(
      'export',
      { Dockerfile: dockerfile(0) },
      { image: `${host}/e2e/export`, tags: ['1'], push: true, local_export_dir: dest, local_export_target: 'reports' },
    );
    const pushed = await manifestDigest(host, 'e2e/export', '1');
    check(() => {
      assert.equal(pushed, run.results.IMAGE_DIGEST);
      assert.equal(run.exitCode, 0, run.stderr);
      assert.deepEqual(readdirSync(dest), ['junit.txt'], 'only the stage files: no attestation files');
      assert.equal(readFileSync(path.join(dest, 'junit.txt'), 'utf8'), 'tests: 3 passed\n');
      assert.equal(run.summary.localExport, dest);
      assert.equal(run.summary.attempts, 2, 'two buildx builds: the export, then the image');
      // The test stage ran in the export build; the image build took it from the daemon's cache.
      assert.match(run.stderr, /#\d+ \[test 2\/2\] RUN mkdir -p \/reports.*\n#\d+ CACHED/);
    });
  });

  test("with a registry cache, the export build's log line says the image build writes the cache, and it does", async () => {
    const host = suite.bed.registry.host;
    const run = await suite.step(
      'export-cache',
      { Dockerfile: `${dockerfile(0)}\nRUN echo export-cache > /app/marker` },
      {
        image: `${host}/e2e/export-cache`,
        tags: ['1'],
        push: true,
        cache_repo: `${host}/e2e/export-cache-cache`,
        local_export_dir: path.join(work, 'export-cache', 'out'),
        local_export_target: 'reports',
      },
    );
    const cacheLines = run.stderr.split('\n').filter((line) => line.startsWith('buildkit-step: cache: '));
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(cacheLines.length, 2, cacheLines.join('\n'));
      assert.match(cacheLines[0]!, /; not exported by this build \(the image build writes it\)$/);
      assert.match(cacheLines[1]!, new RegExp(`; exported to ${host}/e2e/export-cache-cache:buildcache$`));
    });
  });

  test('a failing export stage stops the step before the image is pushed', async () => {
    const host = suite.bed.registry.host;
    const run = await suite.step(
      'export-fails',
      { Dockerfile: dockerfile(1) },
      {
        image: `${host}/e2e/export-fails`,
        tags: ['1'],
        push: true,
        local_export_dir: path.join(work, 'export-fails', 'out'),
        local_export_target: 'reports',
      },
    );
    const pushed = await manifestDigest(host, 'e2e/export-fails', '1');
    check(() => {
      assert.equal(run.exitCode, 20, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'BUILD_FAILED');
      assert.equal(pushed, undefined);
      assert.equal(run.summary.attempts, 1);
    });
  });
});

describe('Dockerfile checks', () => {
  const findings = { Dockerfile: 'FROM scratch as base\nENV key value\nCOPY a /a\n', a: 'a' };

  test('check mode prints the findings, counts them in the summary, succeeds, and builds nothing', async () => {
    const run = await suite.step('check', findings, {
      image: 'e2e/check',
      tags: ['1'],
      check: true,
      oci_layout: path.join(work, 'check', 'layout'),
    });
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(run.summary.mode, 'check');
      assert.equal(run.summary.checkWarnings, 3);
      assert.match(run.stderr, /WARNING: FromAsCasing - /);
      assert.match(run.stderr, /WARNING: LegacyKeyValueFormat - /);
      assert.deepEqual(run.results, {}, 'no image results');
      assert.equal(existsSync(path.join(work, 'check', 'layout')), false, 'no image written');
    });
  });

  test('check_fail_on_warnings: CHECK_FAILED with findings, success on a clean Dockerfile', async () => {
    const failing = await suite.step('check-fail', findings, {
      image: 'e2e/check',
      tags: ['1'],
      check: true,
      check_fail_on_warnings: true,
    });
    const clean = await suite.step(
      'check-clean',
      { Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'a' },
      { image: 'e2e/check', tags: ['1'], check: true, check_fail_on_warnings: true },
    );
    check(() => {
      assert.equal(failing.exitCode, 26, failing.stderr);
      assert.equal(failing.results.ERROR_REASON, 'CHECK_FAILED');
      assert.match(failing.results.ERROR_MESSAGE ?? '', /3 findings/);
      assert.equal(clean.exitCode, 0, clean.stderr);
      assert.equal(clean.summary.checkWarnings, 0);
    });
  });
});

describe('VCS facts', () => {
  test('git_url, git_commit and source_date_epoch become OCI labels and manifest annotations', async () => {
    const commit = '0123456789abcdef0123456789abcdef01234567';
    const run = await suite.step(
      'vcs',
      { Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'vcs' },
      {
        image: 'e2e/vcs',
        tags: ['1'],
        oci_layout: path.join(work, 'vcs', 'layout'),
        git_url: 'https://git.example.com/team/app.git',
        git_commit: commit,
        source_date_epoch: 1700000000,
      },
    );
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      const { layout, image } = imageOf(run);
      const expected = {
        'org.opencontainers.image.source': 'https://git.example.com/team/app.git',
        'org.opencontainers.image.revision': commit,
        'org.opencontainers.image.created': '2023-11-14T22:13:20Z',
      };
      const config = readJson<{ config: { Labels?: Record<string, string> } }>(blobPath(layout, image.config!.digest));
      const annotations = (image as { annotations?: Record<string, string> }).annotations ?? {};
      for (const [key, value] of Object.entries(expected)) {
        assert.equal(config.config.Labels?.[key], value, `label ${key}`);
        assert.equal(annotations[key], value, `annotation ${key}`);
      }
    });
  });
});

describe("list params in the engines' shapes", () => {
  test('Tekton array blocks on the command line (as the Task passes them) reach a real build; flag-looking elements stay values', async () => {
    const dir = path.join(work, 'arrays');
    const context = writeContext(path.join(dir, 'src'), {
      Dockerfile: `FROM ${suite.bed.busybox}\nARG A\nARG B\nRUN echo "A=$A B=$B" > /args.txt\n`,
    });
    const layout = path.join(dir, 'layout');
    const args = [
      'build',
      '--image',
      'e2e/arrays',
      '--context',
      context,
      '--oci-layout',
      layout,
      '--array-params=tags,build_args,labels,platforms',
      '--array=tags',
      'v1',
      'v2',
      '--array=build_args',
      'A=--output=type=local,dest=/tmp/x',
      'B=x=y',
      '--array=labels',
      'team=-o',
      '--array=platforms',
    ];
    const run = await runCli({
      args,
      resultsDir: path.join(dir, 'results'),
      env: suite.env({ TMPDIR: dir, BUILDKIT_STEP_STATE_DIR: path.join(dir, 'state') }),
    });
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      const { image } = imageOf({ ...run, dir }, layout);
      assert.equal(readImageFile(layout, image, 'args.txt'), 'A=--output=type=local,dest=/tmp/x B=x=y\n');
      const config = readJson<{ config: { Labels?: Record<string, string> } }>(blobPath(layout, image.config!.digest));
      assert.equal(config.config.Labels?.team, '-o');
      assert.deepEqual(
        layoutIndex(layout).map((entry) => entry.annotations?.['org.opencontainers.image.ref.name']),
        ['v1', 'v2'],
      );
      assert.equal(existsSync('/tmp/x'), false, 'no second output');
    });
  });

  test('Argo-style lines in PARAM_* (KEY=VALUE per line) reach a real build', async () => {
    const run = await suite.step(
      'lines',
      { Dockerfile: `FROM ${suite.bed.busybox}\nARG A\nARG B\nRUN echo "A=$A B=$B" > /args.txt\n` },
      {
        image: 'e2e/lines',
        tags: 'v1\nv2',
        build_args: 'A=one, two\nB="three"',
        oci_layout: path.join(work, 'lines', 'layout'),
      },
    );
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      const { layout, image } = imageOf(run);
      assert.equal(readImageFile(layout, image, 'args.txt'), 'A=one, two B="three"\n');
    });
  });
});
