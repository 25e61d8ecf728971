// A buildx argument and the params its text comes from, so a problem found in the finished argv
// (see limits.ts) names the param without mapping flags back to params. Pure.
import type { ParamName } from '../params/types.js';

/** One argv element; `from` names the params it comes from, `key` the entry of a `KEY=VALUE` list. */
export type Arg = { text: string; from?: readonly ParamName[]; key?: string };

/** `--flag value` whose value comes from `from` (the flag counts toward them too). */
export const param = (flag: string, value: string, from: readonly ParamName[], key?: string): Arg[] => [
  { text: flag, from },
  { text: value, from, ...(key === undefined ? {} : { key }) },
];

/** A flag without a value that a param turns on (`--no-cache`). */
export const flag = (text: string, from: readonly ParamName[]): Arg[] => [{ text, from }];

/** `--flag KEY=VALUE` for one pair of a list param: the key names the entry in messages. */
export const pair = (flag: string, entry: { key: string; value: string }, from: readonly ParamName[]): Arg[] =>
  param(flag, `${entry.key}=${entry.value}`, from, entry.key);

/** Arguments of the step's own making, from no param (`build`, `--builder buildkit-step`). */
export const own = (...texts: string[]): Arg[] => texts.map((text) => ({ text }));

/** The argv as buildx gets it. */
export const texts = (args: readonly Arg[]): string[] => args.map((arg) => arg.text);
