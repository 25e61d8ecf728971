// The Tekton bundle recipe (scripts/tekton-bundle.ts) against Tekton's bundle contract; the
// cluster suite proves Tekton's bundles resolver runs the Task from it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import { FILES } from '../../scripts/gen-tasks.js';
import { bundleEntries, tarOneFile, writeBundle } from '../../scripts/tekton-bundle.js';
import { REPO } from '../helpers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'bks-bundle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const task = readFileSync(path.join(REPO, FILES.task), 'utf8');
const stepAction = readFileSync(path.join(REPO, FILES.stepAction), 'utf8');

describe('tekton-bundle', () => {
  test('one entry per Tekton resource, kind lower-case singular, apiVersion without the group', () => {
    const entries = bundleEntries([task, stepAction, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n']);
    assert.deepEqual(
      entries.map(({ apiVersion, kind, name }) => ({ apiVersion, kind, name })),
      [
        { apiVersion: 'v1', kind: 'task', name: 'buildkit-build' },
        { apiVersion: 'v1beta1', kind: 'stepaction', name: 'buildkit-build' },
      ],
    );
  });

  test('refuses an input without Tekton resources, duplicates, and more than 10', () => {
    assert.throws(
      () => bundleEntries(['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n']),
      /no Tekton resources/,
    );
    assert.throws(() => bundleEntries([task, task]), /task\/buildkit-build is in the input twice/);
    const many = Array.from(
      { length: 11 },
      (_, i) => `apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t${i}}\n`,
    );
    assert.throws(() => bundleEntries(many), /at most 10/);
  });

  test('the tar layer holds exactly one file that GNU tar reads back byte for byte', () => {
    const content = Buffer.from('a'.repeat(700));
    const file = path.join(dir, 'one.tar');
    writeFileSync(file, tarOneFile('buildkit-build', content));
    assert.equal(execFileSync('tar', ['-tf', file], { encoding: 'utf8' }), 'buildkit-build\n');
    assert.equal(execFileSync('tar', ['-xOf', file], { encoding: 'utf8' }), content.toString());
  });

  test('the layout: an OCI manifest whose layers carry the dev.tekton.image annotations, the same bytes every time', () => {
    const out = path.join(dir, 'layout');
    const digest = writeBundle(bundleEntries([task]), out);
    assert.equal(writeBundle(bundleEntries([task]), path.join(dir, 'again')), digest, 'reproducible');
    const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, digest);
    const blob = (d: string) => readFileSync(path.join(out, 'blobs', 'sha256', d.slice(7)));
    const manifest = JSON.parse(blob(digest).toString()) as {
      layers: { digest: string; annotations: Record<string, string> }[];
    };
    assert.equal(manifest.layers.length, 1);
    assert.deepEqual(manifest.layers[0]!.annotations, {
      'dev.tekton.image.apiVersion': 'v1',
      'dev.tekton.image.kind': 'task',
      'dev.tekton.image.name': 'buildkit-build',
    });
    const tar = gunzipSync(blob(manifest.layers[0]!.digest));
    const file = path.join(dir, 'layer.tar');
    writeFileSync(file, tar);
    assert.match(execFileSync('tar', ['-xOf', file], { encoding: 'utf8' }), /kind: Task\n[\s\S]*name: buildkit-build/);
  });
});
