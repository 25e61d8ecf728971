// Command-line wiring: yargs commands and options generated from the schema, exit codes,
// results on failure, the JSON summary on stdout.
import yargs, { type Argv, type Options } from 'yargs';
import { runBuildx } from './buildx/run.js';
import type { Params } from './config.js';
import { probeDaemon } from './daemon/probe.js';
import { StepError, toStepError } from './errors.js';
import { inlineSecrets, masker, redactParams } from './mask.js';
import { envVarName, flagName, PARAMS_ENV, RESULTS_DIR_ENV } from './params/names.js';
import { ARRAY_HEADER, arrayMarker, beforeArrays, splitArrayArgs, type SplitArgv } from './params/arrays.js';
import { earlyResultPaths, readParams } from './params/read.js';
import { checkRules } from './params/rules.js';
import { paramKeys, paramsSchema, paramType, resolveRef, type JsonSchema } from './params/schema.js';
import { checkRegistryCa } from './registry-ca.js';
import { daemonConfigToml, registrySettings } from './registries.js';
import { failureResults } from './results.js';
import { planBuild, runBuild } from './step.js';
import { checkResultsWritable, writeFailureResults, writeResults, type ResultTargets } from './write-results.js';

export type Io = {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: (text: string) => void;
  /** May return a promise when the text is queued: resolves once the stream takes more. */
  stderr: (text: string) => void | Promise<void>;
  isTty: boolean;
  signal?: AbortSignal;
};

const DEFAULT_RESULTS_DIR = '/tekton/results';

type GlobalArgs = { paramsFile: string[]; resultsDir?: string } & Record<string, unknown>;

/** Runs the CLI and resolves with the process exit code. Never throws. */
export async function main(io: Io): Promise<number> {
  const schema = paramsSchema();
  // Status lines are few and the stream queues them: no need to wait for a drain here (the build
  // log, which can be large, goes through `output`, which waits).
  const log = (line: string): void => void io.stderr(`buildkit-step: ${line}\n`);
  const json = (value: unknown) => io.stdout(`${JSON.stringify(value)}\n`);
  // Tekton array params arrive as blocks at the end of the command line: taken off before yargs.
  let split: SplitArgv = { args: beforeArrays(io.argv), arrays: undefined };
  let splitError: StepError | undefined;
  try {
    split = splitArrayArgs(io.argv, schema);
  } catch (error) {
    splitError = toStepError(error);
  }
  const loadParams = async (args: GlobalArgs): Promise<Params> => {
    if (splitError) throw splitError;
    checkBooleanFlags(split.args, schema);
    return checkRules(
      await readParams<Params>(
        { paramsFiles: args.paramsFile, env: io.env, flags: flagValues(args, schema), arrays: split.arrays },
        schema,
      ),
    );
  };
  let exitCode = 0;
  const fail = (thrown: unknown) => {
    const error = toStepError(thrown);
    exitCode = error.exitCode;
    log(`error ${error.code}: ${error.message}`);
    return error;
  };
  /** A failed build: error results wherever they can go, then the summary line. */
  const buildFailed = async (error: StepError, targets: ResultTargets, durationMs: number) => {
    for (const problem of await writeFailureResults(targets, failureResults(error)))
      log(`also failed to write an error result: ${problem.message}`);
    json({
      status: 'failed',
      code: error.code,
      exitCode: error.exitCode,
      message: error.message,
      attempts: error.attempts ?? 0,
      durationMs,
    });
  };

  const cli = withParamOptions(yargs(defaultCommandArgv(split.args)), schema)
    .scriptName('buildkit-step')
    .usage(
      `$0 [command] [options]\n\nBuilds a container image with buildx against a BuildKit daemon and writes result files.\n` +
        `Each parameter can also come from ${PARAMS_ENV} (a JSON object), --params-file, or its PARAM_<NAME> env var.\n` +
        `Precedence: flags > array blocks > PARAM_* > ${PARAMS_ENV} > params files > defaults.\n\n` +
        `List params also take one item per line in PARAM_* and flags (KEY=VALUE for build_args, labels, annotations, build_contexts, ssh_key_files), JSON when the text starts with "[", and KEY=VALUE strings inside JSON lists.\n\n` +
        `Array blocks, what a Tekton Task passes for its array params, come last on the command line:\n` +
        `  ${ARRAY_HEADER}=tags,build_args ${arrayMarker('tags')} v1 latest ${arrayMarker('build_args')} A=1 B=2\n` +
        `The header names the blocks in order. Every element after a marker is a value, even one that looks like a flag, except one that is exactly a marker the header names (refused). An empty block is unset.`,
    )
    .option('params-file', {
      type: 'array',
      string: true,
      describe: 'JSON file of params (repeatable; later files win)',
      default: [],
    })
    .option('results-dir', {
      type: 'string',
      describe: `Directory for result files [env ${RESULTS_DIR_ENV}] (default ${DEFAULT_RESULTS_DIR})`,
    })
    .command(['build', '$0'], 'Build the image (default command).', {}, async (args) => {
      const started = Date.now();
      const resultsDir = (args.resultsDir as string | undefined) || io.env[RESULTS_DIR_ENV] || DEFAULT_RESULTS_DIR;
      let resultPaths = earlyResultPaths({ env: io.env, flags: flagValues(args, schema) });
      try {
        const params = await loadParams(args as unknown as GlobalArgs);
        resultPaths = params.result_paths ?? {};
        await checkResultsWritable({ dir: resultsDir, paths: resultPaths });
        const outcome = await runBuild(params, {
          env: io.env,
          cwd: io.cwd,
          runner: runBuildx,
          probe: probeDaemon,
          log,
          output: io.stderr,
          isTty: io.isTty,
          signal: io.signal,
        });
        await writeResults({ dir: resultsDir, paths: resultPaths }, outcome.results);
        for (const [name, value] of Object.entries(outcome.results)) log(`result ${name}=${value}`);
        const { config, results, summary } = outcome;
        if (config.check) {
          json({
            status: 'succeeded',
            mode: 'check',
            checkWarnings: summary.checkWarnings ?? 0,
            attempts: summary.attempts,
            daemonWaitMs: summary.daemonWaitMs,
            durationMs: Date.now() - started,
          });
          return;
        }
        json({
          status: 'succeeded',
          digest: results.IMAGE_DIGEST,
          imageUrl: results.IMAGE_URL,
          imageRef: results.IMAGE_REF,
          pushed: config.push ? config.refs : [],
          ociLayout: config.ociLayout ?? null,
          localExport: config.localExport?.dir ?? null,
          metadataFile: config.metadataFile,
          attempts: summary.attempts,
          steps: summary.steps.steps,
          cachedSteps: summary.steps.cached,
          cacheExportFailed: summary.cacheExportFailed,
          // Which cache refs this build read from and whether it wrote one: a hit rate to chart.
          cache: {
            found: summary.steps.cacheFound,
            missing: summary.steps.cacheMissing,
            exported: summary.steps.cacheExported,
          },
          daemonWaitMs: summary.daemonWaitMs,
          ...(summary.fleet ? { fleet: summary.fleet } : {}),
          buildMs: summary.buildMs,
          durationMs: Date.now() - started,
          // The step's own peak resident memory in KiB; buildx, a child process, is not counted.
          maxRssKiB: process.resourceUsage().maxRSS,
        });
      } catch (thrown) {
        const attempts = (thrown as Partial<StepError> | undefined)?.attempts;
        const error = fail(
          io.signal?.aborted
            ? new StepError('INTERRUPTED', 'the step was interrupted', { cause: thrown, attempts })
            : thrown,
        );
        await buildFailed(error, { dir: resultsDir, paths: resultPaths }, Date.now() - started);
      }
    })
    .command('validate', 'Check the params only; print them resolved (secret values hidden).', {}, async (args) => {
      try {
        const params = await loadParams(args as unknown as GlobalArgs);
        json({ valid: true, params: redactParams(params) });
      } catch (thrown) {
        const error = fail(thrown);
        json({ valid: false, code: error.code, message: error.message });
      }
    })
    .command(
      'print-argv',
      'Print the buildx argv a build would run, as JSON, without running anything.',
      {},
      async (args) => {
        try {
          const params = await loadParams(args as unknown as GlobalArgs);
          const plan = await planBuild(params, { env: io.env, cwd: io.cwd, isTty: io.isTty });
          const mask = masker(inlineSecrets(params));
          json({
            create: plan.create.map(mask),
            ...(plan.append ? { append: plan.append.map((argv) => argv.map(mask)) } : {}),
            build: plan.build.map(mask),
            ...(plan.localExport ? { localExport: plan.localExport.map(mask) } : {}),
          });
        } catch (thrown) {
          fail(thrown);
        }
      },
    )
    .command(
      'daemon-config',
      'Print the buildkitd.toml the registry params give the daemon (empty when none is set); image and tags are not needed.',
      {},
      async (args) => {
        try {
          const params = await readParams<Params>(
            { paramsFiles: (args as unknown as GlobalArgs).paramsFile, env: io.env, flags: flagValues(args, schema) },
            { ...schema, required: [] },
          );
          const settings = registrySettings(params);
          await checkRegistryCa(settings.ca);
          io.stdout(daemonConfigToml(settings));
        } catch (thrown) {
          fail(thrown);
        }
      },
    )
    .command('schema', 'Print the params JSON Schema.', {}, () => {
      io.stdout(`${JSON.stringify(schema, null, 2)}\n`);
    })
    .strict()
    .help()
    .version(false)
    .wrap(Math.min(120, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new StepError('PARAMS_INVALID', message);
    });

  try {
    await cli.parseAsync();
  } catch (thrown) {
    const error = fail(thrown);
    // yargs refused the command line (an unknown or misplaced flag): a build step still owes ERROR_REASON.
    if (commandOf(split.args) === 'build') {
      const resultsDir = resultsDirOf(split.args) || io.env[RESULTS_DIR_ENV] || DEFAULT_RESULTS_DIR;
      await buildFailed(error, { dir: resultsDir, paths: earlyResultPaths({ env: io.env, flags: {} }) }, 0);
    }
    return error.exitCode;
  }
  return exitCode;
}

const COMMANDS = ['build', 'validate', 'print-argv', 'daemon-config', 'schema'];

/**
 * The command a raw command line asks for, for when yargs could not parse it: the first word
 * (as the Tasks and the template write it), else `build`, the default. Later words may be
 * param values (`--target schema`), so they are not taken for the command.
 */
function commandOf(argv: readonly string[]): string {
  const first = argv[0] ?? '';
  if (COMMANDS.includes(first)) return first;
  return argv.some((arg) => arg === '--help' || arg === '--version') ? 'help' : 'build';
}

/** `--results-dir X` or `--results-dir=X` from a raw command line. */
function resultsDirOf(argv: readonly string[]): string | undefined {
  for (const [index, arg] of argv.entries()) {
    if (arg === '--results-dir') return argv[index + 1];
    if (arg.startsWith('--results-dir=')) return arg.slice('--results-dir='.length);
  }
  return undefined;
}

/**
 * yargs reads `--push=1` or `--push=maybe` as false without a word: a boolean flag given a
 * value must say true or false.
 */
function checkBooleanFlags(argv: readonly string[], schema: JsonSchema): void {
  const booleans = new Set(
    paramKeys(schema)
      .filter((key) => paramType(schema, key) === 'boolean')
      .map(flagName),
  );
  for (const arg of argv) {
    const match = /^--([a-z-]+)=(.*)$/s.exec(arg);
    if (!match) continue;
    const [, name = '', value = ''] = match;
    const boolean = booleans.has(name) || (name.startsWith('no-') && booleans.has(name.slice(3)));
    if (boolean && value !== 'true' && value !== 'false') {
      throw new StepError(
        'PARAMS_INVALID',
        `--${name}: expected true or false, got ${JSON.stringify(value.slice(0, 40))}`,
      );
    }
  }
}

/**
 * `build` is also the default command, and yargs renders the whole help text up front whenever a
 * command is named (~50 ms of every step, for 37 options) but not for the default one: so a
 * named `build` runs as the default command, unless help is asked for.
 */
function defaultCommandArgv(argv: string[]): string[] {
  return argv[0] === 'build' && !argv.some((arg) => arg === '--help' || arg === '-h') ? argv.slice(1) : argv;
}

/** One option per schema property: `--tags a --tags b`, `--daemon-timeout 30`, `--build-args '[...]'`. */
function withParamOptions(cli: Argv, schema: JsonSchema): Argv {
  for (const key of paramKeys(schema)) {
    const property = resolveRef(schema, schema.properties?.[key] ?? {});
    const type = paramType(schema, key);
    const items = property.items ? resolveRef(schema, property.items) : undefined;
    const option: Options = {
      describe: `${property.description ?? ''} [env ${envVarName(key)}]`,
      group: 'Parameters:',
    };
    if (type === 'array' && items?.type === 'string') Object.assign(option, { type: 'array', string: true });
    else if (type === 'number' || type === 'integer') option.type = 'number';
    else if (type === 'boolean') option.type = 'boolean';
    else option.type = 'string';
    if (type === 'object' || (type === 'array' && items?.type !== 'string')) option.describe += ' (JSON)';
    cli.option(flagName(key), option);
  }
  return cli;
}

/** The parsed flags that are parameters, keyed by schema name. */
function flagValues(args: Record<string, unknown>, schema: JsonSchema): Record<string, unknown> {
  return Object.fromEntries(paramKeys(schema).map((key) => [key, args[flagName(key)]]));
}
