// Native multi-platform builds: two real buildkitd, each declared for one platform, as the nodes
// of one builder. Each daemon's own build history shows it got only its platform's work, and the
// registry holds one index with both manifests.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBuildkitd, type Buildkitd } from '../bed/buildkitd.js';
import { manifest } from '../bed/registry-client.js';
import { runCli, writeContext } from '../helpers.js';
import { bedSuite } from './suite.js';

const suite = bedSuite('multiarch');
const { work, check } = suite;

const PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;

describe('a node per platform (platform_endpoints)', () => {
  const nodes = new Map<string, Buildkitd>();
  before(async () => {
    for (const platform of PLATFORMS) {
      // --oci-worker-platform: the daemon declares this platform only (arm64 here without emulation,
      // so the Dockerfile has no RUN).
      nodes.set(
        platform,
        await startBuildkitd(suite.bed.tools, {
          dir: path.join(work, platform.replace('/', '-')),
          args: ['--oci-worker-platform', platform],
        }),
      );
    }
  });
  after(async () => {
    for (const node of nodes.values()) await node.stop();
  });

  /** The platforms of the builds in a daemon's own history (buildctl debug histories). */
  const builtPlatforms = (node: Buildkitd): string[] => {
    const out = execFileSync(
      suite.bed.tools.buildctl,
      ['--addr', node.endpoint, 'debug', 'histories', '--format', '{{json .}}'],
      { encoding: 'utf8' },
    );
    return out
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.stringify(JSON.parse(line)))
      .flatMap((record) => [...record.matchAll(/linux\/(?:amd64|arm64)/g)].map((match) => match[0]));
  };

  test('print-argv lists every buildx create the build runs: run by hand, they make a builder with a node per platform', async () => {
    const dir = path.join(work, 'print-argv');
    const endpoints = Object.fromEntries(PLATFORMS.map((platform) => [platform, nodes.get(platform)!.endpoint]));
    const run = await runCli({
      args: ['print-argv'],
      env: {
        PARAM_IMAGE: 'team/multiarch',
        PARAM_TAGS: '["1"]',
        PARAM_CONTEXT: writeContext(path.join(dir, 'src'), { Dockerfile: 'FROM scratch\n' }),
        PARAM_PLATFORM_ENDPOINTS: JSON.stringify(endpoints),
      },
      resultsDir: path.join(dir, 'results'),
    });
    const plan = JSON.parse(run.stdout) as { create: string[]; append?: string[][] };
    const buildxEnv = { PATH: process.env.PATH, BUILDX_CONFIG: path.join(dir, 'buildx') };
    for (const argv of [plan.create, ...(plan.append ?? [])])
      execFileSync(suite.bed.tools.buildx, argv, { env: buildxEnv, stdio: 'ignore' });
    const inspect = execFileSync(suite.bed.tools.buildx, ['inspect', 'buildkit-step'], {
      env: buildxEnv,
      encoding: 'utf8',
    });
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(plan.append?.length, 1, run.stdout);
      for (const [platform, endpoint] of Object.entries(endpoints)) {
        assert.ok(inspect.includes(endpoint), `${endpoint} is a node:\n${inspect}`);
        assert.match(inspect, new RegExp(`${platform}\\*`), `${platform} is declared:\n${inspect}`);
      }
    });
  });

  test('each platform builds on its own daemon; the result is one index with both manifests', async () => {
    const host = suite.bed.registry.host;
    const run = await suite.step(
      'multiarch',
      { Dockerfile: 'FROM scratch\nCOPY hello.txt /hello.txt\n', 'hello.txt': 'native\n' },
      {
        image: `${host}/team/multiarch`,
        tags: ['1'],
        push: true,
        provenance: 'none',
        platform_endpoints: Object.fromEntries(PLATFORMS.map((platform) => [platform, nodes.get(platform)!.endpoint])),
      },
      { env: { PARAM_ENDPOINT: '' } },
    );
    const index =
      run.exitCode === 0
        ? await manifest<{ manifests?: Array<{ platform?: { architecture: string } }> }>(host, 'team/multiarch', '1')
        : undefined;
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      assert.deepEqual(
        index?.manifests?.map((entry) => entry.platform?.architecture).sort(),
        ['amd64', 'arm64'],
        'one index, a manifest per platform',
      );
      assert.equal(run.results.IMAGE_DIGEST?.startsWith('sha256:'), true);
      const amd64 = new Set(builtPlatforms(nodes.get('linux/amd64')!));
      const arm64 = new Set(builtPlatforms(nodes.get('linux/arm64')!));
      assert.ok(
        amd64.has('linux/amd64') && !amd64.has('linux/arm64'),
        `the amd64 daemon built only amd64: ${[...amd64].join(', ')}`,
      );
      assert.ok(
        arm64.has('linux/arm64') && !arm64.has('linux/amd64'),
        `the arm64 daemon built only arm64: ${[...arm64].join(', ')}`,
      );
    });
  });
});
