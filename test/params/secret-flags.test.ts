// Secret params (`writeOnly` in the schema) are refused as command-line flags, where every process
// on the node could read them in /proc/PID/cmdline; the refusal names where to give them instead.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runCli, scratchDir } from '../helpers.js';

const VALUE = 'flag-secret-0c1f9e';

describe('secret params as flags', () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      '--secrets',
      JSON.stringify([{ key: 'TOKEN', value: VALUE }]),
      /--secrets: .*BUILDKIT_STEP_PARAMS or PARAM_SECRETS, or as files in secrets_dir/,
    ],
    [
      '--ssh',
      JSON.stringify([{ id: 'default', value: VALUE }]),
      /--ssh: .*BUILDKIT_STEP_PARAMS or PARAM_SSH, or as files in ssh_dir/,
    ],
  ];
  for (const [flag, value, message] of cases) {
    test(`${flag} is refused with PARAMS_INVALID naming the other sources, its value echoed nowhere`, async () => {
      const dir = scratchDir('secret-flag');
      const run = await runCli({
        args: ['build', '--image', 'registry.example.com/app', '--tags', 'v1', flag, value],
        env: {},
        resultsDir: path.join(dir, 'results'),
        cwd: dir,
      });
      assert.equal(run.exitCode, 2, run.stderr);
      assert.equal(run.results.ERROR_REASON, 'PARAMS_INVALID');
      assert.match(run.results.ERROR_MESSAGE ?? '', message);
      for (const [where, text] of Object.entries({ stdout: run.stdout, stderr: run.stderr, ...run.results }))
        assert.ok(!text.includes(VALUE), `the secret value appears in ${where}`);
    });
  }
});
