// The hostile-input corpus through the CLI's own entry (`main`, in-process, with a stand-in
// buildx that records whether it ran), and a sample through the built binary.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../../src/cli.js';
import type { Params } from '../../src/config.js';
import type { Runner } from '../../src/buildx/run.js';
import { toStepError } from '../../src/errors.js';
import { readParams } from '../../src/params/read.js';
import { failureResults } from '../../src/results.js';
import { checkRules } from '../../src/params/rules.js';
import { flagName, envVarName } from '../../src/params/names.js';
import { paramKeys, paramsSchema, paramType } from '../../src/params/schema.js';
import { planBuild, runBuild } from '../../src/step.js';
import { fakeBuildx, readResults, runCli } from '../helpers.js';
import { readFlagValue } from './buildx-read.js';
import { corpus, makeFixture, PLAIN, SECRET_MARK, type Case, type Doc, type Fixture, type Kind } from './corpus.js';

const schema = paramsSchema();
const kinds = Object.fromEntries(paramKeys(schema).map((key) => [key, paramType(schema, key) as Kind]));
const root = mkdtempSync(path.join(os.tmpdir(), 'bks-hostile-'));
const fixture: Fixture = makeFixture(root);
const cases = corpus(fixture, kinds);
const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
const arrayPrototypeNames = Object.getOwnPropertyNames(Array.prototype).sort();
let runCounter = 0;
/** A new empty dir for one run's results, params file and stand-in buildx. */
const freshDir = (): string => {
  const dir = path.join(root, 'runs', String(runCounter++));
  mkdirSync(dir, { recursive: true });
  return dir;
};
after(() => rmSync(root, { recursive: true, force: true }));

type Outcome = {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  results: Record<string, string>;
  buildxRan: boolean;
};
type Invocation = { args: string[]; env: NodeJS.ProcessEnv };

/** The CLI args and env that carry `doc` by the case's route. */
function invocation(command: string, kase: Case, doc: Doc, dir: string): Invocation {
  const env: NodeJS.ProcessEnv = { TMPDIR: fixture.tmp, BUILDKIT_STEP_STATE_DIR: fixture.state, ...kase.env };
  const text = kase.text ?? JSON.stringify(doc);
  switch (kase.via) {
    case 'env-json':
      return { args: [command], env: { ...env, BUILDKIT_STEP_PARAMS: text } };
    case 'file': {
      const file = path.join(dir, 'params.json');
      writeFileSync(file, text);
      return { args: [command, '--params-file', file], env };
    }
    case 'param-env': {
      for (const [key, value] of Object.entries(doc))
        env[envVarName(key)] = kinds[key] === 'string' && typeof value === 'string' ? value : JSON.stringify(value);
      return { args: [command], env };
    }
    case 'flags': {
      // Secret params are refused as flags (a command line is readable by any process): env JSON.
      if (kase.args) return { args: [command, ...kase.args], env };
      const { secrets, others } = splitSecrets(doc);
      return { args: [command, ...toFlags(others)], env: { ...env, ...secretsEnv(secrets) } };
    }
    case 'tekton-arrays': {
      // As the Task passes them: list params as array blocks last, secrets in env JSON, the rest as flags.
      const split = splitSecrets(doc);
      const lists = Object.entries(split.others).filter(
        ([key, value]) => kinds[key] === 'array' && Array.isArray(value),
      ) as Array<[string, unknown[]]>;
      const others = Object.fromEntries(
        Object.entries(split.others).filter(([key]) => !lists.some(([list]) => list === key)),
      );
      const element = (item: unknown) =>
        typeof item === 'string' ? item : `${(item as { key: string }).key}=${(item as { value: string }).value}`;
      const blocks = lists.flatMap(([key, items]) => [`--array=${key}`, ...items.map(element)]);
      return {
        args: [command, ...toFlags(others), `--array-params=${lists.map(([key]) => key).join(',')}`, ...blocks],
        env: { ...env, ...secretsEnv(split.secrets) },
      };
    }
  }
}

/** The secret params (`secrets`, `ssh`), which never go on a command line, and the rest. */
function splitSecrets(doc: Doc): { secrets: Doc; others: Doc } {
  const secret = (key: string) => key === 'secrets' || key === 'ssh';
  const entries = Object.entries(doc);
  return {
    secrets: Object.fromEntries(entries.filter(([key]) => secret(key))),
    others: Object.fromEntries(entries.filter(([key]) => !secret(key))),
  };
}

/** The env JSON that carries secret params, when there are any. */
const secretsEnv = (secrets: Doc): NodeJS.ProcessEnv =>
  Object.keys(secrets).length > 0 ? { BUILDKIT_STEP_PARAMS: JSON.stringify(secrets) } : {};

/** `--key=value` per param, the way a person would type them. */
function toFlags(doc: Doc): string[] {
  return Object.entries(doc).flatMap(([key, value]) => {
    const flag = `--${flagName(key)}`;
    if (typeof value === 'boolean') return [value ? flag : `${flag}=false`];
    if (Array.isArray(value) && value.every((item) => typeof item === 'string'))
      return value.map((item) => `${flag}=${item}`);
    if (typeof value === 'string' || typeof value === 'number') return [`${flag}=${value}`];
    return [`${flag}=${JSON.stringify(value)}`];
  });
}

/**
 * In this process. Flags go through `main` (yargs is part of the route) with a recording
 * stand-in buildx; the other routes call the functions `main` calls (readParams, checkRules,
 * planBuild / runBuild) with a runner that records whether buildx would start and a daemon
 * that answers at once, so a document wrongly accepted reaches the runner instead of waiting.
 */
async function inProcess(command: string, kase: Case, doc: Doc): Promise<Outcome> {
  if (kase.via !== 'flags' && kase.via !== 'tekton-arrays') return direct(command, kase, doc);
  const dir = freshDir();
  const fake = fakeBuildx(path.join(dir, 'fake'));
  const { args, env } = invocation(command, kase, doc, dir);
  let stdout = '';
  let stderr = '';
  const exitCode = await main({
    argv: args,
    env: {
      PATH: process.env.PATH,
      BUILDKIT_STEP_RESULTS_DIR: path.join(dir, 'results'),
      BUILDKIT_STEP_BUILDX: fake.bin,
      ...env,
    },
    cwd: fixture.cwd,
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    isTty: false,
    // A document wrongly accepted would wait for a daemon: stop it (INTERRUPTED, so the case fails).
    signal: AbortSignal.timeout(20_000),
  });
  return { exitCode, stdout, stderr, results: readResults(path.join(dir, 'results')), buildxRan: fake.ran() };
}

async function direct(command: string, kase: Case, doc: Doc): Promise<Outcome> {
  const { args, env } = invocation(command, kase, doc, freshDir());
  const paramsFiles = args.filter((_, index) => args[index - 1] === '--params-file');
  let buildxRan = false;
  const runner: Runner = () => {
    buildxRan = true;
    return Promise.resolve({ exitCode: 1, tail: ['a stand-in buildx'] });
  };
  try {
    const params = checkRules(await readParams<Params>({ paramsFiles, env, flags: {} }, schema));
    if (command === 'print-argv') {
      const plan = await planBuild(params, { env, cwd: fixture.cwd, isTty: false });
      return { exitCode: 0, stdout: `${JSON.stringify(plan)}\n`, stderr: '', results: {}, buildxRan };
    }
    await runBuild(params, {
      env,
      cwd: fixture.cwd,
      runner,
      probe: () => Promise.resolve({ ok: true, workers: 1 }),
      log: () => {},
      output: () => {},
      isTty: false,
    });
    return { exitCode: 0, stdout: '', stderr: '', results: {}, buildxRan };
  } catch (thrown) {
    const error = toStepError(thrown);
    const stdout = `${JSON.stringify({ status: 'failed', code: error.code, exitCode: error.exitCode, message: error.message })}\n`;
    return {
      exitCode: error.exitCode,
      stdout,
      stderr: `buildkit-step: error ${error.code}: ${error.message}\n`,
      results: failureResults(error),
      buildxRan,
    };
  }
}

/** The same through the bundled CLI. */
async function viaBinary(command: string, kase: Case, doc: Doc): Promise<Outcome> {
  const dir = freshDir();
  const fake = fakeBuildx(path.join(dir, 'fake'));
  const { args, env } = invocation(command, kase, doc, dir);
  const run = await runCli({
    args,
    env: { BUILDKIT_STEP_BUILDX: fake.bin, ...env },
    resultsDir: path.join(dir, 'results'),
    cwd: fixture.cwd,
  });
  return { ...run, buildxRan: fake.ran() };
}

/** No secret value (all carry SECRET_MARK) in anything the step printed or wrote. */
function assertNoSecret(outcome: Outcome): void {
  for (const [where, text] of [
    ['stdout', outcome.stdout],
    ['stderr', outcome.stderr],
    ...Object.entries(outcome.results),
  ] as Array<[string, string]>) {
    assert.ok(!text.includes(SECRET_MARK), `a secret value appears in ${where}`);
  }
}

async function checkRejected(kase: Case, param: string, run = inProcess): Promise<void> {
  if (run === viaBinary) {
    // print-argv first: if the document were wrongly accepted, `build` would wait for a daemon.
    const printed = await run('print-argv', kase, kase.doc);
    assert.equal(
      printed.exitCode,
      2,
      `print-argv should reject it; exit ${printed.exitCode}: ${printed.stderr.slice(0, 600)}`,
    );
    assertNoSecret(printed);
  }
  const built = await run('build', kase, kase.doc);
  assert.equal(built.exitCode, 2, built.stderr.slice(0, 600));
  assert.equal(built.results.ERROR_REASON, 'PARAMS_INVALID');
  assert.ok(
    built.results.ERROR_MESSAGE?.includes(param),
    `the message names ${param}: ${built.results.ERROR_MESSAGE?.slice(0, 600)}`,
  );
  assert.equal((JSON.parse(built.stdout.trim().split('\n').pop() ?? '{}') as { code?: string }).code, 'PARAMS_INVALID');
  assert.equal(built.buildxRan, false, 'buildx must never start');
  assertNoSecret(built);
}

type Argvs = { create: string[]; build: string[]; localExport?: string[] };

async function printArgv(kase: Case, doc: Doc, value: string, run = inProcess): Promise<Argvs> {
  kase.setup?.(value);
  const printed = await run('print-argv', kase, doc);
  assert.equal(
    printed.exitCode,
    0,
    `print-argv of ${value === PLAIN ? 'the baseline' : 'the case'} failed: ${printed.stderr.slice(0, 600)}`,
  );
  assertNoSecret(printed);
  return JSON.parse(printed.stdout) as Argvs;
}

/**
 * The hostile argv equals the baseline's except in the elements that hold PLAIN, and buildx
 * reads each of those exactly as the baseline's with PLAIN replaced by the value.
 */
function assertConfined(hostile: string[], baseline: string[], value: string): void {
  assert.equal(
    hostile.length,
    baseline.length,
    `no argv element added or removed:\n${JSON.stringify(hostile)}\nvs\n${JSON.stringify(baseline)}`,
  );
  baseline.forEach((element, index) => {
    if (!element.includes(PLAIN)) {
      assert.equal(hostile[index], element, `argv[${index}] unchanged`);
      return;
    }
    const previous = baseline[index - 1];
    const flag = previous?.startsWith('--') ? previous : undefined;
    const expected = readFlagValue(flag, element).map((field) => field.replaceAll(PLAIN, value));
    assert.deepEqual(
      readFlagValue(flag, hostile[index]!),
      expected,
      `argv[${index}] (${flag ?? 'positional'}) as buildx reads it`,
    );
  });
}

async function checkLegal(kase: Case, value: string): Promise<Argvs> {
  assert.ok(kase.baseline, 'a legal case needs a baseline');
  const baseline = await printArgv(kase, kase.baseline, PLAIN);
  const hostile = await printArgv(kase, kase.doc, value);
  assertConfined(hostile.build, baseline.build, value);
  assertConfined(hostile.create, baseline.create, value);
  assert.equal(
    hostile.localExport === undefined,
    baseline.localExport === undefined,
    'a local export in both or neither',
  );
  if (hostile.localExport && baseline.localExport) assertConfined(hostile.localExport, baseline.localExport, value);
  // print-argv masks secrets; `direct` prints the unmasked argv of the same functions: no secret in it either.
  if (kase.via !== 'flags' && kase.via !== 'tekton-arrays')
    for (const element of [...hostile.create, ...hostile.build, ...(hostile.localExport ?? [])])
      assert.ok(!element.includes(SECRET_MARK), 'a secret value reached the buildx argv');
  return hostile;
}

async function checkCase(kase: Case): Promise<void> {
  if ('rejected' in kase.expect) await checkRejected(kase, kase.expect.rejected);
  else await checkLegal(kase, kase.expect.legal);
}

/** Cases grouped by what they attack (the name before the first colon). */
const groups = new Map<string, Case[]>();
for (const kase of cases) {
  const group = kase.origin === 'hand' ? 'hand-written' : kase.name.split(':')[0]!;
  groups.set(group, [...(groups.get(group) ?? []), kase]);
}

describe('hostile params corpus, in-process through the CLI entry', () => {
  before(() => {
    const rejected = cases.filter((kase) => 'rejected' in kase.expect).length;
    const hand = cases.filter((kase) => kase.origin === 'hand').length;
    process.stderr.write(
      `corpus: ${cases.length} documents (${hand} hand-written, ${cases.length - hand} generated): ${rejected} to reject, ${cases.length - rejected} legal\n`,
    );
  });
  test('the corpus is large and covers every route', () => {
    assert.ok(cases.length >= 200, `${cases.length} documents`);
    for (const via of ['env-json', 'file', 'param-env', 'flags', 'tekton-arrays'])
      assert.ok(cases.filter((kase) => kase.via === via).length >= 20, via);
    assert.ok(cases.some((kase) => 'legal' in kase.expect) && cases.some((kase) => 'rejected' in kase.expect));
  });

  for (const [group, members] of groups) {
    test(`${group} (${members.length} documents)`, async () => {
      const failures: string[] = [];
      for (const kase of members) {
        try {
          await checkCase(kase);
        } catch (error) {
          failures.push(
            `${kase.name} [${kase.via}]: ${(error as Error).message.split('\n').slice(0, 6).join('\n    ')}`,
          );
        }
      }
      assert.deepEqual(failures, []);
    });
  }

  test('no document reached Object.prototype or Array.prototype', () => {
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeNames);
    assert.deepEqual(Object.getOwnPropertyNames(Array.prototype).sort(), arrayPrototypeNames);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('hostile params corpus, a sample through the built binary', () => {
  // Every 40th case that fits in an environment variable (execve takes at most 128 KiB per variable), plus all hand-written flag cases.
  const sample = cases.filter((kase, index) => {
    const size = (kase.text ?? JSON.stringify(kase.doc)).length;
    return size < 100_000 && (index % 40 === 0 || (kase.origin === 'hand' && kase.via === 'flags'));
  });

  test(`${sample.length} documents give the same outcome as in-process`, async () => {
    assert.ok(sample.length >= 30, `${sample.length} sampled`);
    const failures: string[] = [];
    const queue = [...sample];
    const worker = async () => {
      for (let kase = queue.shift(); kase; kase = queue.shift()) {
        try {
          if ('rejected' in kase.expect) {
            await checkRejected(kase, kase.expect.rejected, viaBinary);
          } else {
            const binary = await printArgv(kase, kase.doc, kase.expect.legal, viaBinary);
            assert.deepEqual(binary, await checkLegal(kase, kase.expect.legal));
          }
        } catch (error) {
          failures.push(
            `${kase.name} [${kase.via}]: ${(error as Error).message.split('\n').slice(0, 6).join('\n    ')}`,
          );
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    assert.deepEqual(failures, []);
  });
});
