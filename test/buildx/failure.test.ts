// Classifying buildx failures from the last lines of its output.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyFailure } from '../../src/buildx/failure.js';

describe('classifyFailure', () => {
  const cases: Array<{ name: string; tail: string[]; code: string; transient: boolean }> = [
    {
      name: 'a failing RUN is a build failure, even when its own output mentions a 503',
      tail: ['#5 0.2 curl: (22) The requested URL returned error: 503', 'ERROR: failed to build: failed to solve: process "/bin/sh -c curl -f http://x" did not complete successfully: exit code: 22'],
      code: 'BUILD_FAILED',
      transient: false,
    },
    { name: 'a missing file', tail: ['ERROR: failed to build: failed to solve: failed to compute cache key: failed to calculate checksum of ref x: "/nope": not found'], code: 'BUILD_FAILED', transient: false },
    { name: 'a push answered with 503', tail: ['ERROR: failed to build: failed to solve: failed to push 127.0.0.1:5000/a/b:1: failed to do request: unexpected status from PUT request to http://127.0.0.1:5000/v2/a/b/blobs/uploads/x: 503 Service Unavailable'], code: 'PUSH_FAILED', transient: true },
    { name: 'a push without credentials', tail: ['ERROR: failed to build: failed to solve: failed to push 127.0.0.1:5000/a/b:1: failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized'], code: 'REGISTRY_AUTH', transient: false },
    { name: 'a base image pull refused', tail: ['ERROR: failed to build: failed to solve: 127.0.0.1:5000/base:1: failed to resolve source metadata for 127.0.0.1:5000/base:1: unexpected status from HEAD request: 401 Unauthorized'], code: 'REGISTRY_AUTH', transient: false },
    { name: 'the daemon connection dropped', tail: ['ERROR: failed to build: rpc error: code = Unavailable desc = connection reset by peer'], code: 'BUILD_FAILED', transient: true },
    { name: 'no ERROR line at all: the last lines decide', tail: ['something odd', 'and then it stopped'], code: 'BUILD_FAILED', transient: false },
  ];
  for (const { name, tail, code, transient } of cases) {
    test(name, () => {
      const failure = classifyFailure(tail);
      assert.equal(failure.code, code);
      assert.equal(failure.transient, transient);
    });
  }

  test('the detail starts at the ERROR line', () => {
    assert.equal(classifyFailure(['#1 noise', 'ERROR: boom', '', '  > 1 | FROM x']).detail, 'ERROR: boom\n  > 1 | FROM x');
  });
});
