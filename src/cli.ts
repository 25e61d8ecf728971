// Command-line wiring: yargs options generated from the schema, exit codes, results on failure.
import yargs, { type Argv, type Options } from 'yargs';
import type { Params } from './config.js';
import { probeDaemon } from './daemon/probe.js';
import { ERROR_CODES, StepError, toStepError } from './errors.js';
import { runBuildx } from './buildx/run.js';
import { envVarName, flagName, RESULTS_DIR_ENV } from './params/names.js';
import { readParams } from './params/read.js';
import { paramKeys, paramsSchema, paramType, resolveRef, type JsonSchema } from './params/schema.js';
import { failureResults } from './results.js';
import { runBuild } from './step.js';
import { writeResults } from './write-results.js';

export type Io = {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  isTty: boolean;
  signal?: AbortSignal;
};

const DEFAULT_RESULTS_DIR = '/tekton/results';

/** Runs the CLI and resolves with the process exit code. Never throws. */
export async function main(io: Io): Promise<number> {
  const schema = paramsSchema();
  let exitCode = 0;
  const log = (line: string) => io.stderr(`buildkit-step: ${line}\n`);

  const cli = withParamOptions(yargs(io.argv), schema)
    .scriptName('buildkit-step')
    .usage('$0 [command] [options]\n\nBuilds a container image with buildx against a BuildKit daemon and writes result files.')
    .option('params-file', { type: 'array', string: true, describe: 'JSON file of params (repeatable; later files win)', default: [] })
    .option('results-dir', { type: 'string', describe: `Directory for result files [env ${RESULTS_DIR_ENV}] (default ${DEFAULT_RESULTS_DIR})` })
    .command(
      ['build', '$0'],
      'Build the image (default command).',
      () => {},
      async (args) => {
        const resultsDir = (args.resultsDir as string | undefined) || io.env[RESULTS_DIR_ENV] || DEFAULT_RESULTS_DIR;
        try {
          const params = await readParams<Params>({ paramsFiles: args.paramsFile as string[], env: io.env, flags: flagValues(args, schema) }, schema);
          const outcome = await runBuild(params, { env: io.env, cwd: io.cwd, runner: runBuildx, probe: probeDaemon, log, isTty: io.isTty, signal: io.signal });
          await writeResults(resultsDir, outcome.results);
          for (const [name, value] of Object.entries(outcome.results)) log(`result ${name}=${value}`);
        } catch (thrown) {
          const error = io.signal?.aborted ? new StepError('INTERRUPTED', 'the step was interrupted', { cause: thrown }) : toStepError(thrown);
          exitCode = error.exitCode;
          log(`error ${error.code}: ${error.message}`);
          try {
            await writeResults(resultsDir, failureResults(error));
          } catch (writeError) {
            log(`also failed to write error results: ${(writeError as Error).message}`);
          }
        }
      },
    )
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
    const error = toStepError(thrown);
    io.stderr(`buildkit-step: error ${error.code}: ${error.message}\n`);
    return error.exitCode;
  }
  return exitCode;
}

/** One option per schema property: `--tags a --tags b`, `--daemon-timeout 30`, `--build-args '[...]'`. */
function withParamOptions(cli: Argv, schema: JsonSchema): Argv {
  for (const key of paramKeys(schema)) {
    const property = resolveRef(schema, schema.properties?.[key] ?? {});
    const type = paramType(schema, key);
    const items = property.items ? resolveRef(schema, property.items) : undefined;
    const option: Options = { describe: `${property.description ?? ''} [env ${envVarName(key)}]`, group: 'Parameters:' };
    if (type === 'array' && items?.type === 'string') Object.assign(option, { type: 'array', string: true });
    else if (type === 'number' || type === 'integer') option.type = 'number';
    else if (type === 'boolean') option.type = 'boolean';
    else option.type = 'string';
    if (type === 'array' && items?.type !== 'string') option.describe += ' (JSON)';
    cli.option(flagName(key), option);
  }
  return cli;
}

/** The parsed flags that are parameters, keyed by schema name. */
function flagValues(args: Record<string, unknown>, schema: JsonSchema): Record<string, unknown> {
  return Object.fromEntries(paramKeys(schema).map((key) => [key, args[flagName(key)]]));
}

/** The exit code table, for docs and tests. */
export const EXIT_CODES = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, entry]) => [code, entry.exit]));
