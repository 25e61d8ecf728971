// Every build input a pipeline needs, through the real buildx, buildkitd and registries.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startAuthRegistry } from '../bed/auth-registry.js';
import { startBuildkitd } from '../bed/buildkitd.js';
import { imageManifests, layoutIndex, readImageFile } from '../bed/oci.js';
import { freePort } from '../bed/registry.js';
import { manifest, manifestDigest } from '../bed/registry-client.js';
import { makeSshKey, seedSshImage } from '../bed/ssh-image.js';
import { daemonTls, makeTlsFiles } from '../bed/tls.js';
import { writeContext, type CliRun } from '../helpers.js';
import { bedSuite } from './suite.js';

const suite = bedSuite('inputs');
const { work, check } = suite;

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** Runs the step on a context made of `files`, with params as PARAM_* env. */
const build = (
  name: string,
  files: Record<string, string>,
  params: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
) => suite.step(name, files, params, { env });

/** Nothing the step leaves behind may contain `secret`: output, results, metadata, state dir. */
function assertNowhere(run: CliRun & { dir: string }, secrets: string[]): void {
  const places: Array<[string, string]> = [
    ['stdout', run.stdout],
    ['stderr', run.stderr],
    ...Object.entries(run.results).map(([name, value]): [string, string] => [`result ${name}`, value]),
  ];
  const metadata = path.join(run.dir, 'metadata.json');
  if (existsSync(metadata)) places.push(['metadata', readFileSync(metadata, 'utf8')]);
  for (const secret of secrets) {
    for (const line of secret.split('\n').filter((part) => part.length >= 4)) {
      for (const [where, text] of places) assert.ok(!text.includes(line), `a secret value appears in ${where}`);
    }
  }
  const state = path.join(run.dir, 'state');
  const leftovers = existsSync(state) ? readdirSync(state).filter((name) => name.startsWith('private-')) : [];
  assert.deepEqual(leftovers, [], 'private secret files must be gone when the step ends');
}

describe('secrets', () => {
  const multiLine = '-----BEGIN TOKEN-----\nline, with = "quotes" and \'more\'\n\ttabbed\n-----END TOKEN-----\n';
  const fromDir = 'dir-secret=value,with,commas\nsecond line without newline at end';

  test('from env JSON and a Secret dir: exact bytes reach RUN --mount=type=secret; no value anywhere after', async () => {
    const secretsDir = writeContext(path.join(work, 'secrets-mount'), { npmrc: fromDir, '..data': 'ignored' });
    const run = await build(
      'secrets',
      {
        Dockerfile: [
          `FROM ${suite.bed.busybox}`,
          'RUN --mount=type=secret,id=token sha256sum /run/secrets/token | cut -d" " -f1 > /token.sum',
          'RUN --mount=type=secret,id=npmrc sha256sum /run/secrets/npmrc | cut -d" " -f1 > /npmrc.sum',
          'RUN --mount=type=secret,id=token,required=true test -f /run/secrets/token && ! test -e /token-leak',
        ].join('\n'),
      },
      {
        image: 'e2e/secrets',
        tags: ['1'],
        secrets: [{ key: 'token', value: multiLine }],
        secrets_dir: secretsDir,
        oci_layout: path.join(work, 'secrets', 'layout'),
        metadata_file: path.join(work, 'secrets', 'metadata.json'),
      },
    );
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      const [image] = imageManifests(path.join(run.dir, 'layout'), run.results.IMAGE_DIGEST!);
      assert.equal(readImageFile(path.join(run.dir, 'layout'), image!, 'token.sum').trim(), sha256(multiLine));
      assert.equal(readImageFile(path.join(run.dir, 'layout'), image!, 'npmrc.sum').trim(), sha256(fromDir));
      assertNowhere(run, [multiLine, fromDir]);
    });
  });

  test('a failing build still removes the secret files, and a RUN that prints secrets is masked in the log', async () => {
    const value = 'do-not-print-this-secret';
    const mounted = 'mounted-secret-from-a-dir';
    const secretsDir = writeContext(path.join(work, 'secrets-fail-mount'), { fromdir: mounted });
    const run = await build(
      'secrets-fail',
      {
        Dockerfile: `FROM ${suite.bed.busybox}\nRUN --mount=type=secret,id=token --mount=type=secret,id=fromdir cat /run/secrets/token /run/secrets/fromdir; exit 1\n`,
      },
      { image: 'e2e/secrets-fail', tags: ['1'], secrets: [{ key: 'token', value }], secrets_dir: secretsDir },
    );
    check(() => {
      assert.equal(run.exitCode, 20, run.stderr);
      assert.match(run.stderr, /\*\*\*/, 'the printed secrets show as ***');
      assertNowhere(run, [value, mounted]);
    });
  });
});

describe('SSH', () => {
  test('keys from a file, a kubernetes.io/ssh-auth dir and env JSON reach RUN --mount=type=ssh by id', async () => {
    const keys = path.join(work, 'ssh-keys');
    const fromDir = makeSshKey(keys, 'dir');
    const fromFile = makeSshKey(keys, 'file');
    const fromEnv = makeSshKey(keys, 'env');
    const sshDir = writeContext(path.join(work, 'ssh-mount'), {
      'ssh-privatekey': readFileSync(fromDir.privateKeyPath, 'utf8'),
      known_hosts: 'example.com ssh-ed25519 AAAA\n',
    });
    const sshImage = seedSshImage(
      suite.bed.tools,
      suite.bed.buildkitd.endpoint,
      suite.bed.registry.host,
      path.join(work, 'ssh-image'),
    );
    const envKey = readFileSync(fromEnv.privateKeyPath, 'utf8');
    const run = await build(
      'ssh',
      {
        Dockerfile: [
          `FROM ${sshImage}`,
          'RUN --mount=type=ssh ssh-add -l > /default.txt',
          'RUN --mount=type=ssh,id=deploy ssh-add -l > /deploy.txt',
        ].join('\n'),
      },
      {
        image: 'e2e/ssh',
        tags: ['1'],
        ssh_dir: sshDir,
        ssh_key_files: [{ key: 'deploy', value: fromFile.privateKeyPath }],
        ssh: [{ key: 'deploy', value: envKey }],
      },
    );
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      const layout = defaultLayout(run);
      const built = imageManifests(layout, run.results.IMAGE_DIGEST!)[0]!;
      const defaults = readImageFile(layout, built, 'default.txt');
      const deploy = readImageFile(layout, built, 'deploy.txt');
      assert.ok(defaults.includes(fromDir.fingerprint), defaults);
      assert.ok(deploy.includes(fromFile.fingerprint) && deploy.includes(fromEnv.fingerprint), deploy);
      assert.ok(!defaults.includes(fromFile.fingerprint), 'ids stay apart');
      assertNowhere(run, [envKey]);
    });
  });
});

/** Where a build without `oci_layout` puts its layout: `$TMPDIR/image` of the step. */
function defaultLayout(run: { stdout: string }): string {
  return (JSON.parse(run.stdout.trim().split('\n').pop()!) as { ociLayout: string }).ociLayout;
}

describe('registry auth, push and OCI outputs', () => {
  test('push with credentials from config.json and .dockerconfigjson; without them REGISTRY_AUTH', async () => {
    const auth = await startAuthRegistry(suite.bed.tools, path.join(work, 'auth-registry'), 'ci', 'p@ss:w0rd');
    try {
      // 1. A base image pushed to the auth registry with a config.json dir (a Tekton docker-config workspace).
      const base = await build(
        'auth-base',
        { Dockerfile: 'FROM scratch\nCOPY base.txt /base.txt\n', 'base.txt': 'base layer\n' },
        { image: `${auth.host}/team/base`, tags: ['1'], push: true, docker_config: auth.dockerConfigDir },
      );
      // 2. An image FROM that base, pulled and pushed with a .dockerconfigjson Secret dir.
      const app = await build(
        'auth-app',
        { Dockerfile: `FROM ${auth.host}/team/base:1\nCOPY app.txt /app.txt\n`, 'app.txt': 'app\n' },
        { image: `${auth.host}/team/app`, tags: ['1', 'latest'], push: true, docker_config: auth.dockerconfigjsonDir },
      );
      // 3. No credentials at all.
      const denied = await build(
        'auth-denied',
        { Dockerfile: 'FROM scratch\nCOPY x /x\n', x: 'x' },
        { image: `${auth.host}/team/denied`, tags: ['1'], push: true, retries: 0 },
      );
      const credentials = { user: auth.user, password: auth.password };
      const registryDigests = await Promise.all(
        ['1', 'latest'].map((tag) => manifestDigest(auth.host, 'team/app', tag, credentials)),
      );
      check(() => {
        assert.equal(base.exitCode, 0, base.stderr);
        assert.equal(app.exitCode, 0, app.stderr);
        assert.deepEqual(registryDigests, [app.results.IMAGE_DIGEST, app.results.IMAGE_DIGEST]);
        assert.equal(denied.exitCode, 12, denied.stderr);
        assert.equal(denied.results.ERROR_REASON, 'REGISTRY_AUTH');
        assertNowhere(app, [auth.password, Buffer.from(`${auth.user}:${auth.password}`).toString('base64')]);
      });
    } finally {
      await auth.stop();
    }
  });

  test('push and an OCI tar from one build: the registry, the tar and IMAGE_DIGEST agree', async () => {
    const host = suite.bed.registry.host;
    const tarFile = path.join(work, 'both', 'out', 'image.tar');
    const run = await build(
      'both',
      { Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'both outputs' },
      { image: `${host}/team/both`, tags: ['v1', 'v2'], push: true, oci_layout: tarFile, oci_tar: true },
    );
    const pushed = await Promise.all(['v1', 'v2'].map((tag) => manifestDigest(host, 'team/both', tag)));
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      assert.deepEqual(pushed, [run.results.IMAGE_DIGEST, run.results.IMAGE_DIGEST]);
      assert.ok(statSync(tarFile).isFile());
      const index = JSON.parse(execTar(tarFile, 'index.json')) as { manifests: Array<{ digest: string }> };
      assert.equal(index.manifests[0]?.digest, run.results.IMAGE_DIGEST);
      assert.equal(
        run.results.IMAGES,
        `${host}/team/both:v1@${run.results.IMAGE_DIGEST},${host}/team/both:v2@${run.results.IMAGE_DIGEST}`,
      );
    });
  });
});

function execTar(file: string, member: string): string {
  return execFileSync('tar', ['-xOf', file, member], { encoding: 'utf8' });
}

describe('registry cache', () => {
  // Each RUN writes a random value: the same value in a later image proves the step was not run again.
  const dockerfile = (base: string) =>
    [
      `FROM ${base}`,
      'RUN sleep 2 && cat /proc/sys/kernel/random/uuid > /one',
      'RUN sleep 2 && cat /proc/sys/kernel/random/uuid > /two',
      'COPY app.txt /app.txt',
    ].join('\n');
  const randomValues = (run: { stdout: string; results: Record<string, string> }) => {
    const layout = defaultLayout(run);
    const image = imageManifests(layout, run.results.IMAGE_DIGEST!)[0]!;
    return [readImageFile(layout, image, 'one'), readImageFile(layout, image, 'two')];
  };

  test('a wiped daemon imports the expensive steps from <cache_repo>:buildcache', async () => {
    const host = suite.bed.registry.host;
    const params = { image: `${host}/team/cached`, tags: ['main'], cache_repo: `${host}/team/cache` };
    const first = await build('cache-1', { Dockerfile: dockerfile(suite.bed.busybox), 'app.txt': 'v1' }, params);
    const exported = await manifestDigest(host, 'team/cache', 'buildcache');
    // A fresh daemon with empty state: only the registry cache can make steps cached.
    const fresh = await startBuildkitd(suite.bed.tools, { dir: path.join(work, 'cache-daemon') });
    try {
      const second = await build('cache-2', { Dockerfile: dockerfile(suite.bed.busybox), 'app.txt': 'v2' }, params, {
        PARAM_ENDPOINT: fresh.endpoint,
      });
      check(() => {
        assert.equal(first.exitCode, 0, first.stderr);
        assert.ok(exported, 'the cache was exported to <cache_repo>:buildcache, the default key');
        assert.equal(second.exitCode, 0, second.stderr);
        assert.match(second.stderr, /importing cache manifest from 127\.0\.0\.1:\d+\/team\/cache:buildcache/);
        assert.deepEqual(randomValues(second), randomValues(first), 'both RUN layers came from the registry cache');
        assert.match(
          second.stderr,
          /#\d+ \[2\/4\] RUN sleep 2 && cat \/proc\/sys\/kernel\/random\/uuid > \/one\n#\d+ CACHED/,
        );
        const summary = JSON.parse(second.stdout) as { steps: number; cachedSteps: number };
        assert.equal(summary.steps, 4, 'FROM, two RUNs and COPY');
        assert.ok(
          summary.cachedSteps >= 1,
          `the summary counts the steps BuildKit reports CACHED (${summary.cachedSteps})`,
        );
      });
    } finally {
      await fresh.stop();
    }
  });

  test('a cache registry that refuses the export: the build succeeds with a warning, or fails with cache_export_fatal', async () => {
    const auth = await startAuthRegistry(suite.bed.tools, path.join(work, 'cache-auth'), 'u', 'secret-pass');
    try {
      const params = { image: 'e2e/cache-refused', tags: ['1'], cache_repo: `${auth.host}/team/cache`, retries: 0 };
      const files = { Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'a' };
      const lenient = await build('cache-refused', files, params);
      const strict = await build('cache-refused-fatal', files, { ...params, cache_export_fatal: true });
      check(() => {
        assert.equal(lenient.exitCode, 0, lenient.stderr);
        assert.match(lenient.results.IMAGE_DIGEST ?? '', /^sha256:/);
        assert.match(lenient.stderr, /warning: the cache export failed, the image was built anyway .*401 Unauthorized/);
        assert.equal((JSON.parse(lenient.stdout) as { cacheExportFailed: boolean }).cacheExportFailed, true);
        assert.notEqual(strict.exitCode, 0, strict.stderr);
        assert.equal(strict.results.IMAGE_DIGEST, undefined);
      });
    } finally {
      await auth.stop();
    }
  });
});

describe('platforms, labels, annotations, attestations', () => {
  test('two platforms from one Dockerfile (no RUN, so no emulator): an index with one manifest per platform', async () => {
    const host = suite.bed.registry.host;
    const run = await build(
      'platforms',
      { Dockerfile: 'FROM scratch\nARG TARGETPLATFORM\nCOPY a /a\nLABEL built.for=$TARGETPLATFORM\n', a: 'multi' },
      {
        image: `${host}/team/multi`,
        tags: ['1'],
        push: true,
        platforms: ['linux/amd64', 'linux/arm64'],
        labels: [{ key: 'org.opencontainers.image.source', value: 'https://git.example.com/app' }],
        annotations: [{ key: 'index:org.opencontainers.image.title', value: 'multi-app' }],
        provenance: 'max',
      },
    );
    check(() => assert.equal(run.exitCode, 0, run.stderr));
    type Index = {
      mediaType: string;
      annotations?: Record<string, string>;
      manifests: Array<{ digest: string; platform?: { architecture: string }; annotations?: Record<string, string> }>;
    };
    const index = await manifest<Index>(host, 'team/multi', run.results.IMAGE_DIGEST!);
    const images = index.manifests.filter(
      (entry) => entry.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest',
    );
    const attestations = index.manifests.filter(
      (entry) => entry.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest',
    );
    const configs = await Promise.all(
      images.map(async (entry) => {
        const image = await manifest<{ config: { digest: string } }>(host, 'team/multi', entry.digest);
        const response = await fetch(`http://${host}/v2/team/multi/blobs/${image.config.digest}`);
        return (await response.json()) as { config: { Labels: Record<string, string> } };
      }),
    );
    check(() => {
      assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
      assert.deepEqual(images.map((entry) => entry.platform?.architecture).sort(), ['amd64', 'arm64']);
      assert.equal(attestations.length, 2, 'one provenance attestation per platform');
      assert.equal(index.annotations?.['org.opencontainers.image.title'], 'multi-app');
      for (const config of configs)
        assert.equal(config.config.Labels['org.opencontainers.image.source'], 'https://git.example.com/app');
      assert.deepEqual(configs.map((config) => config.config.Labels['built.for']).sort(), [
        'linux/amd64',
        'linux/arm64',
      ]);
    });
  });

  test('an SBOM from a scanner image in the registry is attached as an SPDX attestation', async () => {
    const host = suite.bed.registry.host;
    // A minimal scanner that follows BuildKit's SBOM generator protocol: it writes an in-toto
    // statement with an SPDX predicate naming how many files it saw.
    const script = [
      'n=$(find "$BUILDKIT_SCAN_SOURCE" -type f | wc -l)',
      'printf \'{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[],"predicate":{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"bed-scanner","files":%s}}\' "$n" > "$BUILDKIT_SCAN_DESTINATION/$(basename "$BUILDKIT_SCAN_SOURCE").spdx.json"',
    ].join('\n');
    const scanner = await build(
      'sbom-scanner',
      {
        Dockerfile: `FROM ${suite.bed.busybox}\nCOPY scan.sh /scan.sh\nENTRYPOINT ["/bin/sh", "/scan.sh"]\n`,
        'scan.sh': script,
      },
      { image: `${host}/bed/scanner`, tags: ['1'], push: true, provenance: 'none' },
    );
    check(() => assert.equal(scanner.exitCode, 0, scanner.stderr));
    const run = await build(
      'sbom',
      { Dockerfile: 'FROM scratch\nCOPY a b /\n', a: 'a', b: 'b' },
      { image: `${host}/team/sbom`, tags: ['1'], push: true, sbom: true, sbom_generator: `${host}/bed/scanner:1` },
    );
    check(() => assert.equal(run.exitCode, 0, run.stderr));
    type Index = { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    const index = await manifest<Index>(host, 'team/sbom', run.results.IMAGE_DIGEST!);
    const attestation = index.manifests.find(
      (entry) => entry.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest',
    );
    const layers = attestation
      ? (
          await manifest<{ layers: Array<{ digest: string; annotations?: Record<string, string> }> }>(
            host,
            'team/sbom',
            attestation.digest,
          )
        ).layers
      : [];
    const spdx = layers.find(
      (layer) => layer.annotations?.['in-toto.io/predicate-type'] === 'https://spdx.dev/Document',
    );
    const statement = spdx
      ? ((await (await fetch(`http://${host}/v2/team/sbom/blobs/${spdx.digest}`)).json()) as {
          predicate: { name: string; files: number };
        })
      : undefined;
    check(() => {
      assert.ok(
        spdx,
        `an SPDX layer in the attestation manifest (${JSON.stringify(layers.map((layer) => layer.annotations))})`,
      );
      assert.equal(statement?.predicate.name, 'bed-scanner');
      assert.equal(statement?.predicate.files, 2);
    });
  });
});

describe('a shared BuildKit fleet over TCP with mutual TLS', () => {
  test('the right certificates build; a wrong CA fails at once with DAEMON_TLS', async () => {
    const tls = makeTlsFiles(path.join(work, 'tls'));
    const address = `tcp://127.0.0.1:${await freePort()}`;
    const fleet = await startBuildkitd(suite.bed.tools, {
      dir: path.join(work, 'tls-daemon'),
      tcpAddress: address,
      tls: daemonTls(tls),
    });
    try {
      const files = { Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'fleet' };
      const good = await build('tls-good', files, {
        image: 'e2e/fleet',
        tags: ['1'],
        endpoint: address,
        tls_dir: tls.client.dir,
        tls_server_name: tls.servername,
      });
      const wrong = await build('tls-wrong', files, {
        image: 'e2e/fleet',
        tags: ['1'],
        endpoint: address,
        tls_dir: tls.wrongCa.dir,
        daemon_timeout: 60,
      });
      check(() => {
        assert.equal(good.exitCode, 0, good.stderr);
        assert.equal(good.results.IMAGE_DIGEST, layoutIndex(defaultLayout(good))[0]?.digest);
        assert.equal(wrong.exitCode, 11, wrong.stderr);
        assert.equal(wrong.results.ERROR_REASON, 'DAEMON_TLS');
        assert.match(wrong.results.ERROR_MESSAGE ?? '', /tcp:\/\/127\.0\.0\.1:\d+.*(certificate|UNABLE_TO_VERIFY)/);
        assert.ok(wrong.ms < 10_000, `a wrong CA is not waited out (${wrong.ms} ms of a 60 s timeout)`);
      });
    } finally {
      await fleet.stop();
    }
  });
});

describe('reproducible digests', () => {
  test('source_date_epoch: the same context on two wiped daemons gives the same IMAGE_DIGEST', async () => {
    const files = {
      Dockerfile: `FROM ${suite.bed.busybox}\nRUN echo built > /built.txt\nCOPY app.txt /app.txt\n`,
      'app.txt': 'same',
    };
    const digests: string[] = [];
    for (const round of [1, 2]) {
      const daemon = await startBuildkitd(suite.bed.tools, { dir: path.join(work, `repro-daemon-${round}`) });
      try {
        const run = await build(
          `repro-${round}`,
          files,
          { image: 'e2e/repro', tags: ['1'], source_date_epoch: 1700000000 },
          { PARAM_ENDPOINT: daemon.endpoint },
        );
        check(() => assert.equal(run.exitCode, 0, run.stderr));
        digests.push(run.results.IMAGE_DIGEST!);
      } finally {
        await daemon.stop();
      }
    }
    check(() => assert.equal(digests[0], digests[1]));
  });
});

describe('no_cache', () => {
  // `pull` has no e2e test: on the OCI worker BuildKit resolves a tag against the registry on
  // every build anyway, so a test with and without it behaves the same (checked by hand); its
  // argv is covered by the argv table.
  test('no_cache runs every step again', async () => {
    const files = { Dockerfile: `FROM ${suite.bed.busybox}\nRUN cat /proc/sys/kernel/random/uuid > /run.txt\n` };
    const read = (run: { stdout: string; results: Record<string, string> }) => {
      const layout = defaultLayout(run);
      return readImageFile(layout, imageManifests(layout, run.results.IMAGE_DIGEST!)[0]!, 'run.txt');
    };
    const first = await build('nc-1', files, { image: 'e2e/nc', tags: ['1'] });
    const cached = await build('nc-2', files, { image: 'e2e/nc', tags: ['1'] });
    const uncached = await build('nc-3', files, { image: 'e2e/nc', tags: ['1'], no_cache: true });
    check(() => {
      for (const run of [first, cached, uncached]) assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(read(cached), read(first), 'without no_cache the RUN comes from the cache');
      assert.notEqual(read(uncached), read(first), 'with no_cache the RUN runs again');
      assert.match(cached.stderr, /\] RUN cat [^\n]*\n#\d+ CACHED/);
      assert.doesNotMatch(uncached.stderr, /\] RUN cat [^\n]*\n#\d+ CACHED/);
    });
  });
});
