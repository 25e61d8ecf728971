// The registry cache keyed independently of the image tags, against the real buildkitd, buildx
// and registry: a new tag hits, cache_write false writes nothing, fallbacks are read in order.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startBuildkitd, type Buildkitd } from '../bed/buildkitd.js';
import { imageManifests, readImageFile } from '../bed/oci.js';
import { manifestDigest, registryContents } from '../bed/registry-client.js';
import { bedSuite, type StepRun } from './suite.js';

const suite = bedSuite('cache');
const { work, check } = suite;

type CacheSummary = { found: string[]; missing: string[]; exported: boolean };
const cacheOf = (run: StepRun) => run.summary.cache as CacheSummary;

// Each RUN writes a random value: the same value in a later image proves the step was not run again.
const files = (base: string, app: string) => ({
  Dockerfile: [
    `FROM ${base}`,
    'RUN cat /proc/sys/kernel/random/uuid > /one',
    'RUN cat /proc/sys/kernel/random/uuid > /two',
    'COPY app.txt /app.txt',
  ].join('\n'),
  'app.txt': app,
});
const markers = (run: StepRun) => {
  const layout = (run.summary as { ociLayout: string }).ociLayout;
  const image = imageManifests(layout, run.results.IMAGE_DIGEST!)[0]!;
  return [readImageFile(layout, image, 'one'), readImageFile(layout, image, 'two')];
};

/** A buildkitd with empty state (a fresh pod), stopped after `use`. */
async function onWipedDaemon<T>(name: string, use: (daemon: Buildkitd) => Promise<T>): Promise<T> {
  const daemon = await startBuildkitd(suite.bed.tools, { dir: path.join(work, name) });
  try {
    return await use(daemon);
  } finally {
    await daemon.stop();
  }
}
/** Every file in the bed registry's storage with its size: what a write would change. */
const storageFiles = () => {
  const root = path.join(suite.bed.dir, 'registry', 'storage');
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(root, name))
    .filter((file) => statSync(file).isFile())
    .map((file) => `${path.relative(root, file)} ${statSync(file).size}`)
    .sort();
};
const on = (daemon: Buildkitd) => ({ env: { PARAM_ENDPOINT: daemon.endpoint } });

describe('cache key independent of the tags', () => {
  test('a fresh pod building a new tag after a one-line change hits the RUN layers of the first build', async () => {
    const host = suite.bed.registry.host;
    const cacheRepo = `${host}/team/newtag-cache`;
    const params = { image: `${host}/team/newtag`, cache_repo: cacheRepo, push: true };
    const first = await suite.step('newtag-1', files(suite.bed.busybox, 'v1'), {
      ...params,
      tags: ['3f2c1ab'],
      oci_layout: path.join(work, 'newtag-1-layout'),
    });
    const second = await onWipedDaemon('newtag-daemon', (daemon) =>
      suite.step(
        'newtag-2',
        files(suite.bed.busybox, 'v2'),
        { ...params, tags: ['9e8d7c6'], oci_layout: path.join(work, 'newtag-2-layout') },
        on(daemon),
      ),
    );
    const exported = await manifestDigest(host, 'team/newtag-cache', 'buildcache');
    const perTag = await manifestDigest(host, 'team/newtag-cache', '3f2c1ab');
    check(() => {
      assert.equal(first.exitCode, 0, first.stderr);
      assert.equal(second.exitCode, 0, second.stderr);
      assert.deepEqual(cacheOf(first), { found: [], missing: [`${cacheRepo}:buildcache`], exported: true });
      assert.deepEqual(cacheOf(second), { found: [`${cacheRepo}:buildcache`], missing: [], exported: true });
      assert.ok(exported, 'the cache lives at <cache_repo>:buildcache');
      assert.equal(perTag, undefined, 'no cache per image tag');
      assert.deepEqual(
        markers(second),
        markers(first),
        'both RUN layers came from the first build through the registry cache',
      );
      // BuildKit reports the last remote-cache hit before a change as DONE (it fetches its layers), not CACHED.
      assert.ok((second.summary.cachedSteps as number) >= 1, 'BuildKit reports the first RUN as CACHED');
      assert.match(
        second.stderr,
        /cache: found 127\.0\.0\.1:\d+\/team\/newtag-cache:buildcache; missing none; exported to /,
      );
    });
  });

  test('cache_write false: the build reads the cache and writes nothing to the registry', async () => {
    const host = suite.bed.registry.host;
    const cacheRepo = `${host}/team/readonly-cache`;
    // A cache to read, written by a trusted build.
    const seeded = await suite.step('readonly-seed', files(suite.bed.busybox, 'v1'), {
      image: `${host}/team/readonly`,
      tags: ['main'],
      cache_repo: cacheRepo,
      cache_key: 'main',
    });
    const before = { contents: await registryContents(host), files: storageFiles() };
    const untrusted = await onWipedDaemon('readonly-daemon', (daemon) =>
      suite.step(
        'readonly-pr',
        files(suite.bed.busybox, 'pull request'),
        {
          image: `${host}/team/readonly`,
          tags: ['pr-7'],
          cache_repo: cacheRepo,
          cache_key: 'pr-7',
          cache_fallback_keys: ['main'],
          cache_write: false,
          cache_to: [`type=registry,ref=${cacheRepo}:extra`],
        },
        on(daemon),
      ),
    );
    const after = { contents: await registryContents(host), files: storageFiles() };
    check(() => {
      assert.equal(seeded.exitCode, 0, seeded.stderr);
      assert.equal(untrusted.exitCode, 0, untrusted.stderr);
      assert.ok(before.contents[`team/readonly-cache:main`], 'the seed wrote its cache');
      assert.ok(before.files.length > 0);
      assert.deepEqual(after.contents, before.contents, 'no repository, tag or manifest changed');
      assert.deepEqual(after.files, before.files, "no file in the registry's storage was added or changed");
      assert.deepEqual(cacheOf(untrusted), {
        found: [`${cacheRepo}:main`],
        missing: [`${cacheRepo}:pr-7`],
        exported: false,
      });
      assert.deepEqual(markers(untrusted), markers(seeded), 'the RUN steps came from the fallback');
      assert.doesNotMatch(untrusted.stderr, /exporting cache/);
    });
  });

  test('fallback keys are read besides the key, and a later one is used when the earlier ones hold other layers', async () => {
    const host = suite.bed.registry.host;
    const cacheRepo = `${host}/team/fallback-cache`;
    const params = { image: `${host}/team/fallback`, tags: ['1'], cache_repo: cacheRepo };
    // Two branches whose Dockerfiles differ in their first RUN: their caches share no layer.
    const branch = (name: string, app: string) => {
      const base = files(suite.bed.busybox, app);
      return { ...base, Dockerfile: base.Dockerfile.replace('\nRUN ', `\nRUN echo ${name} > /branch\nRUN `) };
    };
    const release = await onWipedDaemon('fallback-release', (daemon) =>
      suite.step('fallback-release', branch('release', 'r'), { ...params, cache_key: 'release/2.x' }, on(daemon)),
    );
    const main = await onWipedDaemon('fallback-main', (daemon) =>
      suite.step('fallback-main', branch('main', 'm'), { ...params, cache_key: 'main' }, on(daemon)),
    );
    // A feature branch off main, first build: its own key misses, release has nothing for it, main has.
    const feature = await onWipedDaemon('fallback-feature', (daemon) =>
      suite.step(
        'fallback-feature',
        branch('main', 'f'),
        { ...params, cache_key: 'feature/login', cache_fallback_keys: ['release/2.x', 'main'], cache_write: false },
        on(daemon),
      ),
    );
    // Without main among the fallbacks the same build runs its RUN steps again.
    const without = await onWipedDaemon('fallback-without', (daemon) =>
      suite.step(
        'fallback-without',
        branch('main', 'f'),
        { ...params, cache_key: 'feature/login', cache_fallback_keys: ['release/2.x'], cache_write: false },
        on(daemon),
      ),
    );
    check(() => {
      for (const run of [release, main, feature, without]) assert.equal(run.exitCode, 0, run.stderr);
      // BuildKit fetches the imports at once, so its progress lists them in any order; the
      // summary lists them in the order of the params.
      const imports = [...feature.stderr.matchAll(/^#\d+ importing cache manifest from (\S+)$/gm)].map(
        (match) => match[1],
      );
      assert.deepEqual(
        imports.sort(),
        [`${cacheRepo}:feature-login`, `${cacheRepo}:main`, `${cacheRepo}:release-2.x`],
        'the key (a branch made a tag) and every fallback',
      );
      assert.deepEqual(cacheOf(feature), {
        found: [`${cacheRepo}:release-2.x`, `${cacheRepo}:main`],
        missing: [`${cacheRepo}:feature-login`],
        exported: false,
      });
      assert.deepEqual(markers(feature), markers(main), 'the RUN layers came from the main fallback');
      assert.notDeepEqual(markers(without), markers(main), 'without it they are built again');
      assert.deepEqual(cacheOf(without), {
        found: [`${cacheRepo}:release-2.x`],
        missing: [`${cacheRepo}:feature-login`],
        exported: false,
      });
    });
  });
});
