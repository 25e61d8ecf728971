// The execve limits checked on the finished buildx argv.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { own, pair, param, texts, type Arg } from '../../src/buildx/args.js';
import { checkArgv, MAX_ARG_BYTES, MAX_ARGV_BYTES } from '../../src/buildx/limits.js';
import { StepError } from '../../src/errors.js';

const head = own('build', '--builder', 'buildkit-step');
const metadata = param('--metadata-file', '/tmp/m.json', ['metadata_file']);
const tail: Arg[] = [...metadata, { text: '/src', from: ['context'] }];
const buildArg = (key: string, value: string) => pair('--build-arg', { key, value }, ['build_args', 'build_args_dir']);

describe('checkArgv', () => {
  test('an ordinary argv passes unchanged', () => {
    const argv = [...head, ...buildArg('A', '--output=type=local,dest=/tmp/x'), ...tail];
    assert.deepEqual(checkArgv(argv), texts(argv));
  });

  const rejected: Array<{ name: string; argv: Arg[]; message: RegExp }> = [
    {
      name: 'a NUL names the params the argument came from, and the entry',
      argv: [...head, ...buildArg('A', 'a\0b'), ...tail],
      message: /build_args\/build_args_dir \(key A\): a value contains a NUL/,
    },
    {
      name: 'a NUL in the context',
      argv: [...head, ...metadata, { text: '/src\0x', from: ['context'] }],
      message: /context: a value contains a NUL/,
    },
    {
      name: 'one argument over 128 KiB',
      argv: [...head, ...pair('--label', { key: 'l', value: 'x'.repeat(MAX_ARG_BYTES) }, ['labels']), ...tail],
      message: /labels \(key l\): one value makes a 131075-byte buildx argument/,
    },
    {
      name: 'a build arg over 128 KiB names its key (a build_args_dir file name)',
      argv: [...head, ...buildArg('SMALL', '1'), ...buildArg('BIG_ONE', 'x'.repeat(MAX_ARG_BYTES)), ...tail],
      message:
        /^1 parameter problem:\n {2}- build_args\/build_args_dir \(key BIG_ONE\): one value makes a 131081-byte buildx argument/,
    },
    {
      name: 'a command line over 1 MiB names the largest contributor',
      argv: [
        ...head,
        ...Array.from({ length: 80 }, (_, index) =>
          pair('--annotation', { key: `a${index}`, value: 'é'.repeat(8000) }, ['annotations']),
        ).flat(),
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
