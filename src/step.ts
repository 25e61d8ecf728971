// The build step from validated params to written results; every outside effect comes in `deps`.
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import { buildArgv, createBuilderArgv } from './buildx/argv.js';
import { parseMetadata } from './buildx/metadata.js';
import type { Runner } from './buildx/run.js';
import { resolveConfig, type BuildConfig, type Params } from './config.js';
import type { Probe } from './daemon/wait.js';
import { waitForDaemon } from './daemon/wait.js';
import { StepError } from './errors.js';
import { collectBuildArgs } from './inputs.js';
import { successResults, type Results } from './results.js';

export type StepDeps = {
  env: NodeJS.ProcessEnv;
  cwd: string;
  runner: Runner;
  probe: Probe;
  log: (line: string) => void;
  isTty: boolean;
  signal?: AbortSignal;
};

export type StepOutcome = { config: BuildConfig; results: Results };

/** The buildx binary: BUILDKIT_STEP_BUILDX, or `buildx` on PATH. */
export const buildxBin = (env: NodeJS.ProcessEnv): string => env.BUILDKIT_STEP_BUILDX || 'buildx';

/** Our own dir for buildx state, so nothing lands in $HOME and runs in one pod share it. */
export const stateDir = (env: NodeJS.ProcessEnv): string =>
  env.BUILDKIT_STEP_STATE_DIR || path.join(env.TMPDIR || os.tmpdir(), 'buildkit-step');

export async function runBuild(params: Params, deps: StepDeps): Promise<StepOutcome> {
  const config = resolveConfig(params, { cwd: deps.cwd, tmpDir: deps.env.TMPDIR || os.tmpdir() });
  const buildArgs = await collectBuildArgs(config);

  const waited = await waitForDaemon({ endpoint: config.endpoint, timeoutMs: config.daemonTimeoutMs, probe: deps.probe, log: deps.log });
  deps.log(`BuildKit daemon at ${config.endpoint} answers (${waited.workers} worker${waited.workers === 1 ? '' : 's'}, ${waited.tries} ${waited.tries === 1 ? 'try' : 'tries'})`);

  const bin = buildxBin(deps.env);
  const env = buildxEnv(deps.env);
  await fs.ensureDir(env.BUILDX_CONFIG as string);
  const created = await deps.runner(bin, createBuilderArgv(config), { env, signal: deps.signal });
  if (created.spawnError) throw buildxMissing(bin, created.spawnError);
  if (created.exitCode !== 0) {
    throw new StepError('INTERNAL', `buildx create failed (exit ${created.exitCode}): ${lastLines(created.tail)}`);
  }

  // buildx writes the metadata file only on success: never let a stale one pass for this build's.
  await fs.remove(config.metadataFile);
  await fs.ensureDir(path.dirname(config.metadataFile));
  const argv = buildArgv(config, { buildArgs, progress: deps.isTty ? 'auto' : 'plain' });
  const built = await deps.runner(bin, argv, { env, signal: deps.signal });
  if (built.spawnError) throw buildxMissing(bin, built.spawnError);
  if (deps.signal?.aborted) throw new StepError('INTERRUPTED', 'the build was interrupted');
  if (built.exitCode !== 0) {
    throw new StepError('BUILD_FAILED', `buildx build failed (exit ${built.exitCode}): ${lastLines(built.tail)}`);
  }

  const metadata = parseMetadata(await readMetadata(config.metadataFile));
  return { config, results: successResults(config, metadata) };
}

/** buildx's environment: ours, with buildx state kept in our dir. */
function buildxEnv(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return { ...env, BUILDX_CONFIG: path.join(stateDir(env), 'buildx') };
}

async function readMetadata(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new StepError('METADATA_INVALID', `buildx succeeded but wrote no metadata file at ${file}`, { cause: error });
  }
}

function buildxMissing(bin: string, error: NodeJS.ErrnoException): StepError {
  return new StepError('BUILDX_MISSING', `cannot start ${bin}: ${error.code} (install buildx or set BUILDKIT_STEP_BUILDX)`, { cause: error });
}

/** The lines of buildx output that say why it failed: `ERROR:` onwards, else the last few. */
export function lastLines(tail: readonly string[]): string {
  const lines = tail.map((line) => line.trimEnd()).filter(Boolean);
  const errorAt = lines.findIndex((line) => /^(ERROR|error):/.test(line));
  const picked = errorAt >= 0 ? lines.slice(errorAt) : lines.slice(-5);
  return picked.slice(0, 12).join('\n');
}
