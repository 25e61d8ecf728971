// The execve limits checked on the finished buildx argv.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkArgv, MAX_ARG_BYTES, MAX_ARGV_BYTES } from '../../src/buildx/limits.js';
import { StepError } from '../../src/errors.js';

const head = ['build', '--builder', 'buildkit-step'];
const tail = ['--metadata-file', '/tmp/m.json', '/src'];

describe('checkArgv', () => {
  test('an ordinary argv passes unchanged', () => {
    const argv = [...head, '--build-arg', 'A=--output=type=local,dest=/tmp/x', ...tail];
    assert.deepEqual(checkArgv(argv), argv);
  });

  const rejected: Array<{ name: string; argv: string[]; message: RegExp }> = [
    {
      name: 'a NUL names the parameter behind the flag',
      argv: [...head, '--build-arg', 'A=a\0b', ...tail],
      message: /build_args\/build_args_dir \(key A\): a value contains a NUL/,
    },
    {
      name: 'a NUL in the context',
      argv: [...head, '--metadata-file', '/tmp/m.json', '/src\0x'],
      message: /context: a value contains a NUL/,
    },
    {
      name: 'one argument over 128 KiB',
      argv: [...head, '--label', `l=${'x'.repeat(MAX_ARG_BYTES)}`, ...tail],
      message: /labels \(key l\): one value makes a 131075-byte buildx argument/,
    },
    {
      name: 'a build arg over 128 KiB names its key (a build_args_dir file name)',
      argv: [...head, '--build-arg', 'SMALL=1', '--build-arg', `BIG_ONE=${'x'.repeat(MAX_ARG_BYTES)}`, ...tail],
      message:
        /^1 parameter problem:\n {2}- build_args\/build_args_dir \(key BIG_ONE\): one value makes a 131081-byte buildx argument/,
    },
    {
      name: 'a command line over 1 MiB names the largest contributor',
      argv: [
        ...head,
        ...Array.from({ length: 80 }, (_, index) => ['--annotation', `a${index}=${'é'.repeat(8000)}`]).flat(),
        ...tail,
      ],
      message: new RegExp(
        `annotations: the buildx command line would be \\d+ bytes .* over the ${MAX_ARGV_BYTES}-byte limit`,
      ),
    },
  ];
  for (const { name, argv, message } of rejected) {
    test(name, () => {
      assert.throws(
        () => checkArgv(argv),
        (error: unknown) =>
          error instanceof StepError && error.code === 'PARAMS_INVALID' && message.test(error.message),
      );
    });
  }
});
