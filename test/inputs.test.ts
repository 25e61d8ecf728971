// Materializing inputs: naming rules for mounted Secret dirs, unreadable files, cleanup.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { resolveConfig } from '../src/config.js';
import { StepError } from '../src/errors.js';
import { materialize, sshIdOf } from '../src/inputs.js';

test('ssh-privatekey and OpenSSH key names forward as default; other files keep their name', () => {
  assert.deepEqual(['ssh-privatekey', 'id_rsa', 'id_ed25519', 'id_ecdsa_sk', 'deploy', 'github'].map(sshIdOf), ['default', 'default', 'default', 'default', 'deploy', 'github']);
});

test('a missing ssh key file fails before the build with PARAMS_UNREADABLE naming the param', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bks-inputs-'));
  const config = resolveConfig(
    { image: 'a/b', tags: ['1'], context: '.', dockerfile: 'Dockerfile', endpoint: 'unix:///s', daemon_timeout: 1, push: false, oci_tar: false, sbom: false, no_cache: false, pull: false, cache_export_fatal: false, retries: 0, results_max_bytes: 4096, ssh_key_files: [{ key: 'default', value: 'missing-key' }] },
    { cwd: dir, tmpDir: dir },
  );
  await assert.rejects(materialize(config, path.join(dir, 'state')), (error: unknown) => error instanceof StepError && error.code === 'PARAMS_UNREADABLE' && /^ssh_key_files: cannot read .*missing-key: ENOENT$/.test(error.message));
  assert.deepEqual(readdirSync(path.join(dir, 'state')), [], 'the private dir is removed again');
});
