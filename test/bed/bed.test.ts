// Proves the bed building blocks against the real buildkitd, buildx and registry: TLS, auth, SSH and a flaky proxy.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { probeDaemon } from '../../src/daemon/probe.js';
import { startAuthRegistry, type AuthRegistry } from './auth-registry.js';
import { startBuildkitd, type Buildkitd } from './buildkitd.js';
import { createRemoteBuilder, errorLines, runBuildx, type BuildxResult } from './buildx-run.js';
import { isManifestPut, startFlakyProxy, type FlakyProxy, type FlakyProxyOptions } from './flaky-proxy.js';
import { startBed, tempDir, type Bed } from './index.js';
import { imageManifests, layoutIndex, readImageFile } from './oci.js';
import { freePort } from './registry.js';
import { makeSshKey, seedSshImage } from './ssh-image.js';
import { daemonTls, makeTlsFiles, tlsMaterial, type TlsFiles } from './tls.js';

let bed: Bed | undefined;
const dirs: string[] = [];
const scratch = (prefix: string): string => {
  const dir = tempDir(prefix);
  dirs.push(dir);
  return dir;
};

before(async () => {
  bed = await startBed();
});
after(async () => {
  await bed?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const theBed = (): Bed => {
  if (!bed) throw new Error('the test bed did not start');
  return bed;
};

/** A build context with a Dockerfile and one file of unique content. */
function context(dir: string, dockerfile: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  writeFileSync(path.join(dir, 'hello.txt'), `hello ${randomUUID()}\n`);
  return dir;
}

/** The content of `file` in the single image of an OCI layout. */
function fileInLayout(layout: string, file: string): string {
  const top = layoutIndex(layout);
  assert.equal(top.length, 1, `one image in ${layout}`);
  const manifests = imageManifests(layout, top[0]!.digest);
  assert.equal(manifests.length, 1);
  return readImageFile(layout, manifests[0]!, file);
}

const describeFailure = (result: BuildxResult): string =>
  `buildx exit ${result.code}${result.timedOut ? ' (timed out)' : ''}:\n${result.stderr}`;

describe('tls: buildkitd on loopback TCP with mutual TLS', () => {
  let files: TlsFiles;
  let daemon: Buildkitd | undefined;
  let endpoint = '';
  let dir = '';

  before(async () => {
    const { tools } = theBed();
    dir = scratch('tls');
    files = makeTlsFiles(path.join(dir, 'pki'));
    endpoint = `tcp://127.0.0.1:${await freePort()}`;
    try {
      daemon = await startBuildkitd(tools, {
        dir: path.join(dir, 'buildkitd'),
        tcpAddress: endpoint,
        tls: daemonTls(files),
      });
    } catch (error) {
      throw new Error(`TLS buildkitd did not start: ${(error as Error).message}`, { cause: error });
    }
  });
  after(async () => {
    await daemon?.stop();
  });

  test('makeTlsFiles lays the client side out like a mounted Secret', () => {
    assert.deepEqual(
      [files.client.ca, files.client.cert, files.client.key].map((file) => path.relative(files.client.dir, file)),
      ['ca.pem', 'cert.pem', 'key.pem'],
    );
  });

  test('the probe succeeds with the right CA and client certificate', async () => {
    const result = await probeDaemon(endpoint, tlsMaterial(files.client), 5000);
    assert.deepEqual(result.ok, true, JSON.stringify(result));
  });

  test('the probe also succeeds with servername=localhost (DNS SAN)', async () => {
    const result = await probeDaemon(endpoint, tlsMaterial(files.client, files.servername), 5000);
    assert.equal(result.ok, true, JSON.stringify(result));
  });

  test('the probe fails for good with the wrong CA', async (t) => {
    const result = await probeDaemon(endpoint, tlsMaterial(files.wrongCa), 5000);
    t.diagnostic(`wrong CA probe: ${JSON.stringify(result)}`);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.transient, false, `wrong CA classified as transient: ${JSON.stringify(result)}`);
  });

  test('the probe without a client certificate fails (recorded)', async (t) => {
    const material = tlsMaterial(files.client);
    const result = await probeDaemon(endpoint, { ca: material.ca }, 5000);
    t.diagnostic(`no client cert probe: ${JSON.stringify(result)}`);
    assert.equal(result.ok, false);
  });

  /** Creates a remote builder with the files of `secret` as driver options and builds a tiny context through it. */
  async function buildOverTls(
    name: string,
    secret: { ca: string; cert: string; key: string },
    withServername: boolean,
    timeoutMs?: number,
  ) {
    const { tools } = theBed();
    const configDir = path.join(dir, `buildx-${name}`);
    await createRemoteBuilder(tools.buildx, configDir, name, endpoint, {
      cacert: secret.ca,
      cert: secret.cert,
      key: secret.key,
      ...(withServername ? { servername: files.servername } : {}),
    });
    const ctx = context(path.join(dir, `ctx-${name}`), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    const layout = path.join(dir, `layout-${name}`);
    const result = await runBuildx(
      tools.buildx,
      ['build', '--builder', name, '--progress', 'plain', '--output', `type=oci,dest=${layout},tar=false`, ctx],
      { configDir, ...(timeoutMs ? { timeoutMs } : {}) },
    );
    return { result, layout };
  }

  test('buildx builds through the remote driver with cacert/cert/key/servername', async (t) => {
    const { result, layout } = await buildOverTls('bedtls', files.client, true);
    assert.equal(result.code, 0, describeFailure(result));
    assert.match(fileInLayout(layout, 'hello.txt'), /^hello /);
    t.diagnostic(
      'driver-opt that worked: cacert=<dir>/ca.pem,cert=<dir>/cert.pem,key=<dir>/key.pem,servername=localhost',
    );
  });

  test('buildx with the wrong CA fails (recorded)', async (t) => {
    const { result } = await buildOverTls('bedtlswrong', files.wrongCa, true, 60_000);
    t.diagnostic(`wrong CA buildx exit ${result.code} timedOut=${result.timedOut}; stderr:\n${result.stderr}`);
    assert.notEqual(result.code, 0);
    assert.equal(result.timedOut, false, 'buildx hung with the wrong CA');
    // buildx hides the TLS error: it retries the connection for 20 s and reports only the deadline.
    assert.match(result.stderr, /ERROR: failed to build: context deadline exceeded/);
  });

  test('buildx also connects without servername (the certificate has an IP SAN)', async () => {
    const { result, layout } = await buildOverTls('bedtlsip', files.client, false);
    assert.equal(result.code, 0, describeFailure(result));
    assert.match(fileInLayout(layout, 'hello.txt'), /^hello /);
  });
});

describe('auth-registry: htpasswd basic auth and docker config dirs', () => {
  let auth: AuthRegistry | undefined;
  let dir = '';
  let configDir = '';

  before(async () => {
    const { tools, buildkitd } = theBed();
    dir = scratch('auth');
    auth = await startAuthRegistry(tools, path.join(dir, 'auth'), 'bed-user', 'bed-pass-123');
    configDir = path.join(dir, 'buildx');
    await createRemoteBuilder(tools.buildx, configDir, 'bedauth', buildkitd.endpoint);
  });
  after(async () => {
    await auth?.stop();
  });

  const push = (name: string, dockerConfig: string) =>
    runBuildx(
      theBed().tools.buildx,
      [
        'build',
        '--builder',
        'bedauth',
        '--progress',
        'plain',
        '--output',
        `type=image,name=${auth!.host}/bed/${name}:1,push=true`,
        context(path.join(dir, `ctx-${name}`), 'FROM scratch\nCOPY hello.txt /hello.txt\n'),
      ],
      { configDir, env: { DOCKER_CONFIG: dockerConfig } },
    );

  test('the registry answers 401 without credentials and 200 with them', async () => {
    assert.equal((await fetch(`http://${auth!.host}/v2/`)).status, 401);
    const basic = Buffer.from(`${auth!.user}:${auth!.password}`).toString('base64');
    assert.equal(
      (await fetch(`http://${auth!.host}/v2/`, { headers: { authorization: `Basic ${basic}` } })).status,
      200,
    );
  });

  test('a push without credentials fails (recorded)', async (t) => {
    const empty = path.join(dir, 'empty-docker-config');
    mkdirSync(empty, { recursive: true });
    const result = await push('nocreds', empty);
    t.diagnostic(`401 buildx exit ${result.code}; error lines:\n${errorLines(result.stderr).join('\n')}`);
    assert.notEqual(result.code, 0, 'push without credentials succeeded');
    assert.match(result.stderr, /401|unauthorized/i);
  });

  test('a push with DOCKER_CONFIG=<dir with config.json> succeeds', async () => {
    const result = await push('withcreds', auth!.dockerConfigDir);
    assert.equal(result.code, 0, describeFailure(result));
    const basic = Buffer.from(`${auth!.user}:${auth!.password}`).toString('base64');
    const manifest = await fetch(`http://${auth!.host}/v2/bed/withcreds/manifests/1`, {
      method: 'HEAD',
      headers: {
        authorization: `Basic ${basic}`,
        accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json',
      },
    });
    assert.equal(manifest.status, 200);
  });

  test('the .dockerconfigjson Secret layout, linked as config.json, authenticates a push', async () => {
    const linked = path.join(dir, 'linked-docker-config');
    mkdirSync(linked, { recursive: true });
    symlinkSync(path.join(auth!.dockerconfigjsonDir, '.dockerconfigjson'), path.join(linked, 'config.json'));
    const result = await push('fromsecret', linked);
    assert.equal(result.code, 0, describeFailure(result));
  });
});

describe('ssh-image: RUN --mount=type=ssh sees the forwarded keys', () => {
  let dir = '';
  let image = '';
  let configDir = '';

  before(async () => {
    const { tools, buildkitd, registry } = theBed();
    dir = scratch('ssh');
    image = seedSshImage(tools, buildkitd.endpoint, registry.host, path.join(dir, 'seed'));
    configDir = path.join(dir, 'buildx');
    await createRemoteBuilder(tools.buildx, configDir, 'bedssh', buildkitd.endpoint);
  });

  const build = (name: string, ssh: string, run: string) => {
    const layout = path.join(dir, `layout-${name}`);
    const ctx = context(path.join(dir, `ctx-${name}`), `FROM ${image}\n${run}\n`);
    return runBuildx(
      theBed().tools.buildx,
      [
        'build',
        '--builder',
        'bedssh',
        '--progress',
        'plain',
        '--ssh',
        ssh,
        '--output',
        `type=oci,dest=${layout},tar=false`,
        ctx,
      ],
      { configDir },
    ).then((result) => ({ result, layout }));
  };

  test('--ssh default=<key>: RUN --mount=type=ssh sees the key (its fingerprint in ssh-add -l)', async () => {
    const key = makeSshKey(path.join(dir, 'keys'), 'default_key');
    assert.match(key.fingerprint, /^SHA256:[A-Za-z0-9+/]+$/);
    const { result, layout } = await build(
      'default',
      `default=${key.privateKeyPath}`,
      'RUN --mount=type=ssh ssh-add -l > /fp.txt',
    );
    assert.equal(result.code, 0, describeFailure(result));
    assert.ok(fileInLayout(layout, 'fp.txt').includes(key.fingerprint), 'fingerprint in /fp.txt');
  });

  test('--ssh deploy=<key>: RUN --mount=type=ssh,id=deploy sees the key under its id', async () => {
    const key = makeSshKey(path.join(dir, 'keys'), 'deploy_key');
    const { result, layout } = await build(
      'deploy',
      `deploy=${key.privateKeyPath}`,
      'RUN --mount=type=ssh,id=deploy ssh-add -l > /fp.txt',
    );
    assert.equal(result.code, 0, describeFailure(result));
    assert.ok(fileInLayout(layout, 'fp.txt').includes(key.fingerprint), 'fingerprint in /fp.txt');
  });
});

/** PUTs of one manifest per failed push: 2 (containerd) x 4 (buildkit retry handler). */
const PUSH_ATTEMPTS = 8;

describe('flaky-proxy: pushes through a proxy that answers 503', () => {
  const proxies: FlakyProxy[] = [];
  let dir = '';
  let configDir = '';

  before(async () => {
    const { tools, buildkitd } = theBed();
    dir = scratch('flaky');
    configDir = path.join(dir, 'buildx');
    await createRemoteBuilder(tools.buildx, configDir, 'bedflaky', buildkitd.endpoint);
  });
  after(async () => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
  });

  const proxyFor = async (options: FlakyProxyOptions): Promise<FlakyProxy> => {
    const proxy = await startFlakyProxy(theBed().registry.host, options);
    proxies.push(proxy);
    return proxy;
  };
  const push = (proxy: FlakyProxy, name: string) =>
    runBuildx(
      theBed().tools.buildx,
      [
        'build',
        '--builder',
        'bedflaky',
        '--progress',
        'plain',
        '--output',
        `type=image,name=${proxy.host}/x/${name}:1,push=true`,
        context(path.join(dir, `ctx-${name}-${randomUUID()}`), 'FROM scratch\nCOPY hello.txt /hello.txt\n'),
      ],
      { configDir },
    );
  const manifestStatus = async (host: string, name: string): Promise<number> =>
    (
      await fetch(`http://${host}/v2/x/${name}/manifests/1`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' },
      })
    ).status;

  test('reads pass through untouched', async () => {
    const proxy = await proxyFor({ failFirst: 1 });
    const response = await fetch(`http://${proxy.host}/v2/`);
    assert.equal(response.status, 200);
    assert.equal(proxy.failures(), 0);
  });

  test('one injected 503 on an upload is retried away by buildkit (recorded)', async (t) => {
    const proxy = await proxyFor({ failFirst: 1, status: 503 });
    const result = await push(proxy, 'retried');
    t.diagnostic(`proxy log:\n${proxy.log().join('\n')}`);
    assert.equal(result.code, 0, describeFailure(result));
    assert.equal(proxy.failures(), 1);
    assert.equal(await manifestStatus(proxy.host, 'retried'), 200);
  });

  test('a push fails while 503s remain and succeeds after', async (t) => {
    // buildkit absorbs 7 503s per request (containerd retries once at once, buildkit's handler after 1, 2 and 4 s),
    // so exactly 8 on the tag manifest fail one push and leave none for the next.
    const proxy = await proxyFor({ failFirst: PUSH_ATTEMPTS, status: 503, match: isManifestPut('1') });
    const first = await push(proxy, 'y');
    t.diagnostic(
      `503 (registry JSON body) buildx exit ${first.code}; error lines:\n${errorLines(first.stderr).join('\n')}`,
    );
    assert.notEqual(first.code, 0, `push through the flaky proxy succeeded with failures=${proxy.failures()}`);
    assert.equal(proxy.failures(), PUSH_ATTEMPTS);
    assert.match(first.stderr, /503 Service Unavailable/);
    assert.notEqual(await manifestStatus(proxy.host, 'y'), 200);
    const second = await push(proxy, 'y');
    assert.equal(second.code, 0, describeFailure(second));
    assert.equal(proxy.failures(), PUSH_ATTEMPTS);
    assert.ok(proxy.requests() > PUSH_ATTEMPTS);
    assert.equal(await manifestStatus(proxy.host, 'y'), 200);
  });

  test('a 503 with a plain-text body fails the same way (recorded)', async (t) => {
    const proxy = await proxyFor({
      failFirst: PUSH_ATTEMPTS,
      status: 503,
      match: isManifestPut('1'),
      body: 'upstream busy\n',
    });
    const result = await push(proxy, 'plain');
    t.diagnostic(`503 (plain body) buildx exit ${result.code}; error lines:\n${errorLines(result.stderr).join('\n')}`);
    assert.notEqual(result.code, 0);
    assert.equal(proxy.failures(), PUSH_ATTEMPTS);
  });
});
