// Materializing inputs: naming rules for mounted Secret dirs, unreadable files, cleanup.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { resolveConfig, type Params } from '../src/config.js';
import { StepError } from '../src/errors.js';
import { materialize, sshIdOf } from '../src/inputs.js';
import { withDefaults } from './params/fixture.js';
import { scratchDir } from './helpers.js';

/** The config of a minimal local build in `dir` (its cwd and temp dir), plus `extra` params. */
const configIn = (dir: string, extra: Partial<Params>) =>
  resolveConfig(
    withDefaults({ image: 'a/b', tags: ['1'], endpoint: 'unix:///s', daemon_timeout: 1, retries: 0, ...extra }),
    { cwd: dir, tmpDir: dir },
  );

test('ssh-privatekey and OpenSSH key names forward as default; other files keep their name', () => {
  assert.deepEqual(['ssh-privatekey', 'id_rsa', 'id_ed25519', 'id_ecdsa_sk', 'deploy', 'github'].map(sshIdOf), [
    'default',
    'default',
    'default',
    'default',
    'deploy',
    'github',
  ]);
});

test('a missing ssh key file fails before the build with PARAMS_UNREADABLE naming the param', async () => {
  const dir = scratchDir('inputs');
  const config = configIn(dir, { ssh_key_files: [{ key: 'default', value: 'missing-key' }] });
  await assert.rejects(
    materialize(config, path.join(dir, 'state')),
    (error: unknown) =>
      error instanceof StepError &&
      error.code === 'PARAMS_UNREADABLE' &&
      /^ssh_key_files: cannot read .*missing-key: ENOENT$/.test(error.message),
  );
  assert.deepEqual(readdirSync(path.join(dir, 'state')), [], 'the private dir is removed again');
});

test('a build_args_dir file over the 16,384-character value limit is refused, naming the file', async () => {
  const dir = scratchDir('inputs');
  const argsDir = path.join(dir, 'args');
  mkdirSync(argsDir);
  writeFileSync(path.join(argsDir, 'SMALL'), 'ok');
  // 16,384 four-byte characters pass (characters are counted as the schema counts them for build_args); one more fails.
  writeFileSync(path.join(argsDir, 'AT_LIMIT'), '😀'.repeat(16_384));
  writeFileSync(path.join(argsDir, 'TOO_BIG'), 'x'.repeat(16_385));
  const config = configIn(dir, { build_args_dir: argsDir });
  await assert.rejects(
    materialize(config, path.join(dir, 'state')),
    (error: unknown) =>
      error instanceof StepError &&
      error.code === 'PARAMS_INVALID' &&
      /build_args_dir: file "TOO_BIG" holds 16385 characters, over the 16384-character limit/.test(error.message) &&
      !/AT_LIMIT/.test(error.message),
  );
  rmSync(path.join(argsDir, 'TOO_BIG'));
  const materialized = await materialize(config, path.join(dir, 'state'), { dryRun: true });
  assert.deepEqual(
    materialized.inputs.buildArgs.map((pair) => [pair.key, pair.value.length]),
    [
      ['AT_LIMIT', 32_768],
      ['SMALL', 2],
    ],
  );
});
