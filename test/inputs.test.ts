// Naming rules for files in mounted Secret directories.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sshIdOf } from '../src/inputs.js';

test('ssh-privatekey and OpenSSH key names forward as default; other files keep their name', () => {
  assert.deepEqual(['ssh-privatekey', 'id_rsa', 'id_ed25519', 'id_ecdsa_sk', 'deploy', 'github'].map(sshIdOf), ['default', 'default', 'default', 'default', 'deploy', 'github']);
});
