// Leak scan: unique secret values through every secret route, one real build that uses them
// all, and a search for them everywhere they must not be: process argv and the environment of
// the step's descendants while it runs, its output, results, metadata and every file it leaves.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { startAuthRegistry } from '../bed/auth-registry.js';
import { createNetns } from '../bed/netns.js';
import { storedTagDigest } from '../bed/registry.js';
import { startBuildkitd } from '../bed/buildkitd.js';
import { imageManifests, readImageFile } from '../bed/oci.js';
import { freePort } from '../bed/registry.js';
import { manifestDigest } from '../bed/registry-client.js';
import { makeSshKey, seedSshImage } from '../bed/ssh-image.js';
import { daemonTls, makeTlsFiles } from '../bed/tls.js';
import { writeContext } from '../helpers.js';
import { bedSuite, type StepRun } from './suite.js';

const suite = bedSuite('leak');
const { work, check } = suite;

const unique = (label: string) => `LEAK-${label}-${randomBytes(12).toString('hex')}`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Every form a secret could take in text: itself, its lines, base64 and JSON-escaped. */
function forms(secret: string): string[] {
  const lines = secret
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length >= 16 && !/^-----(BEGIN|END) /.test(line));
  return [
    ...new Set([secret.trim(), ...lines, Buffer.from(secret).toString('base64'), JSON.stringify(secret).slice(1, -1)]),
  ].filter((form) => form.length >= 16);
}

/** /proc/<pid>/<file>, or '' when the process is gone or not ours to read. */
function procFile(pid: string, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * Samples every process's argv, and the environment of `root`'s descendants (not of `root`
 * itself: the step gets its params, secrets included, in its own environment), every ~50 ms.
 */
function startSampler() {
  const seen = new Map<string, string>();
  let root: number | undefined;
  let samples = 0;
  const sample = () => {
    samples++;
    const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
    const parent = new Map(
      pids.map((pid) => [
        pid,
        procFile(pid, 'stat')
          .replace(/^.*\) /s, '')
          .split(' ')[1] ?? '',
      ]),
    );
    const descends = (pid: string) => {
      for (let at = parent.get(pid), hops = 0; at && hops < 64; at = parent.get(at), hops++)
        if (at === String(root)) return true;
      return false;
    };
    for (const pid of pids) {
      const cmdline = procFile(pid, 'cmdline');
      if (cmdline) seen.set(`cmdline ${pid} ${cmdline.slice(0, 60)}`, cmdline);
      if (root !== undefined && descends(pid))
        seen.set(`environ ${pid} (${cmdline.slice(0, 60)})`, procFile(pid, 'environ'));
    }
  };
  const timer = setInterval(sample, 50);
  return {
    setRoot: (pid: number | undefined) => (root ??= pid),
    stop: () => {
      clearInterval(timer);
      return { seen, samples };
    },
  };
}

/** Every regular file under `dir` (gz blobs also decompressed), except under `skip`. */
function filesUnder(dir: string, skip: readonly string[] = [], since = 0): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (at: string) => {
    if (skip.some((prefix) => at.startsWith(prefix))) return;
    let entries: string[];
    try {
      entries = readdirSync(at);
    } catch {
      return;
    }
    for (const name of entries) {
      const file = path.join(at, name);
      let stats;
      try {
        stats = statSync(file);
      } catch {
        continue;
      }
      if (stats.isDirectory()) walk(file);
      else if (stats.isFile() && stats.size <= 8 * 1024 * 1024 && stats.mtimeMs >= since) {
        const content = readFileSync(file);
        out.push([file, content.toString('latin1')]);
        if (content[0] === 0x1f && content[1] === 0x8b) {
          try {
            out.push([`${file} (gunzipped)`, gunzipSync(content).toString('latin1')]);
          } catch {
            // not gzip after all
          }
        }
      }
    }
  };
  walk(dir);
  return out;
}

describe('leak scan', () => {
  test('secrets from every route are used by the build and appear nowhere else', async () => {
    const started = Date.now();
    const inputs = path.join(work, 'inputs');
    // 1. Build secrets: env JSON, and a mounted Secret dir with a one-line and a multi-line value.
    const envSecret = unique('env-secret');
    const fileSecret = unique('file-secret');
    const multiLine = `-----BEGIN TOKEN-----\n${unique('multi-1')}\n${unique('multi-2')}, "quoted" = \\x\n-----END TOKEN-----\n`;
    const secretsDir = writeContext(path.join(inputs, 'secrets'), { filesecret: fileSecret, multiline: multiLine });
    // 2. SSH keys: env JSON, a kubernetes.io/ssh-auth dir, a key file.
    const keys = path.join(inputs, 'keys');
    const envKey = makeSshKey(keys, 'env');
    const dirKey = makeSshKey(keys, 'dir');
    const fileKey = makeSshKey(keys, 'file');
    const envKeyText = readFileSync(envKey.privateKeyPath, 'utf8');
    const sshDir = writeContext(path.join(inputs, 'ssh-auth'), {
      'ssh-privatekey': readFileSync(dirKey.privateKeyPath, 'utf8'),
    });
    // 3. Registry credentials for an htpasswd registry.
    const user = `u${randomBytes(4).toString('hex')}`;
    const password = unique('registry-password');
    const auth = await startAuthRegistry(suite.bed.tools, path.join(work, 'auth-registry'), user, password);
    // 4. An mTLS client key for a TCP daemon.
    const tls = makeTlsFiles(path.join(inputs, 'tls'));
    const address = `tcp://127.0.0.1:${await freePort()}`;
    const fleet = await startBuildkitd(suite.bed.tools, {
      dir: path.join(work, 'tls-daemon'),
      tcpAddress: address,
      tls: daemonTls(tls),
    });
    const sshImage = seedSshImage(
      suite.bed.tools,
      suite.bed.buildkitd.endpoint,
      suite.bed.registry.host,
      path.join(work, 'ssh-image'),
    );
    const secrets: Array<[string, string]> = [
      ['secrets (env JSON)', envSecret],
      ['secrets_dir file', fileSecret],
      ['secrets_dir multi-line file', multiLine],
      ['ssh (env JSON)', envKeyText],
      ['ssh_dir key', readFileSync(dirKey.privateKeyPath, 'utf8')],
      ['ssh_key_files key', readFileSync(fileKey.privateKeyPath, 'utf8')],
      ['registry password', password],
      ['registry auth (base64 user:password)', Buffer.from(`${user}:${password}`).toString('base64')],
      ['mTLS client key', readFileSync(tls.client.key, 'utf8')],
    ];

    const dockerfile = [
      `FROM ${sshImage}`,
      'RUN --mount=type=secret,id=envsecret --mount=type=secret,id=filesecret --mount=type=secret,id=multiline \\',
      '    for id in envsecret filesecret multiline; do sha256sum /run/secrets/$id | cut -d" " -f1; done > /secrets.sum && sleep 2',
      'RUN --mount=type=ssh ssh-add -l > /default.txt && sleep 1',
      'RUN --mount=type=ssh,id=deploy ssh-add -l > /deploy.txt',
    ].join('\n');
    const sampler = startSampler();
    let run: StepRun;
    let sampled: Map<string, string>;
    let pushed: string | undefined;
    try {
      try {
        run = await suite.step(
          'leak',
          { Dockerfile: dockerfile },
          {
            image: `${auth.host}/team/leak`,
            tags: ['1'],
            push: true,
            oci_layout: path.join(work, 'leak', 'out', 'layout'),
            secrets_dir: secretsDir,
            ssh_dir: sshDir,
            ssh_key_files: [{ key: 'deploy', value: fileKey.privateKeyPath }],
            docker_config: auth.dockerConfigDir,
            endpoint: address,
            tls_dir: tls.client.dir,
            tls_server_name: tls.servername,
          },
          {
            // The inline secrets come as one JSON document, as a pipeline passes them from a Secret.
            env: {
              BUILDKIT_STEP_PARAMS: JSON.stringify({
                secrets: [{ key: 'envsecret', value: envSecret }],
                ssh: [{ key: 'deploy', value: envKeyText }],
              }),
            },
            onStderr: (_, child) => sampler.setRoot(child.pid),
          },
        );
      } finally {
        const stopped = sampler.stop();
        sampled = stopped.seen;
        assert.ok(stopped.samples >= 10, `the sampler ran (${stopped.samples} samples)`);
      }
      pushed = await manifestDigest(auth.host, 'team/leak', '1', { user, password });
    } finally {
      await fleet.stop();
      await auth.stop();
    }

    // The build used every secret, so a scan that finds nothing means something.
    check(() => {
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(pushed, run.results.IMAGE_DIGEST, 'the authenticated push reached the registry');
      const layout = path.join(work, 'leak', 'out', 'layout');
      const image = imageManifests(layout, run.results.IMAGE_DIGEST!)[0]!;
      assert.deepEqual(readImageFile(layout, image, 'secrets.sum').trim().split('\n'), [
        sha256(envSecret),
        sha256(fileSecret),
        sha256(multiLine),
      ]);
      assert.ok(
        readImageFile(layout, image, 'default.txt').includes(dirKey.fingerprint),
        'the ssh_dir key is the default id',
      );
      const deploy = readImageFile(layout, image, 'deploy.txt');
      assert.ok(deploy.includes(envKey.fingerprint) && deploy.includes(fileKey.fingerprint), deploy);
      assert.match(
        run.stderr,
        new RegExp(`BuildKit daemon at ${address.replaceAll('.', '\\.')} answers`),
        'built on the mTLS daemon',
      );
      assert.ok(
        [...sampled.values()].some((text) => /buildx? .*build .*--builder buildkit-step/.test(text)),
        'the sampler saw buildx build running',
      );
      assert.ok(
        [...sampled].some(([where, text]) => where.startsWith('environ') && text.includes('BUILDX_CONFIG=')),
        "the sampler read buildx's environment",
      );
    });

    // Where the values must not be.
    const places: Array<[string, string]> = [
      ['stdout', run.stdout],
      ['stderr', run.stderr],
      ...Object.entries(run.results).map(([name, value]): [string, string] => [`result ${name}`, value]),
      ...[...sampled].map(([where, text]): [string, string] => [`while running: ${where}`, text]),
      // Everything the step left: its dir (state, TMPDIR, metadata, results, layout).
      ...filesUnder(run.dir),
      ...filesUnder(path.join(work, 'leak', 'out')),
      // And anything written to the machine's temp dir meanwhile, outside the inputs and the daemons' own state.
      ...filesUnder(
        os.tmpdir(),
        [
          inputs,
          path.join(work, 'auth-registry'),
          path.join(work, 'tls-daemon'),
          path.join(work, 'ssh-image'),
          suite.bed.dir,
        ],
        started,
      ),
    ];
    const leaks: string[] = [];
    for (const [route, secret] of secrets) {
      for (const form of forms(secret)) {
        for (const [where, text] of places)
          if (text.includes(form)) leaks.push(`${route} (${form.slice(0, 12)}...) in ${where}`);
      }
    }
    check(() => {
      assert.deepEqual(leaks, []);
      const state = path.join(run.dir, 'state');
      assert.deepEqual(
        existsSync(state) ? readdirSync(state).filter((name) => name.startsWith('private-')) : [],
        [],
        'the private dir is gone',
      );
      const scanned = places.map(([where]) => where);
      for (const part of [
        path.join('state', 'buildx'),
        path.join('tmp', 'metadata.json'),
        path.join('out', 'layout', 'index.json'),
      ]) {
        assert.ok(
          scanned.some((where) => where.includes(part)),
          `the scan covered ${part}`,
        );
      }
    });
    process.stderr.write(
      `leak scan: ${secrets.length} secrets in ${secrets.reduce((sum, [, secret]) => sum + forms(secret).length, 0)} forms over ${places.length} places (${sampled.size} process samples), ${Date.now() - started} ms\n`,
    );
  });

  test('a credential helper serves the registry password: the push works and the password appears nowhere; a failing helper is REGISTRY_AUTH without its output', async () => {
    const started = Date.now();
    const inputs = path.join(work, 'helper-inputs');
    const user = `u${randomBytes(4).toString('hex')}`;
    const password = unique('helper-password');
    const helperOutput = unique('helper-output');
    // A registry that is not on loopback, behind htpasswd, pushed to by the bed's daemon (no daemon config: the step marks the push plain HTTP).
    const netns = createNetns(1);
    const auth = await startAuthRegistry(suite.bed.tools, path.join(work, 'helper-registry'), user, password, {
      listen: { address: netns.addresses[0]!, port: 5000 },
      wrap: netns.exec,
    });
    try {
      // The docker credential-helper protocol: `get`, the server URL on stdin, {"Username","Secret"} on stdout.
      const bin = writeContext(path.join(inputs, 'bin'), {
        'docker-credential-bedhelper': `#!/bin/sh\nread -r url\necho "$1 $url" >> '${path.join(inputs, 'calls.log')}'\n[ "$1" = get ] || exit 1\nprintf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\\n' "$url" '${user}' '${password}'\n`,
        // stdout is the protocol's channel (credentials travel there, and docker's client quotes it in its error);
        // stderr is the helper's diagnostics, which buildx passes through as docker does.
        'docker-credential-bedfail': `#!/bin/sh\necho '${helperOutput}'\necho 'bedfail: no credentials for this registry' >&2\nexit 1\n`,
      });
      for (const name of ['docker-credential-bedhelper', 'docker-credential-bedfail'])
        spawnSync('chmod', ['755', path.join(bin, name)]);
      const config = (helper: string) =>
        writeContext(path.join(inputs, helper), {
          'config.json': JSON.stringify({ credHelpers: { [auth.host]: helper } }),
        });
      const files = { Dockerfile: 'FROM scratch\nCOPY hello.txt /\n', 'hello.txt': 'hello\n' };
      const params = (helper: string) => ({
        image: `${auth.host}/team/helper`,
        tags: [helper],
        push: true,
        retries: 0,
        registry_http: [auth.host],
        docker_config: config(helper),
      });
      const env = { PATH: `${bin}:${process.env.PATH}` };
      const run = await suite.step('helper', files, params('bedhelper'), { env });
      const failing = await suite.step('helper-fails', files, params('bedfail'), { env });
      const calls = readFileSync(path.join(inputs, 'calls.log'), 'utf8');
      check(() => {
        assert.equal(run.exitCode, 0, run.stderr);
        assert.equal(
          storedTagDigest(path.join(work, 'helper-registry', 'registry'), 'team/helper', 'bedhelper'),
          run.results.IMAGE_DIGEST,
          'the push authenticated with the helper',
        );
        assert.match(
          calls,
          new RegExp(`^get ${auth.host.replaceAll('.', '\\.')}`, 'm'),
          `buildx asked the helper for ${auth.host}: ${calls}`,
        );
        assert.equal(failing.exitCode, 12, failing.stderr);
        assert.equal(failing.results.ERROR_REASON, 'REGISTRY_AUTH');
        assert.ok(
          failing.results.ERROR_MESSAGE?.includes(
            `docker-credential-bedfail (credHelpers in docker_config) failed for ${auth.host}`,
          ),
          failing.results.ERROR_MESSAGE,
        );
        assert.ok(
          failing.stderr.includes('bedfail: no credentials for this registry'),
          "the helper's diagnostics are shown",
        );
      });
      const places: Array<[string, string]> = [run, failing].flatMap((step) => [
        [`${step.dir} stdout`, step.stdout] as [string, string],
        [`${step.dir} stderr`, step.stderr] as [string, string],
        ...Object.entries(step.results).map(([name, value]): [string, string] => [`${step.dir} result ${name}`, value]),
        ...filesUnder(step.dir),
      ]);
      places.push(...filesUnder(os.tmpdir(), [inputs, path.join(work, 'helper-registry'), suite.bed.dir], started));
      const secrets: Array<[string, string]> = [
        ['helper password', password],
        ['helper auth (base64 user:password)', Buffer.from(`${user}:${password}`).toString('base64')],
        ['failing helper output', helperOutput],
      ];
      const leaks = secrets.flatMap(([route, secret]) =>
        forms(secret).flatMap((form) =>
          places.filter(([, text]) => text.includes(form)).map(([where]) => `${route} in ${where}`),
        ),
      );
      check(() => assert.deepEqual(leaks, []));
      process.stderr.write(
        `helper leak scan: ${secrets.length} secrets over ${places.length} places, ${Date.now() - started} ms\n`,
      );
    } finally {
      await auth.stop();
      netns.remove();
    }
  });
});
