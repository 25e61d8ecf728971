// Parsing buildx metadata, on files captured from real builds.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseMetadata } from '../../src/buildx/metadata.js';
import { StepError } from '../../src/errors.js';
import { REPO } from '../helpers.js';

const fixture = (name: string) => readFileSync(path.join(REPO, 'test', 'fixtures', 'metadata', name), 'utf8');

describe('parseMetadata', () => {
  test('an OCI-layout build with two tags (captured from buildx v0.38.2)', () => {
    assert.deepEqual(parseMetadata(fixture('oci-layout-two-tags.json')), {
      digest: 'sha256:eb01ea9f31acab906d5e2187a946926b47a56f4ea617a878899cfc2837a3fd33',
      configDigest: 'sha256:726900ad8f691af1be38710ea2e1233897341705ef3d4882bfc8dde886da7f76',
      imageName: 'x.io/a/b:v1,x.io/a/b:v2',
      buildRef: 'buildkit-step/buildkit-step0/oml4gni56j54nzjjd7q32h8bc',
    });
  });

  const bad: Array<[string, string]> = [
    ['not JSON', '{'],
    ['no digest', '{"buildx.build.ref":"x"}'],
    ['a digest of the wrong form', '{"containerimage.digest":"sha256:abc"}'],
    ['null', 'null'],
  ];
  for (const [name, text] of bad) {
    test(`METADATA_INVALID for ${name}`, () => {
      assert.throws(
        () => parseMetadata(text),
        (error: unknown) => error instanceof StepError && error.code === 'METADATA_INVALID',
      );
    });
  }
});
