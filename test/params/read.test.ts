// Merging and validating params from every source, through the same entry point the CLI uses.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { StepError } from '../../src/errors.js';
import { mergeLayers, paramEnvLayer } from '../../src/params/layers.js';
import { earlyResultPaths, readParams } from '../../src/params/read.js';
import { paramsSchema } from '../../src/params/schema.js';
import { checkRules } from '../../src/params/rules.js';
import type { Params } from '../../src/config.js';
import { scratchDir } from '../helpers.js';

const schema = paramsSchema();
const dir = scratchDir('params');
const file = (name: string, value: unknown) => {
  const target = path.join(dir, name);
  writeFileSync(target, typeof value === 'string' ? value : JSON.stringify(value));
  return target;
};

async function read(sources: { files?: string[]; env?: NodeJS.ProcessEnv; flags?: Record<string, unknown> }) {
  return readParams<Record<string, unknown>>(
    { paramsFiles: sources.files ?? [], env: sources.env ?? {}, flags: sources.flags ?? {} },
    schema,
  );
}

async function rejects(sources: Parameters<typeof read>[0], code: string, message: RegExp) {
  await assert.rejects(read(sources), (error: unknown) => {
    assert.ok(error instanceof StepError);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

describe('params precedence: flags > PARAM_* > BUILDKIT_STEP_PARAMS > files (later wins) > defaults', () => {
  const cases: Array<{
    name: string;
    files?: Array<Record<string, unknown>>;
    env?: NodeJS.ProcessEnv;
    flags?: Record<string, unknown>;
    expect: Record<string, unknown>;
  }> = [
    {
      name: 'defaults fill what nobody set',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]' },
      expect: {
        context: '.',
        dockerfile: 'Dockerfile',
        daemon_timeout: 120,
        endpoint: 'unix:///run/buildkit/buildkitd.sock',
      },
    },
    {
      name: 'a later file beats an earlier one',
      files: [{ image: 'a/one', tags: ['1'], target: 'x' }, { image: 'a/two' }],
      expect: { image: 'a/two', target: 'x' },
    },
    {
      name: 'env JSON beats files',
      files: [{ image: 'a/file', tags: ['1'] }],
      env: { BUILDKIT_STEP_PARAMS: '{"image":"a/env"}' },
      expect: { image: 'a/env' },
    },
    {
      name: 'PARAM_* beats env JSON',
      env: { BUILDKIT_STEP_PARAMS: '{"image":"a/env","tags":["1"]}', PARAM_IMAGE: 'a/param' },
      expect: { image: 'a/param' },
    },
    {
      name: 'flags beat PARAM_*',
      env: { PARAM_IMAGE: 'a/param', PARAM_TAGS: '["1"]' },
      flags: { image: 'a/flag', tags: ['f1', 'f2'] },
      expect: { image: 'a/flag', tags: ['f1', 'f2'] },
    },
    {
      name: 'an empty PARAM_* counts as unset (Tekton passes every param)',
      env: { BUILDKIT_STEP_PARAMS: '{"image":"a/env","tags":["1"],"target":"t"}', PARAM_TARGET: '', PARAM_IMAGE: '' },
      expect: { image: 'a/env', target: 't' },
    },
    {
      name: 'non-string PARAM_* values are JSON',
      env: {
        PARAM_IMAGE: 'a/b',
        PARAM_TAGS: '["x","y"]',
        PARAM_DAEMON_TIMEOUT: '2.5',
        PARAM_BUILD_ARGS: '[{"key":"K","value":"a,b=c\\nd"}]',
      },
      expect: { tags: ['x', 'y'], daemon_timeout: 2.5, build_args: [{ key: 'K', value: 'a,b=c\nd' }] },
    },
    {
      name: 'string PARAM_* values are verbatim, even when they look like JSON',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]', PARAM_TARGET: '123' },
      expect: { target: '123' },
    },
  ];
  for (const { name, files, env, flags, expect } of cases) {
    test(name, async () => {
      const params = await read({
        files: files?.map((content, index) => file(`${name}-${index}.json`, content)),
        env,
        flags,
      });
      for (const [key, value] of Object.entries(expect)) assert.deepEqual(params[key], value, key);
    });
  }

  test('Kubernetes service-link variables of a Service named param-* are not parameters', async () => {
    const params = await read({
      env: {
        PARAM_IMAGE: 'a/b',
        PARAM_TAGS: '["1"]',
        PARAM_CACHE_SERVICE_HOST: '10.0.0.1',
        PARAM_CACHE_SERVICE_PORT_HTTP: '80',
        PARAM_CACHE_PORT: 'tcp://10.0.0.1:80',
        PARAM_CACHE_PORT_80_TCP_ADDR: '10.0.0.1',
      },
    });
    assert.equal(params.image, 'a/b');
  });

  test('keys such as __proto__ in user JSON stay data and never reach Object.prototype', async () => {
    await rejects(
      { env: { BUILDKIT_STEP_PARAMS: '{"image":"a/b","tags":["1"],"__proto__":{"polluted":true}}' } },
      'PARAMS_INVALID',
      /__proto__.*unknown parameter/,
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('bad params name the parameter, its source and the problem', () => {
  const cases: Array<{ name: string; env?: NodeJS.ProcessEnv; files?: string[]; code: string; message: RegExp }> = [
    {
      name: 'missing image and tags',
      env: {},
      code: 'PARAMS_INVALID',
      message:
        /image: required parameter is missing \(set PARAM_IMAGE, --image or "image" in JSON params\)[\s\S]*tags: required/,
    },
    {
      name: 'unknown PARAM_ env var with a hint',
      env: { PARAM_DOCKERFLIE: 'x' },
      code: 'PARAMS_INVALID',
      message: /^PARAM_DOCKERFLIE: unknown parameter; did you mean PARAM_DOCKERFILE\?$/,
    },
    {
      name: 'bad JSON in a PARAM_ array',
      env: { PARAM_TAGS: '["latest"' },
      code: 'PARAMS_INVALID',
      message: /^PARAM_TAGS: expected JSON \(array\), e\.g\. \["latest"\]/,
    },
    {
      name: 'a boolean that is not true or false',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]', PARAM_PUSH: 'yes' },
      code: 'PARAMS_INVALID',
      message: /^push \(from PARAM_PUSH\): expected true or false$/,
    },
    {
      name: 'an integer that is not a number',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]', PARAM_RETRIES: 'two' },
      code: 'PARAMS_INVALID',
      message: /^retries \(from PARAM_RETRIES\): expected an integer, e\.g\. 3$/,
    },
    {
      name: 'a number that is not a number',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]', PARAM_DAEMON_TIMEOUT: '30s' },
      code: 'PARAMS_INVALID',
      message: /^daemon_timeout \(from PARAM_DAEMON_TIMEOUT\): expected a number, e\.g\. 30 or 2\.5$/,
    },
    {
      name: 'env JSON that is not an object',
      env: { BUILDKIT_STEP_PARAMS: '["a"]' },
      code: 'PARAMS_INVALID',
      message: /BUILDKIT_STEP_PARAMS: must be a JSON object of parameters, got an array/,
    },
    {
      name: 'an invalid tag',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["ok","-bad"]' },
      code: 'PARAMS_INVALID',
      message: /tags\[1\] \(from PARAM_TAGS\): "-bad" is not valid: An image tag/,
    },
    {
      name: 'an image with a tag',
      env: { PARAM_IMAGE: 'a/b:v1', PARAM_TAGS: '["1"]' },
      code: 'PARAMS_INVALID',
      message: /image \(from PARAM_IMAGE\): "a\/b:v1" is not valid: An image repository/,
    },
    {
      name: 'duplicate tags',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1","1"]' },
      code: 'PARAMS_INVALID',
      message: /tags \(from PARAM_TAGS\): items \[0\] and \[1\] are the same/,
    },
    {
      name: 'a build arg without value',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]', PARAM_BUILD_ARGS: '[{"key":"A"}]' },
      code: 'PARAMS_INVALID',
      message: /build_args\[0\] \(from PARAM_BUILD_ARGS\): "value" is missing/,
    },
    {
      name: 'a build arg with an extra field',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]', PARAM_BUILD_ARGS: '[{"key":"A","value":"1","vaule":"2"}]' },
      code: 'PARAMS_INVALID',
      message: /build_args\[0\] \(from PARAM_BUILD_ARGS\): unknown field "vaule"/,
    },
    {
      name: 'an endpoint that is not unix:// or tcp://',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]', PARAM_ENDPOINT: 'http://x:1' },
      code: 'PARAMS_INVALID',
      message: /endpoint \(from PARAM_ENDPOINT\): "http:\/\/x:1" is not valid/,
    },
    {
      name: 'a zero timeout',
      env: { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]', PARAM_DAEMON_TIMEOUT: '0' },
      code: 'PARAMS_INVALID',
      message: /daemon_timeout \(from PARAM_DAEMON_TIMEOUT\): must be > 0/,
    },
    {
      name: 'an unreadable params file',
      files: [path.join(dir, 'does-not-exist.json')],
      code: 'PARAMS_UNREADABLE',
      message: /--params-file .*does-not-exist\.json: ENOENT/,
    },
  ];
  for (const { name, env, files, code, message } of cases) {
    test(name, () => rejects({ env, files }, code, message));
  }

  const base = { PARAM_IMAGE: 'a/b', PARAM_TAGS: '["1"]' };
  const inputCases: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
    [
      'a secret id with a slash',
      { PARAM_SECRETS: '[{"key":"a/b","value":"x"}]' },
      /secrets\[0\]\.key \(from PARAM_SECRETS\): "a\/b" is not valid: Secret id/,
    ],
    [
      'an SSH key that is empty',
      { PARAM_SSH: '[{"key":"default","value":""}]' },
      /ssh\[0\]\.value \(from PARAM_SSH\): must NOT have fewer than 1 characters/,
    ],
    [
      'an SSH key file without a path',
      { PARAM_SSH_KEY_FILES: '[{"key":"default"}]' },
      /ssh_key_files\[0\] \(from PARAM_SSH_KEY_FILES\): "value" is missing/,
    ],
    ['push that is not a boolean', { PARAM_PUSH: '"yes"' }, /push \(from PARAM_PUSH\): must be a boolean/],
    [
      'a platform without an arch',
      { PARAM_PLATFORMS: '["linux"]' },
      /platforms\[0\] \(from PARAM_PLATFORMS\): "linux" is not valid: A platform/,
    ],
    [
      'a label with = in its name',
      { PARAM_LABELS: '[{"key":"a=b","value":"c"}]' },
      /labels\[0\]\.key \(from PARAM_LABELS\): "a=b" is not valid: Label name/,
    ],
    [
      'an annotation without a value',
      { PARAM_ANNOTATIONS: '[{"key":"a"}]' },
      /annotations\[0\] \(from PARAM_ANNOTATIONS\): "value" is missing/,
    ],
    [
      'an unknown provenance mode',
      { PARAM_PROVENANCE: 'full' },
      /provenance \(from PARAM_PROVENANCE\): must be equal to one of the allowed values/,
    ],
    [
      'an sbom generator with spaces',
      { PARAM_SBOM: 'true', PARAM_SBOM_GENERATOR: 'a b' },
      /sbom_generator \(from PARAM_SBOM_GENERATOR\): "a b" is not valid: An image reference/,
    ],
    [
      'a cache repo with a tag',
      { PARAM_CACHE_REPO: 'r.example.com/c:v1' },
      /cache_repo \(from PARAM_CACHE_REPO\): "r\.example\.com\/c:v1" is not valid/,
    ],
    [
      'a cache spec without a type',
      { PARAM_CACHE_FROM: '["ref=r.example.com/c:1"]' },
      /cache_from\[0\] \(from PARAM_CACHE_FROM\): "ref=r\.example\.com\/c:1" is not valid: A buildx cache spec/,
    ],
    [
      'a fractional source_date_epoch',
      { PARAM_SOURCE_DATE_EPOCH: '1.5' },
      /source_date_epoch \(from PARAM_SOURCE_DATE_EPOCH\): must be an integer/,
    ],
    [
      'a negative source_date_epoch',
      { PARAM_SOURCE_DATE_EPOCH: '-1' },
      /source_date_epoch \(from PARAM_SOURCE_DATE_EPOCH\): must be >= 0/,
    ],
    ['too many retries', { PARAM_RETRIES: '11' }, /retries \(from PARAM_RETRIES\): must be <= 10/],
    [
      'a results budget under 256 bytes',
      { PARAM_RESULTS_MAX_BYTES: '100' },
      /results_max_bytes \(from PARAM_RESULTS_MAX_BYTES\): must be >= 256/,
    ],
    [
      'a result path for an unknown result',
      { PARAM_RESULT_PATHS: '{"IMAGE_DIGESTS":"/x"}' },
      /result_paths \(from PARAM_RESULT_PATHS\): unknown field "IMAGE_DIGESTS"/,
    ],
    [
      'a TLS server name with a slash',
      { PARAM_TLS_SERVER_NAME: 'a/b' },
      /tls_server_name \(from PARAM_TLS_SERVER_NAME\): "a\/b" is not valid/,
    ],
  ];
  for (const [name, env, message] of inputCases) {
    test(name, () => rejects({ env: { ...base, ...env } }, 'PARAMS_INVALID', message));
  }

  test('a secret value of the wrong type is never quoted back', async () => {
    await assert.rejects(
      read({ env: { ...base, PARAM_SECRETS: '[{"key":"k","value":12345678}]' } }),
      (error: unknown) => {
        assert.ok(error instanceof StepError);
        assert.match(error.message, /secrets\[0\]\.value \(from PARAM_SECRETS\): must be a string, got something else/);
        assert.ok(!error.message.includes('12345678'));
        return true;
      },
    );
  });

  const wrongShapes: Array<[string, NodeJS.ProcessEnv]> = [
    ['secrets as an object', { PARAM_SECRETS: '{"key":"a","value":"hunter2-secret"}' }],
    ['secrets as a list of strings', { PARAM_SECRETS: '["hunter2-secret"]' }],
    ['ssh as a bare key', { PARAM_SSH: '"-----BEGIN OPENSSH PRIVATE KEY-----\\nhunter2-secret"' }],
  ];
  for (const [name, env] of wrongShapes) {
    test(`${name}: rejected without quoting the value`, async () => {
      await assert.rejects(read({ env: { ...base, ...env } }), (error: unknown) => {
        assert.ok(error instanceof StepError && error.code === 'PARAMS_INVALID');
        assert.ok(!error.message.includes('hunter2'), error.message);
        assert.ok(!error.message.includes('BEGIN OPENSSH'), error.message);
        return true;
      });
    });
  }

  test('bad JSON holding a secret is reported without the input snippet', async () => {
    await assert.rejects(
      read({ env: { BUILDKIT_STEP_PARAMS: '{"secrets":[{"key":"k","value":"hunter2-secret"}' } }),
      (error: unknown) => {
        assert.ok(error instanceof StepError);
        assert.match(error.message, /^BUILDKIT_STEP_PARAMS: not valid JSON/);
        assert.ok(!error.message.includes('hunter2'));
        return true;
      },
    );
  });

  test('a params file with bad JSON names the file', () =>
    rejects(
      { files: [file('broken.json', '{"image": ')] },
      'PARAMS_INVALID',
      /params file .*broken\.json: not valid JSON/,
    ));
});

describe('earlyResultPaths', () => {
  test('reads result_paths from flags, PARAM_RESULT_PATHS or BUILDKIT_STEP_PARAMS even when other params are broken', () => {
    assert.deepEqual(
      earlyResultPaths({
        env: {
          PARAM_RESULT_PATHS: '{"ERROR_REASON":"/r/ERROR_REASON","BOGUS":"/x","IMAGE_URL":""}',
          PARAM_TAGS: 'not json',
        },
        flags: {},
      }),
      { ERROR_REASON: '/r/ERROR_REASON' },
    );
    assert.deepEqual(
      earlyResultPaths({
        env: { BUILDKIT_STEP_PARAMS: '{"result_paths":{"ERROR_MESSAGE":"/m"},"tags":"bad"}' },
        flags: {},
      }),
      { ERROR_MESSAGE: '/m' },
    );
    assert.deepEqual(earlyResultPaths({ env: { PARAM_RESULT_PATHS: '{broken' }, flags: {} }), {});
  });
});

describe('layers', () => {
  test('origins record which source gave each value', () => {
    const merged = mergeLayers([
      { origin: 'default', values: { context: '.' } },
      paramEnvLayer({ PARAM_CONTEXT: 'src', PATH: '/bin' }, schema),
    ]);
    assert.deepEqual({ ...merged.origins }, { context: 'PARAM_CONTEXT' });
  });
});

describe('rules across params', () => {
  const params = (extra: Record<string, unknown>) =>
    ({
      image: 'a/b',
      tags: ['1'],
      endpoint: 'unix:///s',
      sbom: false,
      push: false,
      oci_tar: false,
      cache_key: 'buildcache',
      ...extra,
    }) as unknown as Params;
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['tls_dir with a unix endpoint', { tls_dir: '/tls' }, /tls_dir: only used with a tcp:\/\/ endpoint/],
    [
      'tls_server_name without tls_dir',
      { endpoint: 'tcp://h:1', tls_server_name: 'h' },
      /tls_server_name: needs tls_dir/,
    ],
    ['sbom_generator without sbom', { sbom_generator: 'r/s:1' }, /sbom_generator: needs sbom: true/],
    [
      'oci_tar when pushing without oci_layout',
      { push: true, oci_tar: true },
      /oci_tar: needs oci_layout when push is true/,
    ],
    [
      'a cache key with nothing usable as a tag',
      { cache_repo: 'r/c', cache_key: '///' },
      /cache_key: "\/\/\/" has no character usable in a tag/,
    ],
    [
      'a fallback key with nothing usable as a tag',
      { cache_repo: 'r/c', cache_fallback_keys: ['main', '..'] },
      /cache_fallback_keys\/1: "\.\." has no character usable/,
    ],
    [
      'platform_endpoints with endpoints',
      { platform_endpoints: { 'linux/amd64': 'tcp://a:1' }, endpoints: ['tcp://b:1'] },
      /platform_endpoints: cannot be combined with endpoints/,
    ],
    [
      'a platform without a node',
      { platform_endpoints: { 'linux/amd64': 'tcp://a:1' }, platforms: ['linux/amd64', 'linux/arm64'] },
      /platforms: linux\/arm64 has no daemon in platform_endpoints/,
    ],
    ['compression_level without compression', { compression_level: 3 }, /compression_level: needs compression/],
    [
      'a zstd-only level for gzip',
      { compression: 'gzip', compression_level: 19 },
      /compression_level: gzip levels are 0-9 \(got 19\)/,
    ],
    ['force_compression without compression', { force_compression: true }, /force_compression: needs compression/],
    [
      'local_export_target without local_export_dir',
      { local_export_target: 'reports' },
      /local_export_target: needs local_export_dir/,
    ],
    [
      'check_fail_on_warnings without check',
      { check_fail_on_warnings: true },
      /check_fail_on_warnings: needs check: true/,
    ],
    [
      'network host without the entitlement',
      { network: 'host', allow: ['security.insecure'] },
      /network: host needs allow: \["network.host"\]/,
    ],
  ];
  for (const [name, extra, message] of cases) {
    test(name, () => {
      assert.throws(
        () => checkRules(params(extra)),
        (error: unknown) =>
          error instanceof StepError && error.code === 'PARAMS_INVALID' && message.test(error.message),
      );
    });
  }
  test('keys without cache_repo are ignored (a pipeline passes the branch to every build); tls_dir with a tcp:// fleet passes', () => {
    assert.doesNotThrow(() => checkRules(params({ cache_key: '///', cache_fallback_keys: ['main'] })));
    assert.doesNotThrow(() => checkRules(params({ endpoints: ['tcp://a:1', 'tcp://b:1'], tls_dir: '/tls' })));
    assert.doesNotThrow(() =>
      checkRules(params({ platform_endpoints: { 'linux/arm64': 'tcp://a:1' }, tls_dir: '/tls' })),
    );
  });

  test('consistent new options pass', () => {
    assert.doesNotThrow(() =>
      checkRules(
        params({
          compression: 'zstd',
          compression_level: 22,
          force_compression: true,
          network: 'host',
          allow: ['network.host'],
          check: true,
          check_fail_on_warnings: true,
          local_export_dir: 'o',
          local_export_target: 't',
        }),
      ),
    );
  });
  test('a consistent TLS setup passes', () => {
    assert.doesNotThrow(() => checkRules(params({ endpoint: 'tcp://h:1', tls_dir: '/tls', tls_server_name: 'h' })));
  });
});
