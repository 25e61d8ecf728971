// Legal but nasty values through a real build: buildx must see each as data, never as a flag or
// an extra CSV field. RUN writes what it got; the image and the outputs show nothing else happened.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { blobPath, imageManifests, layoutIndex, readImageFile, readJson } from '../bed/oci.js';
import { manifestDigest } from '../bed/registry-client.js';
import { makeSshKey, seedSshImage } from '../bed/ssh-image.js';
import { bedSuite } from './suite.js';

const suite = bedSuite('hostile');
const { work, check } = suite;

describe('legal but nasty values through buildx and BuildKit', () => {
  test('build args, labels, annotations, a tag, paths and ids reach the image exactly, and nothing else is output', async () => {
    const trap = path.join(work, 'trap');
    const values: Record<string, string> = {
      OUT: `--output=type=local,dest=${trap}`,
      PAIR: `1 --output type=local,dest=${trap}`,
      COMMA: 'a,b,"c",type=local,dest=/tmp/x',
      QUOTES: `"double" 'single' \`back\` $HOME \\n`,
      LINES: 'line one\nline two\r\nline three\n',
      UNICODE: 'é 😀 \u2028 \u202e \ufeff',
      EQUALS: '=a==b=',
      DASH: '-o',
    };
    const keys = Object.keys(values);
    // A key whose path holds quotes, '=', spaces and a leading dash (a comma is the one thing --ssh cannot carry).
    const keyDir = path.join(work, 'keys', '-o "q"=x é');
    const sshKey = makeSshKey(keyDir, 'deploy key');
    const sshImage = seedSshImage(
      suite.bed.tools,
      suite.bed.buildkitd.endpoint,
      suite.bed.registry.host,
      path.join(work, 'ssh-image'),
    );
    const secretValue = 'secret,with="quotes"\nand=lines\n';
    const layout = path.join(work, 'out', 'lay,out "q"=x', 'image');
    const host = suite.bed.registry.host;
    const dockerfile = [
      `FROM ${sshImage}`,
      ...keys.map((key) => `ARG ${key}`),
      `RUN ${keys.map((key) => `printf '%s' "$${key}" > /${key}.txt`).join(' && ')}`,
      'RUN --mount=type=secret,id=odd.id-1_x,required=true sha256sum /run/secrets/odd.id-1_x | cut -d" " -f1 > /secret.sum',
      'RUN --mount=type=ssh ssh-add -l > /ssh.txt',
    ].join('\n');
    // The step's own dir (context, TMPDIR, metadata file) holds a space, a dash, quotes, '=' and a comma.
    const run = await suite.step(
      'odd -o,"q"=x',
      { Dockerfile: dockerfile },
      {
        image: `${host}/team/hostile`,
        tags: ['1.0--output', 'xo'],
        push: true,
        oci_layout: layout,
        build_args: keys.map((key) => ({ key, value: values[key] })),
        labels: [
          ...keys.map((key) => ({ key: `l.${key}`, value: values[key] })),
          { key: '--output', value: `type=local,dest=${trap}` },
        ],
        annotations: keys.map((key) => ({ key: `manifest:org.example.${key.toLowerCase()}`, value: values[key] })),
        secrets: [{ key: 'odd.id-1_x', value: secretValue }],
        ssh_key_files: [{ key: 'default', value: sshKey.privateKeyPath }],
        provenance: 'none',
      },
    );
    check(() => assert.equal(run.exitCode, 0, run.stderr));
    const digest = run.results.IMAGE_DIGEST!;
    const pushed = await Promise.all(['1.0--output', 'xo'].map((tag) => manifestDigest(host, 'team/hostile', tag)));
    check(() => {
      const [image] = imageManifests(layout, digest);
      assert.ok(image);
      for (const key of keys)
        assert.equal(readImageFile(layout, image, `${key}.txt`), values[key], `RUN saw build arg ${key} exactly`);
      assert.equal(
        readImageFile(layout, image, 'secret.sum').trim(),
        createHash('sha256').update(secretValue).digest('hex'),
        'the secret id with odd characters mounted the exact value',
      );
      assert.match(
        readImageFile(layout, image, 'ssh.txt'),
        new RegExp(sshKey.fingerprint.replace(/[+/]/g, '\\$&')),
        'the key at an odd path was forwarded',
      );
      const config = readJson<{ config: { Labels: Record<string, string> } }>(
        blobPath(layout, (image as { config: { digest: string } }).config.digest),
      );
      for (const key of keys) assert.equal(config.config.Labels[`l.${key}`], values[key], `label l.${key} exactly`);
      assert.equal(config.config.Labels['--output'], `type=local,dest=${trap}`);
      const annotations = (image as { annotations?: Record<string, string> }).annotations ?? {};
      for (const key of keys)
        assert.equal(annotations[`org.example.${key.toLowerCase()}`], values[key], `annotation ${key} exactly`);
      // Outputs exactly as configured: the registry tags and one layout, no local export anywhere.
      assert.deepEqual(pushed, [digest, digest]);
      assert.deepEqual(
        layoutIndex(layout).map((entry) => entry.digest),
        [digest, digest],
        'the layout names the image once per tag',
      );
      assert.equal(existsSync(trap), false, 'no --output=type=local export happened');
      assert.equal(existsSync('/tmp/x'), false);
      assert.deepEqual(readdirSync(path.join(work, 'out')), ['lay,out "q"=x']);
      assert.deepEqual(readdirSync(path.dirname(layout)), ['image']);
      const metadata = readJson<Record<string, unknown>>(path.join(run.dir, 'tmp', 'metadata.json'));
      assert.equal(metadata['containerimage.digest'], digest);
    });
  });

  test('a value print-argv would pass but execve cannot take is refused before buildx starts', async () => {
    // build_args_dir content is not a param: its files are held to the build_args value limit, before the daemon wait.
    const argsDir = path.join(work, 'args-dir');
    mkdirSync(argsDir, { recursive: true });
    writeFileSync(path.join(argsDir, 'BIG'), 'x'.repeat(200_000));
    const run = await suite.step(
      'execve-limit',
      { Dockerfile: `FROM ${suite.bed.busybox}\n` },
      { image: 'e2e/limit', tags: ['1'], build_args_dir: argsDir },
    );
    check(() => {
      assert.equal(run.exitCode, 2, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'PARAMS_INVALID');
      assert.match(
        run.results.ERROR_MESSAGE ?? '',
        /build_args_dir: file "BIG" holds 200000 bytes, over the 16384-character limit/,
      );
      assert.doesNotMatch(run.stderr, /BuildKit daemon .* answers/, 'refused before waiting for the daemon');
      assert.equal(readFileSync(path.join(argsDir, 'BIG'), 'utf8').length, 200_000);
    });
  });
});
