// The step image end to end, offline: the project's Dockerfile built by the bed's buildx and
// buildkitd (base images replaced by stand-ins made here and pushed to the bed registry, buildx
// by the bed's own binary), then the built image unpacked and run with runc the way a Tekton
// pod runs the step next to a buildkitd sidecar. Nothing is skipped: whatever cannot be
// assembled fails the suite with the reason.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBed, tempDir, type Bed } from '../bed/index.js';
import { imageManifests, layoutIndex } from '../bed/oci.js';
import { tail } from '../bed/process.js';
import type { Buildkitd } from '../bed/buildkitd.js';
import { CLI, REPO, readResults, writeContext } from '../helpers.js';
import {
  dockerfileArg,
  fetchBaseFiles,
  hostCaCerts,
  placeFile,
  pushNodeBase,
  stepImageBuildArgs,
  type BaseFiles,
} from './bases.js';
import { execOk, stageTimer } from './exec.js';
import {
  imageSize,
  mib,
  readConfig,
  resolveUser,
  unpackImage,
  type ImageConfig,
  type ImageManifest,
} from './layout.js';
import { STEP_ENDPOINT, STEP_GID, STEP_SOCKET_DIR, STEP_UID } from '../../scripts/pod-layout.js';
import { runBundle, startSocketBuildkitd, writeBundle } from './runc.js';

const work = tempDir('image');
const logs = path.join(work, 'logs');
/** The sidecar's socket volume, mounted at STEP_SOCKET_DIR in the step. */
const socketDir = path.join(work, 'volumes', 'buildkit');
mkdirSync(logs, { recursive: true });
const log = (name: string): string => path.join(logs, `${name}.log`);
const say = (line: string): void => void process.stderr.write(`image: ${line}\n`);

const pinnedVersion = (name: string): string => {
  const match = new RegExp(`^${name}=(\\S+)\\s*$`, 'm').exec(
    readFileSync(path.join(REPO, 'scripts', 'versions.env'), 'utf8'),
  );
  if (!match?.[1]) throw new Error(`scripts/versions.env has no ${name}`);
  return match[1];
};

let bed: Bed | undefined;
let sidecar: Buildkitd | undefined;
let failed = false;
let layout = '';
let manifest: ImageManifest;
let config: ImageConfig;
let rootfs = '';
const { timed, summary: timingsSummary } = stageTimer(say);
/** The credential helpers the image ships, built on this machine by scripts/install-cred-helpers.sh. */
const CRED_HELPERS: Array<{ name: string; args: string[]; prints: RegExp }> = [
  {
    name: 'docker-credential-ecr-login',
    args: ['version'],
    prints: /amazon-ecr-credential-helper\/ecr-login\) 0\.12\.0/,
  },
  { name: 'docker-credential-gcr', args: ['version'], prints: /credential helper 2\.2\.1/ },
  // No `version` command: its help names it and lists the protocol's `get`.
  { name: 'docker-credential-acr-env', args: ['--help'], prints: /Azure Container Registry[\s\S]*\bget\b/ },
];
let credHelpersBin = '';

before(
  async () => {
    try {
      bed = await timed('bed started', () => startBed());
      const { tools, buildkitd, registry } = bed;
      const files: BaseFiles = await timed('base files (debootstrap, npm pack; cached per machine)', () =>
        fetchBaseFiles(log('image-bases')),
      );
      const nodeBase = await timed('node base stand-in pushed', () =>
        pushNodeBase(tools, buildkitd.endpoint, registry.host, files, path.join(work, 'node-base'), log('node-base')),
      );
      say(
        `node base: ${nodeBase} (Debian bookworm minbase + node ${files.nodeVersion}) replaces ${dockerfileArg('NODE_IMAGE')}`,
      );

      // The bed's buildx binary replaces the Go build stage: a context dir holding only `buildx`.
      const buildxBin = path.join(work, 'buildx-bin');
      placeFile(tools.buildx, path.join(buildxBin, 'buildx'));
      // The same for the credential helpers' Go stage: built on the host from the same pinned modules (cached per version).
      await timed('credential helpers built on the host (cached per version)', () =>
        execOk('bash', [path.join(REPO, 'scripts', 'install-cred-helpers.sh')], {
          logFile: log('cred-helpers'),
          timeoutMs: 20 * 60_000,
        }),
      );
      credHelpersBin = tail(log('cred-helpers'), 1).trim();

      const buildxEnv = { ...process.env, BUILDX_CONFIG: path.join(work, 'buildx-config') };
      // npm inside the build trusts what npm on this machine trusts (e.g. a TLS-inspecting proxy's CA).
      const caCerts = hostCaCerts();
      if (caCerts) say(`CA bundle for npm and go in the build (host npm cafile): ${caCerts}`);
      await execOk(
        tools.buildx,
        ['create', '--name', 'image-test', '--node', 'image-test0', '--driver', 'remote', buildkitd.endpoint],
        {
          logFile: log('buildx'),
          env: buildxEnv,
        },
      );
      layout = path.join(work, 'layout');
      await timed('step image built (buildx build of ./Dockerfile)', () =>
        execOk(
          tools.buildx,
          stepImageBuildArgs({
            builder: 'image-test',
            nodeBase,
            buildxBin,
            credHelpersBin,
            output: `type=oci,dest=${layout},tar=false`,
            extra: ['--metadata-file', path.join(work, 'image-metadata.json')],
          }),
          { logFile: log('buildx'), env: buildxEnv, timeoutMs: 15 * 60_000 },
        ),
      );
      const top = layoutIndex(layout);
      assert.equal(top.length, 1, `one image in the layout, got ${JSON.stringify(top)}`);
      const manifests = imageManifests(layout, top[0]!.digest) as ImageManifest[];
      assert.equal(manifests.length, 1, 'one platform manifest');
      manifest = manifests[0]!;
      config = readConfig(layout, manifest);

      rootfs = path.join(work, 'bundle', 'rootfs');
      await timed('image unpacked', () => unpackImage(layout, manifest, rootfs));
    } catch (error) {
      failed = true;
      say(`setup failed; logs in ${logs}\n${tail(log('buildx'), 60)}`);
      throw error;
    }
  },
  { timeout: 30 * 60_000 },
);

after(async () => {
  await sidecar?.stop();
  if (failed && sidecar) say(`sidecar buildkitd log tail:\n${sidecar.logTail()}`);
  await bed?.stop(failed);
  say(timingsSummary());
  if (failed) say(`keeping ${work} for inspection`);
  else rmSync(work, { recursive: true, force: true });
});

function check<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    failed = true;
    throw error;
  }
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('the step image', () => {
  test('the Dockerfile pins digests and the buildx version of scripts/versions.env', () =>
    check(() => {
      assert.match(dockerfileArg('NODE_IMAGE'), /^node:24-bookworm-slim@sha256:[a-f0-9]{64}$/);
      assert.match(dockerfileArg('GO_IMAGE'), /^golang:1\.\d+-bookworm@sha256:[a-f0-9]{64}$/);
      assert.equal(dockerfileArg('BUILDX_VERSION'), pinnedVersion('BUILDX_VERSION'));
      for (const name of ['ECR_LOGIN_VERSION', 'GCR_VERSION', 'ACR_ENV_VERSION'])
        assert.equal(dockerfileArg(name), pinnedVersion(name), name);
      assert.doesNotMatch(
        readFileSync(path.join(REPO, 'Dockerfile'), 'utf8'),
        /^#\s*syntax=/m,
        'a # syntax= line would pull a frontend image',
      );
    }));

  test('its config: non-root numeric user, entrypoint, env, labels; and its size', () =>
    check(() => {
      const size = imageSize(manifest);
      const line = `image size: ${mib(size.layers)} in ${size.count} compressed layers (${size.layers} bytes; config ${size.config} bytes)`;
      say(line);
      console.log(line);
      say(`layers (MiB): ${manifest.layers.map((layer) => mib(layer.size).replace(' MiB', '')).join(' + ')}`);
      assert.equal(config.os, 'linux');
      assert.equal(config.config.User, `${STEP_UID}:${STEP_GID}`, 'the user the Tasks run the step as');
      assert.deepEqual(config.config.Entrypoint, ['node', '/app/buildkit-step.mjs']);
      assert.ok(config.config.Env?.includes('TMPDIR=/tmp'), `env: ${JSON.stringify(config.config.Env)}`);
      assert.equal(config.config.Labels?.['org.opencontainers.image.title'], 'buildkit-step');
      assert.equal(config.config.Labels?.['io.github.buildkit-step.buildx.version'], pinnedVersion('BUILDX_VERSION'));
    }));

  test('its files: the bed buildx, and of the CLI only its one-file bundle', () =>
    check(() => {
      const buildx = path.join(rootfs, 'usr', 'local', 'bin', 'buildx');
      assert.equal(sha256(buildx), sha256(bed!.tools.buildx), 'buildx is the injected binary');
      assert.ok(statSync(buildx).mode & 0o001, 'buildx is executable by others');
      const bundle = path.join(rootfs, 'app', 'buildkit-step.mjs');
      assert.equal(sha256(bundle), sha256(CLI), 'the bundle is what `npm run build` makes here');
      assert.ok(statSync(bundle).mode & 0o001, 'the bundle is executable by others');
      assert.equal(readlinkSync(path.join(rootfs, 'usr', 'local', 'bin', 'buildkit-step')), '/app/buildkit-step.mjs');
      assert.deepEqual(
        readdirSync(path.join(rootfs, 'app')),
        ['buildkit-step.mjs'],
        'no node_modules, sources or tests',
      );
    }));

  test(
    'the cloud credential helpers are in the image, on PATH, and run as the step user',
    { timeout: 5 * 60_000 },
    async () => {
      try {
        for (const { name, args, prints } of CRED_HELPERS) {
          const file = path.join(rootfs, 'usr', 'local', 'bin', name);
          assert.equal(sha256(file), sha256(path.join(credHelpersBin, name)), `${name} is the injected binary`);
          assert.ok(statSync(file).mode & 0o001, `${name} is executable by others`);
          // By bare name: runc looks it up on the image's PATH, as buildx does for credHelpers.
          const run = await runCommand(`helper-${name}`, [name, ...args]);
          assert.equal(run.exitCode, 0, `${name} ${args.join(' ')} exits 0:\n${run.output}`);
          assert.match(run.output, prints);
          say(`${name} ${args.join(' ')}: ${run.output.trim().split('\n')[0]}`);
        }
      } catch (error) {
        failed = true;
        throw error;
      }
    },
  );

  test(
    'runs as a Tekton step: params env, sidecar socket volume, results in /tekton/results',
    { timeout: 10 * 60_000 },
    async () => {
      try {
        // The sidecar: the socket alone in the shared volume, its group the step user's group.
        const user = resolveUser(config.config.User, rootfs);
        sidecar = await startSocketBuildkitd(
          bed!.tools,
          socketDir,
          path.join(work, 'sidecar'),
          user.gid,
          bed!.buildkitd.snapshotter,
        );
        const socket = statSync(path.join(socketDir, 'buildkitd.sock'));
        assert.equal(socket.gid, user.gid, 'buildkitd --group sets the socket group');
        assert.equal(socket.mode & 0o777, 0o660, 'the socket is 0660');

        const step = await runStep('step');
        assert.equal(step.exitCode, 0, `the step exits 0; its output:\n${step.output.slice(-4000)}`);
        assert.match(
          step.results.IMAGE_DIGEST ?? '',
          /^sha256:[a-f0-9]{64}$/,
          `results: ${JSON.stringify(step.results)}`,
        );
        assert.equal(step.results.IMAGE_URL, undefined, 'not pushed: no registry reference for Chains to sign');
        assert.equal(step.results.ERROR_REASON, undefined);
      } catch (error) {
        failed = true;
        say(`step output:\n${tail(log('step'), 60)}`);
        throw error;
      }
    },
  );

  test(
    'a socket the step user may not open (sidecar without --group) fails fast with DAEMON_UNREACHABLE',
    { timeout: 5 * 60_000 },
    async () => {
      try {
        assert.ok(sidecar?.isRunning(), 'the sidecar of the previous test is running');
        chownSync(path.join(socketDir, 'buildkitd.sock'), 0, 0); // what buildkitd does without --group
        const step = await runStep('step-no-group');
        assert.equal(step.exitCode, 10, `exit 10; output:\n${step.output.slice(-2000)}`);
        assert.equal(step.results.ERROR_REASON, 'DAEMON_UNREACHABLE');
        assert.ok(step.ms < 30_000, `a permission error ends the wait at once (took ${step.ms} ms)`);
        say(`without the socket group: ${step.results.ERROR_MESSAGE}`);
      } catch (error) {
        failed = true;
        say(`step output:\n${tail(log('step-no-group'), 60)}`);
        throw error;
      }
    },
  );
});

/** Runs `args` in the image as its user, with nothing mounted: output and exit code. */
async function runCommand(name: string, args: string[]): Promise<{ exitCode: number | null; output: string }> {
  const runc = bed!.tools.runc;
  const bundle = path.join(work, `bundle-${name}`);
  writeBundle(runc, {
    bundle,
    rootfs: path.join(work, 'bundle', 'rootfs'),
    image: config,
    user: resolveUser(config.config.User, rootfs),
    env: {},
    mounts: [],
    args,
  });
  const exitCode = await runBundle(
    runc,
    path.join(work, 'runc-state'),
    bundle,
    `bks-image-${name}-${process.pid}`,
    log(name),
    60_000,
  );
  return { exitCode, output: readFileSync(log(name), 'utf8') };
}

/** One run of the image as a Tekton step against the sidecar socket in `socketDir`, with its own results dir. */
async function runStep(
  name: string,
): Promise<{ exitCode: number | null; results: Record<string, string>; output: string; image: string; ms: number }> {
  const runc = bed!.tools.runc;
  const source = writeContext(path.join(work, 'volumes', 'source'), {
    Dockerfile: 'FROM scratch\nCOPY hello.txt /hello.txt\n',
    'hello.txt': 'hello from the step image\n',
  });
  const results = path.join(work, 'volumes', `results-${name}`);
  mkdirSync(results, { recursive: true });
  chmodSync(results, 0o777); // an emptyDir, as Tekton mounts /tekton/results
  const image = `${bed!.registry.host}/image-test/hello`;
  const bundle = path.join(work, 'bundle');
  writeBundle(runc, {
    bundle,
    rootfs,
    image: config,
    user: resolveUser(config.config.User, rootfs),
    // Exactly what a Tekton Task step sets from its params.
    env: {
      PARAM_IMAGE: image,
      PARAM_TAGS: '["v1"]',
      PARAM_CONTEXT: '/workspace/source',
      PARAM_ENDPOINT: STEP_ENDPOINT,
      BUILDKIT_STEP_RESULTS_DIR: '/tekton/results',
    },
    mounts: [
      { destination: STEP_SOCKET_DIR, source: socketDir },
      { destination: '/workspace/source', source, readonly: true },
      { destination: '/tekton/results', source: results },
    ],
  });
  const started = Date.now();
  const exitCode = await timed(`${name} container ran (runc)`, () =>
    runBundle(runc, path.join(work, 'runc-state'), bundle, `bks-image-${name}-${process.pid}`, log(name), 5 * 60_000),
  );
  say(`${name} output (tail):\n${tail(log(name), 8)}`);
  return {
    exitCode,
    results: readResults(results),
    output: readFileSync(log(name), 'utf8'),
    image,
    ms: Date.now() - started,
  };
}
