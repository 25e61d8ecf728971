// Registries as companies run them, on addresses that are not loopback (a network namespace the
// bed makes), so BuildKit applies its real rules: plain HTTP, a private CA, a pull-through mirror
// and an HTTP proxy. Each case is a real buildx build against a real buildkitd started with the
// buildkitd.toml that the step's own writer makes from the params.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { daemonConfigToml, proxyEnv, registrySettings, type RegistryParams } from '../../src/registries.js';
import { startBuildkitd, type Buildkitd } from '../bed/buildkitd.js';
import { startForwardProxy } from '../bed/forward-proxy.js';
import { tempDir } from '../bed/index.js';
import { createNetns, netnsExists, type Netns } from '../bed/netns.js';
import { startRegistry, storedTagDigest, type Registry } from '../bed/registry.js';
import { seedBusybox } from '../bed/seed.js';
import { makeRegistryTls } from '../bed/tls.js';
import { findTools, type Tools } from '../bed/tools.js';
import YAML from 'yaml';
import { probeDaemon } from '../../src/daemon/probe.js';
import { startDaemon, waitUntil, type Daemon } from '../bed/process.js';
import { FILES } from '../../scripts/gen-tasks.js';
import { REPO, runCli, writeContext, type CliRun } from '../helpers.js';

type TaskYaml = {
  spec: {
    sidecars: Array<{
      name: string;
      command?: string[];
      args?: string[];
      env?: Array<{ name: string; value: string }>;
    }>;
  };
};

const work = tempDir('e2e-registries');
let tools: Tools;
let netns: Netns | undefined;
let failed = false;
const daemons: Daemon[] = [];
/** The plain-HTTP registry, the HTTPS one (private CA), the mirror's upstream, the mirror. */
let http: Registry, https: Registry, upstream: Registry, mirror: Registry;
let ca: string;
/** Every setting the cases need, as params. */
let all: RegistryParams;

const check = <T>(assertions: () => T): T => {
  try {
    return assertions();
  } catch (error) {
    failed = true;
    throw error;
  }
};

/** A buildkitd of its own (empty cache), with the buildkitd.toml the params give, if any. */
async function daemon(name: string, params: RegistryParams = {}, env?: NodeJS.ProcessEnv): Promise<Buildkitd> {
  const dir = path.join(work, 'daemons', name);
  mkdirSync(dir, { recursive: true });
  const toml = daemonConfigToml(registrySettings(params));
  const config = toml ? path.join(dir, 'buildkitd.toml') : undefined;
  if (config) writeFileSync(config, toml);
  const started = await startBuildkitd(tools, { dir, config, env });
  daemons.push(started);
  return started;
}

/** Runs the step against `endpoint` with `params` as PARAM_* env; its dir is `work/name`. */
async function step(
  name: string,
  endpoint: string,
  files: Record<string, string>,
  params: Record<string, unknown>,
): Promise<CliRun> {
  const dir = path.join(work, name);
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    BUILDKIT_STEP_BUILDX: tools.buildx,
    PARAM_ENDPOINT: endpoint,
    PARAM_DAEMON_TIMEOUT: '30',
    PARAM_RETRIES: '0',
    PARAM_CONTEXT: writeContext(path.join(dir, 'src'), files),
    TMPDIR: path.join(dir, 'tmp'),
    BUILDKIT_STEP_STATE_DIR: path.join(dir, 'state'),
  };
  for (const [key, value] of Object.entries(params))
    env[`PARAM_${key.toUpperCase()}`] = typeof value === 'string' ? value : JSON.stringify(value);
  return runCli({ resultsDir: path.join(dir, 'results'), env });
}

const registryDir = (registry: Registry) => path.dirname(registry.logFile);
const fromBusybox = (registry: Registry) => ({
  Dockerfile: `FROM ${registry.host}/bed/busybox:latest\nRUN echo built > /built.txt\n`,
});

describe('registries on non-loopback addresses', () => {
  before(async () => {
    tools = findTools();
    netns = createNetns(4);
    const [httpAddress = '', httpsAddress = '', upstreamAddress = '', mirrorAddress = ''] = netns.addresses;
    const inNetns = (dir: string, address: string) => ({
      dir: path.join(work, dir),
      listen: { address, port: 5000 },
      wrap: netns!.exec,
    });
    try {
      const tls = makeRegistryTls(path.join(work, 'tls'), httpsAddress);
      ca = tls.ca;
      http = await startRegistry(tools, inNetns('http', httpAddress));
      https = await startRegistry(tools, { ...inNetns('https', httpsAddress), tls: { cert: tls.cert, key: tls.key } });
      upstream = await startRegistry(tools, inNetns('upstream', upstreamAddress));
      mirror = await startRegistry(tools, {
        ...inNetns('mirror', mirrorAddress),
        proxyRemoteUrl: `http://${upstream.host}`,
        logLevel: 'info',
      });
      daemons.push(http, https, upstream, mirror);
      all = {
        registry_http: [http.host, upstream.host, mirror.host],
        registry_ca: { [https.host]: [ca] },
        registry_mirrors: { [upstream.host]: [mirror.host] },
      };
      // Seeded by a daemon that has every setting; the cases use daemons with empty caches.
      const seeder = await daemon('seeder', all);
      for (const registry of [http, https, upstream])
        seedBusybox(tools, seeder.endpoint, registry.host, path.join(work, 'seed', registry.host));
      process.stderr.write(
        `registries bed: netns ${netns.name}, http ${http.host}, https ${https.host}, upstream ${upstream.host}, mirror ${mirror.host}\n`,
      );
    } catch (error) {
      failed = true;
      throw new Error(
        `registries bed failed to start: ${(error as Error).message}${(error as { stderr?: Buffer }).stderr ? `\n${String((error as { stderr?: Buffer }).stderr)}` : ''}`,
        { cause: error },
      );
    }
  });

  after(async () => {
    if (failed)
      for (const started of daemons) process.stderr.write(`--- ${started.name} log tail ---\n${started.logTail()}\n`);
    await Promise.all(daemons.map((started) => started.stop()));
    const name = netns?.name;
    netns?.remove();
    if (name) assert.equal(netnsExists(name), false, `the network namespace ${name} was removed`);
    rmSync(work, { recursive: true, force: true });
  });

  test('plain HTTP: without registry_http the build fails with REGISTRY_TLS saying what to set', async () => {
    const bare = await daemon('http-bare');
    const run = await step('http-bare', bare.endpoint, fromBusybox(http), {
      image: `${http.host}/team/app`,
      tags: ['1'],
      push: true,
    });
    check(() => {
      assert.equal(run.exitCode, 13, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'REGISTRY_TLS');
      assert.match(
        run.results.ERROR_MESSAGE ?? '',
        new RegExp(`${http.host.replaceAll('.', '\\.')} answers plain HTTP: list it in registry_http`),
      );
    });
  });

  test('plain HTTP: with registry_http, FROM and push work (daemon config from the same param)', async () => {
    const params = { registry_http: [http.host] };
    const configured = await daemon('http-configured', params);
    const run = await step('http-configured', configured.endpoint, fromBusybox(http), {
      image: `${http.host}/team/app`,
      tags: ['1'],
      push: true,
      ...params,
    });
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(
        storedTagDigest(registryDir(http), 'team/app', '1'),
        run.results.IMAGE_DIGEST,
        'the push reached the plain-HTTP registry',
      );
    });
  });

  test('plain HTTP, step side alone: a daemon without config pushes image and cache because the step marks them registry.insecure', async () => {
    // A shared daemon whose config the step cannot change: FROM scratch needs no pull, the push and cache export need registry.insecure.
    const bare = await daemon('http-step-side');
    const files = { Dockerfile: 'FROM scratch\nCOPY hello.txt /\n', 'hello.txt': 'hello\n' };
    const base = {
      image: `${http.host}/team/step-side`,
      tags: ['1'],
      push: true,
      cache_repo: `${http.host}/team/step-side-cache`,
      cache_export_fatal: true,
    };
    const without = await step('http-step-side-without', bare.endpoint, files, base);
    const run = await step('http-step-side', bare.endpoint, files, { ...base, registry_http: [http.host] });
    check(() => {
      assert.equal(without.results.ERROR_REASON, 'REGISTRY_TLS', without.stderr);
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(storedTagDigest(registryDir(http), 'team/step-side', '1'), run.results.IMAGE_DIGEST);
      assert.ok(storedTagDigest(registryDir(http), 'team/step-side-cache', 'buildcache'), 'the cache was exported');
    });
  });

  test('private CA: without the CA the build fails with REGISTRY_TLS naming registry_ca', async () => {
    const bare = await daemon('ca-bare');
    const run = await step('ca-bare', bare.endpoint, fromBusybox(https), {
      image: `${https.host}/team/app`,
      tags: ['1'],
      push: true,
    });
    check(() => {
      assert.equal(run.exitCode, 13, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'REGISTRY_TLS');
      assert.match(run.results.ERROR_MESSAGE ?? '', /is not trusted by the daemon: give its CA in registry_ca/);
      assert.ok(run.results.ERROR_MESSAGE?.includes(https.host), run.results.ERROR_MESSAGE);
    });
  });

  test('private CA: with registry_ca, pull, push and registry cache work; a fresh daemon imports the cache', async () => {
    const params = { registry_ca: { [https.host]: [ca] } };
    const build = {
      image: `${https.host}/team/app`,
      tags: ['1'],
      push: true,
      cache_repo: `${https.host}/team/cache`,
      cache_export_fatal: true,
      ...params,
    };
    const first = await step('ca-first', (await daemon('ca-first', params)).endpoint, fromBusybox(https), build);
    const pushed = storedTagDigest(registryDir(https), 'team/app', '1');
    const second = await step('ca-second', (await daemon('ca-second', params)).endpoint, fromBusybox(https), build);
    check(() => {
      assert.equal(first.exitCode, 0, first.stderr);
      assert.equal(pushed, first.results.IMAGE_DIGEST, 'pushed over HTTPS');
      assert.ok(storedTagDigest(registryDir(https), 'team/cache', 'buildcache'), 'the cache was exported over HTTPS');
      assert.equal(second.exitCode, 0, second.stderr);
      const summary = JSON.parse(second.stdout.trim().split('\n').pop() ?? '{}') as {
        steps: number;
        cachedSteps: number;
      };
      // The FROM step is a lazy pull, never "CACHED"; the RUN can only come from the registry cache on a daemon with an empty cache.
      assert.equal(
        summary.cachedSteps,
        1,
        `the fresh daemon took the RUN from the HTTPS cache: ${JSON.stringify(summary)}`,
      );
      assert.ok(
        second.stderr.includes(`importing cache manifest from ${https.host}/team/cache:buildcache`),
        'imported over HTTPS',
      );
    });
  });

  test('mirror: FROM the upstream host is served by the pull-through mirror, still when the upstream is down', async () => {
    const params = {
      registry_mirrors: { [upstream.host]: [mirror.host] },
      registry_http: [upstream.host, mirror.host],
    };
    const image = (tag: string) => ({
      image: `${upstream.host}/team/mirrored`,
      tags: [tag],
      source_date_epoch: 1,
      ...params,
    });
    const warm = await step(
      'mirror-warm',
      (await daemon('mirror-warm', params)).endpoint,
      fromBusybox(upstream),
      image('warm'),
    );
    const servedWarm = mirror.logTail(400);
    await upstream.stop();
    const cold = await step(
      'mirror-upstream-down',
      (await daemon('mirror-upstream-down', params)).endpoint,
      fromBusybox(upstream),
      image('down'),
    );
    check(() => {
      assert.equal(warm.exitCode, 0, warm.stderr);
      assert.match(servedWarm, /\/v2\/bed\/busybox\/manifests\/latest/, 'the mirror served the base manifest');
      assert.match(servedWarm, /\/v2\/bed\/busybox\/blobs\/sha256:/, 'the mirror served the base layers');
      assert.equal(upstream.isRunning(), false);
      assert.equal(cold.exitCode, 0, cold.stderr);
      assert.equal(cold.results.IMAGE_DIGEST, warm.results.IMAGE_DIGEST, 'the same base, from the mirror alone');
    });
  });

  test("the shipped Task's sidecar launcher configures a real buildkitd from the same params as the step", async () => {
    // The sidecar exactly as tasks/ ships it (command, args, env), with the image's entrypoint and
    // the pod's paths swapped for the bed's buildkitd and dirs, and Tekton's $(params.X) filled in.
    const task = YAML.parse(readFileSync(path.join(REPO, FILES.task), 'utf8')) as TaskYaml;
    const sidecar = task.spec.sidecars.find((container) => container.name === 'buildkitd')!;
    const [shell, dashC, script, name] = sidecar.command ?? [];
    assert.deepEqual([shell, dashC, name], ['sh', '-c', 'buildkitd-launcher'], 'the sidecar runs the launcher');
    const values: Record<string, string> = {
      REGISTRY_HTTP: JSON.stringify([http.host]),
      REGISTRY_CA: JSON.stringify({ [https.host]: [ca] }),
    };
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
    for (const entry of sidecar.env ?? [])
      env[entry.name] = entry.value.replace(/^\$\(params\.([A-Z_]+)\)$/, (_, param: string) => values[param] ?? '');
    assert.ok(
      env.PARAM_REGISTRY_HTTP && env.PARAM_REGISTRY_CA,
      `the sidecar gets the registry params: ${JSON.stringify(sidecar.env)}`,
    );
    const dir = path.join(work, 'daemons', 'launcher');
    mkdirSync(dir, { recursive: true });
    env.TMPDIR = dir;
    const endpoint = `unix://${path.join(dir, 'buildkitd.sock')}`;
    const daemonArgs = [
      '--addr',
      endpoint,
      '--root',
      path.join(dir, 'state'),
      '--oci-worker-binary',
      tools.runc,
      '--containerd-worker=false',
    ];
    const launched = startDaemon(
      'sidecar launcher',
      'busybox',
      ['sh', '-c', script!, name!, tools.buildkitd, ...daemonArgs],
      path.join(dir, 'launcher.log'),
      env,
    );
    daemons.push(launched);
    await waitUntil(launched, async () => (await probeDaemon(endpoint, undefined, 2000)).ok, 30_000);
    const run = await step('launcher', endpoint, fromBusybox(https), {
      image: `${http.host}/team/launched`,
      tags: ['1'],
      push: true,
      registry_http: [http.host],
      registry_ca: { [https.host]: [ca] },
    });
    check(() => {
      assert.match(launched.logTail(200), /buildkitd-launcher: registry params applied: --config /);
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(
        storedTagDigest(registryDir(http), 'team/launched', '1'),
        run.results.IMAGE_DIGEST,
        'pulled over HTTPS with the CA, pushed over plain HTTP',
      );
    });
  });

  test("proxy: the daemon's registry traffic goes through HTTP(S)_PROXY", async () => {
    const proxy = await startForwardProxy();
    try {
      const params = {
        registry_http: [http.host],
        registry_ca: { [https.host]: [ca] },
        http_proxy: proxy.url,
        https_proxy: proxy.url,
      };
      const proxied = await daemon('proxied', params, proxyEnv(params));
      const run = await step('proxied', proxied.endpoint, fromBusybox(http), {
        image: `${https.host}/team/proxied`,
        tags: ['1'],
        push: true,
        ...params,
      });
      const log = proxy.log();
      check(() => {
        assert.equal(run.exitCode, 0, run.stderr);
        assert.ok(
          log.some((line) => new RegExp(`^(HEAD|GET) http://${http.host}/v2/bed/busybox/manifests/latest$`).test(line)),
          `plain HTTP pull through the proxy:\n${log.join('\n')}`,
        );
        assert.ok(log.includes(`CONNECT ${https.host}`), `HTTPS push tunnelled through the proxy:\n${log.join('\n')}`);
        assert.equal(storedTagDigest(registryDir(https), 'team/proxied', '1'), run.results.IMAGE_DIGEST);
      });
    } finally {
      await proxy.close();
    }
  });
});
