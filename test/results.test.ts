// Result values, and their size as Tekton counts it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveConfig } from '../src/config.js';
import { StepError } from '../src/errors.js';
import { RESULTS, RESULT_NAMES, type ResultWhen } from '../src/result-names.js';
import { withDefaults } from './params/fixture.js';
import { checkResultsSize, failureResults, goJsonString, successResults, tektonSize } from '../src/results.js';

const digest = `sha256:${'b'.repeat(64)}`;
const params = withDefaults({
  image: 'r.example.com/team/app',
  tags: ['v1', 'latest'],
  push: true,
  provenance: 'min',
});

describe('successResults', () => {
  test('a push: every Chains name', () => {
    assert.deepEqual(successResults(resolveConfig(params, { cwd: '/', tmpDir: '/tmp' }), { digest }), {
      IMAGE_DIGEST: digest,
      IMAGE_URL: 'r.example.com/team/app:v1',
      IMAGE_REF: `r.example.com/team/app@${digest}`,
      IMAGES: `r.example.com/team/app:v1@${digest},r.example.com/team/app:latest@${digest}`,
      ARTIFACT_OUTPUTS: `{"uri":"r.example.com/team/app","digest":"${digest}","isBuildArtifact":"true"}`,
    });
  });
  test('an OCI layout only: the digest, and nothing that names a registry image for Chains to sign', () => {
    const results = successResults(resolveConfig({ ...params, push: false }, { cwd: '/', tmpDir: '/tmp' }), { digest });
    assert.deepEqual(results, { IMAGE_DIGEST: digest });
  });
});

describe('each result is written when RESULTS says', () => {
  const declared = (...when: ResultWhen[]) => RESULT_NAMES.filter((name) => when.includes(RESULTS[name].when));
  const place = { cwd: '/', tmpDir: '/tmp' };
  test('a pushed build writes the built and pushed ones', () => {
    assert.deepEqual(
      Object.keys(successResults(resolveConfig(params, place), { digest })),
      declared('built', 'pushed'),
    );
  });
  test('an unpushed build writes the built ones', () => {
    const config = resolveConfig({ ...params, push: false }, place);
    assert.deepEqual(Object.keys(successResults(config, { digest })), declared('built'));
  });
  test('a failure writes the failed ones', () => {
    assert.deepEqual(Object.keys(failureResults(new StepError('BUILD_FAILED', 'x'))), declared('failed'));
  });
});

describe('size guard', () => {
  test('counts bytes as Tekton encodes them, with its StartedAt entry', () => {
    assert.equal(tektonSize({}), '[{"key":"StartedAt","value":"2006-01-02T15:04:05.000Z","type":3}]'.length);
    assert.equal(
      tektonSize({ IMAGE_URL: 'é' }),
      tektonSize({}) + ',{"key":"IMAGE_URL","value":"é","type":1}'.length + 1,
    );
  });
  test('fails with RESULTS_TOO_LARGE naming the largest result', () => {
    const tags = Array.from({ length: 40 }, (_, index) => `tag-number-${index}`);
    const results = successResults(resolveConfig({ ...params, tags }, { cwd: '/', tmpDir: '/tmp' }), { digest });
    assert.throws(
      () => checkResultsSize(results, 4096),
      (error: unknown) =>
        error instanceof StepError && error.code === 'RESULTS_TOO_LARGE' && /largest is IMAGES/.test(error.message),
    );
    assert.doesNotThrow(() => checkResultsSize(results, 65536));
  });
  test('error results always fit the smallest budget', () => {
    const results = failureResults(new StepError('BUILD_FAILED', 'x'.repeat(50_000)));
    assert.ok(tektonSize(results) <= 1200);
  });
  test("strings are sized as Go's encoding/json writes them (json.Marshal output, copied from Go)", () => {
    // Go: json.Marshal("a && b > c <d>") == `"a \u0026\u0026 b \u003e c \u003cd\u003e"`
    assert.equal(goJsonString('a && b > c <d>'), '"a \\u0026\\u0026 b \\u003e c \\u003cd\\u003e"');
    // Go: json.Marshal("x\u2028y\"\n") == `"x\u2028y\"\n"`; non-ASCII otherwise stays UTF-8.
    assert.equal(goJsonString('x\u2028y"\n'), '"x\\u2028y\\"\\n"');
    assert.equal(goJsonString('é'), '"é"');
    assert.equal(tektonSize({ ERROR_MESSAGE: '&&' }), tektonSize({ ERROR_MESSAGE: 'xx' }) + 10);
  });
  test('a failure message full of && and multi-byte text still fits: ERROR_MESSAGE is cut by encoded bytes', () => {
    for (const unit of ['&& ', 'é', '😀', '<>']) {
      const results = failureResults(new StepError('BUILD_FAILED', unit.repeat(5000)));
      const message = results.ERROR_MESSAGE!;
      assert.ok(Buffer.byteLength(goJsonString(message)) - 2 <= 1000, unit);
      assert.ok(message.endsWith('...'));
      assert.ok(!message.includes('\ufffd'), 'never cut inside a code point');
      assert.ok(tektonSize(results) <= 1200, unit);
    }
  });
});
