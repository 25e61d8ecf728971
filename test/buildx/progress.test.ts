// Counting steps, cache hits and pushed digests from plain progress output.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readProgress } from '../../src/buildx/progress.js';

test('counts Dockerfile steps and which of them were cached; ignores internal vertices', () => {
  const counter = readProgress();
  const digest = `sha256:${'a'.repeat(64)}`;
  for (const line of [
    '#1 [internal] load build definition from Dockerfile',
    '#1 DONE 0.0s',
    '#4 [1/3] FROM 127.0.0.1:5000/bed/busybox:latest@sha256:15c7',
    '#4 CACHED',
    '#5 [2/3] RUN sleep 2',
    '#5 CACHED',
    '#6 [build 3/3] RUN make',
    '#6 DONE 2.1s',
    '#6 [build 3/3] RUN make',
    `#9 pushing manifest for 127.0.0.1:5000/a/b:v1@${digest} 0.1s done`,
    '#1 CACHED',
  ]) {
    counter.line(line);
  }
  assert.deepEqual(counter.facts(), {
    steps: 3,
    cached: 2,
    pushed: { '127.0.0.1:5000/a/b:v1': digest },
    cacheExportError: undefined,
    cacheFound: [],
    cacheMissing: [],
    cacheExported: false,
  });
});

test('a cache export error is told apart from a cache import error (captured buildx v0.38.2 lines)', () => {
  const counter = readProgress();
  for (const line of [
    '#3 importing cache manifest from 127.0.0.1:45693/c:1',
    '#3 ERROR: failed to configure registry cache importer: unexpected status from HEAD request to http://127.0.0.1:45693/v2/c/manifests/1: 401 Unauthorized',
    '#7 exporting cache to registry',
    '#7 preparing build cache for export done',
    '#7 ERROR: error writing layer blob: unexpected status from HEAD request to http://127.0.0.1:45693/v2/c/blobs/sha256:3f0e: 401 Unauthorized',
  ]) {
    counter.line(line);
  }
  assert.equal(
    counter.facts().cacheExportError,
    'error writing layer blob: unexpected status from HEAD request to http://127.0.0.1:45693/v2/c/blobs/sha256:3f0e: 401 Unauthorized',
  );
});

test('cache refs found and missing, in the order buildx tried them, and a finished export (captured buildx v0.38.2 lines)', () => {
  const counter = readProgress();
  for (const line of [
    '#4 importing cache manifest from 127.0.0.1:44271/team/fallback-cache:feature-login',
    '#4 ERROR: failed to configure registry cache importer: 127.0.0.1:44271/team/fallback-cache:feature-login: not found',
    '#5 importing cache manifest from 127.0.0.1:44271/team/fallback-cache:release-2.x',
    '#6 importing cache manifest from 127.0.0.1:44271/team/fallback-cache:main',
    '#5 DONE 0.0s',
    '#6 DONE 0.0s',
    '#12 exporting cache to registry',
    '#12 preparing build cache for export 0.0s done',
    '#12 writing cache image manifest sha256:0c426227582862d2937d282a99e4e5f2eef427f9be10374360933d4909c34726 0.0s done',
    '#12 DONE 0.3s',
    // buildx repeats a failed vertex in its error summary; not a new import.
    ' > importing cache manifest from 127.0.0.1:44271/team/fallback-cache:feature-login:',
  ]) {
    counter.line(line);
  }
  const facts = counter.facts();
  assert.deepEqual(facts.cacheFound, [
    '127.0.0.1:44271/team/fallback-cache:release-2.x',
    '127.0.0.1:44271/team/fallback-cache:main',
  ]);
  assert.deepEqual(facts.cacheMissing, ['127.0.0.1:44271/team/fallback-cache:feature-login']);
  assert.equal(facts.cacheExported, true);
});

test('an export that failed is not counted as exported', () => {
  const counter = readProgress();
  for (const line of ['#7 exporting cache to registry', '#7 ERROR: error writing layer blob: 401 Unauthorized'])
    counter.line(line);
  assert.equal(counter.facts().cacheExported, false);
});
