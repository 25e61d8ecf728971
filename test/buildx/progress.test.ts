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
  assert.deepEqual(counter.facts(), { steps: 3, cached: 2, pushed: { '127.0.0.1:5000/a/b:v1': digest }, cacheExportError: undefined });
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
  assert.equal(counter.facts().cacheExportError, 'error writing layer blob: unexpected status from HEAD request to http://127.0.0.1:45693/v2/c/blobs/sha256:3f0e: 401 Unauthorized');
});
