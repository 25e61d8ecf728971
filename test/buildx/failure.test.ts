// Classifying buildx failures from the last lines of its output.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyFailure } from '../../src/buildx/failure.js';

describe('classifyFailure', () => {
  const cases: Array<{ name: string; tail: string[]; code: string; transient: boolean }> = [
    {
      name: 'a failing RUN is a build failure, even when its own output mentions a 503',
      tail: [
        '#5 0.2 curl: (22) The requested URL returned error: 503',
        'ERROR: failed to build: failed to solve: process "/bin/sh -c curl -f http://x" did not complete successfully: exit code: 22',
      ],
      code: 'BUILD_FAILED',
      transient: false,
    },
    {
      name: 'a missing file',
      tail: [
        'ERROR: failed to build: failed to solve: failed to compute cache key: failed to calculate checksum of ref x: "/nope": not found',
      ],
      code: 'BUILD_FAILED',
      transient: false,
    },
    {
      name: 'a push answered with 503',
      tail: [
        'ERROR: failed to build: failed to solve: failed to push 127.0.0.1:5000/a/b:1: failed to do request: unexpected status from PUT request to http://127.0.0.1:5000/v2/a/b/blobs/uploads/x: 503 Service Unavailable',
      ],
      code: 'PUSH_FAILED',
      transient: true,
    },
    {
      name: 'a push without credentials',
      tail: [
        'ERROR: failed to build: failed to solve: failed to push 127.0.0.1:5000/a/b:1: failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized',
      ],
      code: 'REGISTRY_AUTH',
      transient: false,
    },
    {
      name: 'a base image pull refused',
      tail: [
        'ERROR: failed to build: failed to solve: 127.0.0.1:5000/base:1: failed to resolve source metadata for 127.0.0.1:5000/base:1: unexpected status from HEAD request: 401 Unauthorized',
      ],
      code: 'REGISTRY_AUTH',
      transient: false,
    },
    {
      name: 'the daemon killed mid-build (captured from buildx 0.38)',
      tail: [
        'ERROR: failed to build: failed to receive status: rpc error: code = Unavailable desc = error reading from server: EOF',
      ],
      code: 'DAEMON_UNREACHABLE',
      transient: true,
    },
    {
      name: 'the daemon killed mid-solve (captured)',
      tail: ['ERROR: failed to build: failed to solve: Unavailable: error reading from server: EOF'],
      code: 'DAEMON_UNREACHABLE',
      transient: true,
    },
    {
      name: 'the daemon killed mid-solve, reset instead of EOF',
      tail: [
        'ERROR: failed to build: failed to solve: Unavailable: error reading from server: connection reset by peer',
      ],
      code: 'DAEMON_UNREACHABLE',
      transient: true,
    },
    {
      name: 'the daemon went away mid-build',
      tail: ['ERROR: failed to build: rpc error: code = Unavailable desc = connection reset by peer'],
      code: 'DAEMON_UNREACHABLE',
      transient: true,
    },
    {
      name: 'a token server outage is not bad credentials',
      tail: [
        'ERROR: failed to build: failed to solve: failed to push r.io/a:1: failed to authorize: failed to fetch oauth token: unexpected status: 503 Service Unavailable',
      ],
      code: 'REGISTRY_AUTH',
      transient: true,
    },
    {
      name: 'a token server timeout',
      tail: [
        'ERROR: failed to build: failed to solve: failed to authorize: failed to fetch anonymous token: Get "https://auth.r.io/token": dial tcp 10.0.0.1:443: i/o timeout',
      ],
      code: 'REGISTRY_AUTH',
      transient: true,
    },
    {
      name: 'a push cut short with a bare EOF',
      tail: ['ERROR: failed to build: failed to solve: failed to push r.io/a:1: failed to copy: EOF'],
      code: 'PUSH_FAILED',
      transient: true,
    },
    {
      name: 'a GOAWAY from a proxy',
      tail: [
        'ERROR: failed to build: failed to solve: failed to push r.io/a:1: http2: server sent GOAWAY and closed the connection',
      ],
      code: 'PUSH_FAILED',
      transient: true,
    },
    {
      name: 'a missing tag that happens to be 502 is not a 502',
      tail: [
        'ERROR: failed to build: failed to solve: r.io/base:502: failed to resolve source metadata for r.io/base:502: r.io/base:502: not found',
      ],
      code: 'BUILD_FAILED',
      transient: false,
    },
    {
      name: 'too many requests',
      tail: [
        'ERROR: failed to build: failed to solve: r.io/base:1: unexpected status from GET request to https://r.io/v2/base/manifests/1: 429 Too Many Requests',
      ],
      code: 'BUILD_FAILED',
      transient: true,
    },
    // Captured from buildx 0.38 against BuildKit 0.34 in test/e2e/registries.test.ts.
    {
      name: 'a plain-HTTP registry taken for HTTPS',
      tail: [
        'ERROR: failed to build: failed to solve: 10.213.158.2:5000/bed/busybox:latest: failed to resolve source metadata for 10.213.158.2:5000/bed/busybox:latest: failed to do request: Head "https://10.213.158.2:5000/v2/bed/busybox/manifests/latest": http: server gave HTTP response to HTTPS client',
      ],
      code: 'REGISTRY_TLS',
      transient: false,
    },
    {
      name: 'a registry certificate from an unknown CA',
      tail: [
        'ERROR: failed to build: failed to solve: 10.213.1.3:5000/bed/busybox:latest: failed to resolve source metadata for 10.213.1.3:5000/bed/busybox:latest: failed to do request: Head "https://10.213.1.3:5000/v2/bed/busybox/manifests/latest": tls: failed to verify certificate: x509: certificate signed by unknown authority',
      ],
      code: 'REGISTRY_TLS',
      transient: false,
    },
    {
      name: 'a TLS handshake timeout stays transient',
      tail: [
        'ERROR: failed to build: failed to solve: failed to push r.io/a:1: failed to do request: Put "https://r.io/v2/a/blobs/uploads/": net/http: TLS handshake timeout',
      ],
      code: 'PUSH_FAILED',
      transient: true,
    },
    {
      name: 'a failed credential helper',
      tail: [
        'ERROR: failed to build: failed to solve: error getting credentials - err: exit status 1, out: `(hidden)`',
      ],
      code: 'REGISTRY_AUTH',
      transient: false,
    },
    {
      name: 'an entitlement the daemon does not grant (captured from buildkit 0.34)',
      tail: [
        'ERROR: failed to build: failed to solve: granting entitlement network.host is not allowed by build daemon configuration',
      ],
      code: 'ENTITLEMENT_REFUSED',
      transient: false,
    },
    {
      name: 'no ERROR line at all: the last lines decide',
      tail: ['something odd', 'and then it stopped'],
      code: 'BUILD_FAILED',
      transient: false,
    },
  ];
  test('a plain-HTTP or untrusted registry gets a hint naming the registry and the param to set', () => {
    const http = classifyFailure([cases.find((c) => c.name === 'a plain-HTTP registry taken for HTTPS')!.tail[0]!]);
    assert.equal(http.registry, '10.213.158.2:5000');
    assert.equal(http.hint, '10.213.158.2:5000 answers plain HTTP: list it in registry_http (REGISTRY_HTTP)');
    const ca = classifyFailure([cases.find((c) => c.name === 'a registry certificate from an unknown CA')!.tail[0]!]);
    assert.match(
      ca.hint ?? '',
      /^the certificate of 10\.213\.1\.3:5000 is not trusted by the daemon: give its CA in registry_ca/,
    );
  });
  for (const { name, tail, code, transient } of cases) {
    test(name, () => {
      const failure = classifyFailure(tail);
      assert.equal(failure.code, code);
      assert.equal(failure.transient, transient);
    });
  }

  test('the detail starts at the ERROR line', () => {
    assert.equal(
      classifyFailure(['#1 noise', 'ERROR: boom', '', '  > 1 | FROM x']).detail,
      'ERROR: boom\n  > 1 | FROM x',
    );
  });
});
