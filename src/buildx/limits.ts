// What the kernel lets through execve, checked on the finished buildx argv. Pure.
import { paramsInvalid } from '../params/validate.js';
import { texts, type Arg } from './args.js';

/** Linux MAX_ARG_STRLEN: one argument, in bytes with its terminating NUL. */
export const MAX_ARG_BYTES = 128 * 1024;
/** Our share of ARG_MAX (usually 2 MiB for argv and environment together): the rest is for the environment. */
export const MAX_ARGV_BYTES = 1024 * 1024;

/**
 * Returns the argv when execve can take it; otherwise PARAMS_INVALID naming the params the
 * argument came from: spawn would fail with E2BIG (or Node would refuse a NUL) and look like a
 * missing buildx.
 * Params are checked for both earlier; this catches values read from dirs (build_args_dir).
 */
export function checkArgv(args: readonly Arg[]): string[] {
  const argv = texts(args);
  const problems: string[] = [];
  const bytes = argv.map((arg) => Buffer.byteLength(arg) + 1);
  const paramAt = (index: number) => args[index]?.from?.join('/') ?? `the value of ${argv[index - 1]}`;
  // A KEY=VALUE flag's key tells which of many entries it is (a ConfigMap key in build_args_dir).
  const entryAt = (index: number) => {
    const key = args[index]?.key;
    return key && /^[\x21-\x7e]{1,80}$/.test(key) ? `${paramAt(index)} (key ${key})` : paramAt(index);
  };
  argv.forEach((arg, index) => {
    if (arg.includes('\0'))
      problems.push(`${entryAt(index)}: a value contains a NUL character, which a command-line argument cannot carry`);
    if ((bytes[index] ?? 0) > MAX_ARG_BYTES)
      problems.push(
        `${entryAt(index)}: one value makes a ${bytes[index]}-byte buildx argument, over Linux's ${MAX_ARG_BYTES}-byte limit per argument`,
      );
  });
  const total = bytes.reduce((sum, size) => sum + size, 0);
  if (total > MAX_ARGV_BYTES) {
    const byParam = new Map<string, number>();
    argv.forEach((_, index) => byParam.set(paramAt(index), (byParam.get(paramAt(index)) ?? 0) + (bytes[index] ?? 0)));
    const largest = [...byParam].sort((a, b) => b[1] - a[1])[0];
    problems.push(
      `${largest?.[0]}: the buildx command line would be ${total} bytes (${largest?.[1]} of them from this parameter), over the ${MAX_ARGV_BYTES}-byte limit`,
    );
  }
  if (problems.length > 0) throw paramsInvalid([...new Set(problems)]);
  return argv;
}
