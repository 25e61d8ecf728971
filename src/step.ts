// The build step from validated params to results; every outside effect comes in `deps`.
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'fs-extra';
import {
  buildArgv,
  createNodesArgv,
  dockerfileCheckArgv,
  localExportArgv,
  type BuildInputs,
  type TlsFiles,
} from './buildx/argv.js';
import { countCheckFindings } from './buildx/check.js';
import { classifyFailure, errorSection, HELPER_FAILED, type Failure } from './buildx/failure.js';
import { parseMetadata } from './buildx/metadata.js';
import { readProgress, type ProgressFacts } from './buildx/progress.js';
import type { Runner } from './buildx/run.js';
import { resolveConfig, type BuildConfig, type Params } from './config.js';
import { needsDaemonConfig } from './registries.js';
import type { Probe } from './daemon/wait.js';
import { waitForDaemon } from './daemon/wait.js';
import { pickEndpoint } from './fleet/pick.js';
import { StepError, toStepError } from './errors.js';
import { PARAMS_ENV } from './params/names.js';
import { materialize, type CredentialHelpers } from './inputs.js';
import { writeOrWait } from './output.js';
import { hidingHelperOutput, masker, type Masker } from './mask.js';
import { checkResultsFit, checkResultsSize, successResults, type Results } from './results.js';

export type StepDeps = {
  env: NodeJS.ProcessEnv;
  cwd: string;
  runner: Runner;
  probe: Probe;
  log: (line: string) => void;
  /** Where buildx's own output goes (the step's stderr); a returned promise means wait before reading more. */
  output?: (text: string) => void | Promise<void>;
  isTty: boolean;
  signal?: AbortSignal;
  /** Pause between attempts; injectable so tests of retries need not wait. */
  backoff?: (attempt: number, signal?: AbortSignal) => Promise<void>;
};

export type Summary = {
  attempts: number;
  daemonWaitMs: number;
  buildMs: number;
  steps: ProgressFacts;
  cacheExportFailed: boolean;
  /** With `endpoints`: the replica that built, its place in the routing key's order, the ones passed over. */
  fleet?: { endpoint: string; rank: number; skipped: string[] };
  /** Check mode: how many findings BuildKit's Dockerfile rules reported. */
  checkWarnings?: number;
};

export type StepOutcome = { config: BuildConfig; results: Results; summary: Summary };

/** Every buildx build of this run (local export, retries) counts; read for the summary and failures. */
type Attempts = { attempts: { count: number } };

/** The buildx binary: BUILDKIT_STEP_BUILDX, or `buildx` on PATH. */
export const buildxBin = (env: NodeJS.ProcessEnv): string => env.BUILDKIT_STEP_BUILDX || 'buildx';

/** Our own dir for buildx state and private files, so nothing lands in $HOME. */
export const stateDir = (env: NodeJS.ProcessEnv): string =>
  env.BUILDKIT_STEP_STATE_DIR || path.join(tmpDir(env), 'buildkit-step');

export const tmpDir = (env: NodeJS.ProcessEnv): string => env.TMPDIR || os.tmpdir();

const defaultBackoff = (attempt: number, signal?: AbortSignal) =>
  sleep(Math.min(2000 * 2 ** (attempt - 1), 30_000), undefined, { signal }).catch(() => {});

/** The buildx argv a run would use, without running or writing anything (for print-argv). */
export async function planBuild(
  params: Params,
  deps: Pick<StepDeps, 'env' | 'cwd' | 'isTty'>,
): Promise<{ create: string[]; append?: string[][]; build: string[]; localExport?: string[] }> {
  const config = resolveConfig(params, { cwd: deps.cwd, tmpDir: tmpDir(deps.env) });
  const materialized = await materialize(config, stateDir(deps.env), { dryRun: true });
  const inputs = { ...materialized.inputs, progress: deps.isTty ? 'auto' : 'plain' } satisfies BuildInputs;
  // With platform_endpoints, `append` holds the `buildx create --append` of each further node.
  const [create, ...append] = createNodesArgv(config, materialized.tls?.files);
  if (config.check) return { create: create!, build: dockerfileCheckArgv(config, inputs) };
  return {
    create: create!,
    ...(append.length > 0 ? { append } : {}),
    build: buildArgv(config, inputs),
    ...(config.localExport
      ? { localExport: localExportArgv(config, inputs, config.localExport.dir, config.localExport.target) }
      : {}),
  };
}

/** Runs the build; a failure carries `attempts`, the number of buildx builds that ran (0 before the first). */
export async function runBuild(params: Params, deps: StepDeps): Promise<StepOutcome> {
  const attempts = { count: 0 };
  try {
    return await runBuildOnce(params, { ...deps, attempts });
  } catch (thrown) {
    const error = toStepError(thrown);
    error.attempts ??= attempts.count;
    throw error;
  }
}

async function runBuildOnce(params: Params, deps: StepDeps & Attempts): Promise<StepOutcome> {
  const resolved = resolveConfig(params, { cwd: deps.cwd, tmpDir: tmpDir(deps.env) });
  if (!resolved.check) checkResultsFit(resolved);
  await checkWritable(resolved);
  const materialized = await materialize(resolved, stateDir(deps.env));
  /** The `buildx create` under way or done: resolves with its failure, never rejects. */
  let creating: Promise<StepError | undefined> | undefined;
  const stopCreate = new AbortController();
  const createSignal = deps.signal ? AbortSignal.any([deps.signal, stopCreate.signal]) : stopCreate.signal;
  try {
    // Made (and checked) before anything runs: a value execve cannot take fails here, not after the daemon wait.
    const inputs = { ...materialized.inputs, progress: deps.isTty ? 'auto' : 'plain' } satisfies BuildInputs;
    const argv = resolved.check ? dockerfileCheckArgv(resolved, inputs) : buildArgv(resolved, inputs);
    const exportArgv =
      resolved.localExport && !resolved.check
        ? localExportArgv(resolved, inputs, resolved.localExport.dir, resolved.localExport.target)
        : undefined;
    const bin = buildxBin(deps.env);
    const env = buildxEnv(deps.env, materialized.dockerConfigDir, resolved.proxyEnv);
    // With one endpoint (no fleet to pick from) the builder is created while the daemon wait
    // runs: a late sidecar hides its cost. The wait's outcome still comes first, and a failed
    // wait stops the create (for a `tcp://` endpoint buildx create tries to reach the daemon for
    // up to 20 s).
    if (resolved.endpoints.length === 0)
      creating = createBuilder(resolved, bin, env, materialized.tls?.files, { ...deps, signal: createSignal });
    const waitStarted = Date.now();
    const tls = materialized.tls?.material;
    // A fleet: the routing key's replica, or the next one in its order that answers.
    const picked =
      resolved.endpoints.length > 0
        ? await pickEndpoint({
            endpoints: resolved.endpoints,
            routingKey: resolved.routingKey,
            waitMs: resolved.endpointWaitMs,
            timeoutMs: resolved.daemonTimeoutMs,
            tls,
            probe: deps.probe,
            log: deps.log,
            signal: deps.signal,
          })
        : undefined;
    const config: BuildConfig = picked ? { ...resolved, endpoint: picked.endpoint } : resolved;
    const waitFor = (endpoint: string) =>
      waitForDaemon({
        endpoint,
        tls,
        timeoutMs: config.daemonTimeoutMs,
        probe: deps.probe,
        log: deps.log,
        signal: deps.signal,
      });
    const waitForIt = () => waitFor(config.endpoint);
    const waited = picked ?? (await waitForIt());
    // A node per platform: every one of them must answer too.
    for (const node of config.platformEndpoints.filter((entry) => entry.endpoint !== config.endpoint)) {
      await waitFor(node.endpoint);
    }
    const daemonWaitMs = Date.now() - waitStarted;
    deps.log(
      `BuildKit daemon at ${config.endpoint} answers (${plural(waited.workers, 'worker')}, ${plural(waited.tries, 'try', 'tries')}, ${daemonWaitMs} ms)`,
    );
    if (config.endpoint.startsWith('tcp://') && needsDaemonConfig(config.registries)) {
      deps.log(
        'note: registry mirrors, plain-HTTP, insecure and CA settings take effect in the daemon only through its buildkitd.toml; a shared tcp:// daemon needs them from its operator (buildkit-step daemon-config prints them); the step itself marks pushes and caches',
      );
    }

    const createFailure = await (creating ??
      (creating = createBuilder(config, bin, env, materialized.tls?.files, deps)));
    if (createFailure) throw createFailure;

    const buildStarted = Date.now();
    const runDeps = {
      ...deps,
      mask: hidingHelperOutput(masker(materialized.secretTexts)),
      waitForDaemon: waitForIt,
      helpers: materialized.credentialHelpers,
    };
    if (config.check) return await runCheck(config, argv, bin, env, runDeps, daemonWaitMs, buildStarted);
    // The local export first: a failing export stage (tests) stops the step before anything is pushed.
    if (exportArgv) {
      await buildWithRetries(config, exportArgv, bin, env, runDeps);
      deps.log(
        `exported the files of ${config.localExport?.target ? `stage ${config.localExport.target}` : 'the last stage'} to ${config.localExport?.dir}`,
      );
    }
    const built = await buildWithRetries(config, argv, bin, env, runDeps);
    const metadata = parseMetadata(await readMetadata(config.metadataFile));
    checkPushedDigests(metadata.digest, built.steps.pushed);
    const results = successResults(config, metadata);
    checkResultsSize(results, config.resultsMaxBytes);
    const fleet = picked && {
      endpoint: picked.endpoint,
      rank: picked.rank,
      skipped: picked.skipped.map((entry) => entry.endpoint),
    };
    const summary = {
      ...built,
      attempts: deps.attempts.count,
      daemonWaitMs,
      buildMs: Date.now() - buildStarted,
      ...(fleet ? { fleet } : {}),
    };
    return { config, results, summary };
  } finally {
    // Once the step has failed, a create still running is of no use; it reads the TLS files that
    // cleanup removes. (On success it ended before the build.)
    stopCreate.abort();
    await creating;
    await materialized.cleanup();
  }
}

/**
 * `buildx create` of the remote builder, a node per endpoint. It writes buildx's config and needs
 * no answer from the daemon (it tries a `tcp://` one, and succeeds without), so it may run while
 * the daemon wait does. Resolves with its failure rather than rejecting: when the wait fails
 * too, the wait's error is the step's.
 */
async function createBuilder(
  config: BuildConfig,
  bin: string,
  env: Record<string, string | undefined>,
  tlsFiles: TlsFiles | undefined,
  deps: StepDeps,
): Promise<StepError | undefined> {
  try {
    await fs.ensureDir(env.BUILDX_CONFIG as string);
    for (const create of createNodesArgv(config, tlsFiles)) {
      // A create that works prints only the builder's name, which stood alone in the log as a
      // stray line: its output is shown only when it fails.
      const said: string[] = [];
      const created = await deps.runner(bin, create, {
        env,
        signal: deps.signal,
        write: (text) => void said.push(text),
      });
      if (created.spawnError) return buildxMissing(bin, created.spawnError);
      if (created.exitCode !== 0) {
        await (deps.output ?? writeOrWait(process.stderr))(said.join(''));
        return new StepError(
          'INTERNAL',
          `buildx create failed (exit ${created.exitCode}): ${errorSection(created.tail).join('\n')}`,
        );
      }
    }
    return undefined;
  } catch (error) {
    return toStepError(error);
  }
}

/** Runs the build; a transient failure is tried again up to `config.retries` times, anything else ends it. */
async function buildWithRetries(
  config: BuildConfig,
  argv: string[],
  bin: string,
  env: Record<string, string | undefined>,
  deps: StepDeps & Attempts & { mask: Masker; waitForDaemon: () => Promise<unknown>; helpers: CredentialHelpers },
): Promise<Pick<Summary, 'attempts' | 'steps' | 'cacheExportFailed'>> {
  for (let attempt = 1; ; attempt++) {
    deps.attempts.count++;
    // buildx writes the metadata file only on success: never let a stale one pass for this build's.
    await fs.remove(config.metadataFile);
    const progress = readProgress();
    const run = await deps.runner(bin, argv, {
      env,
      signal: deps.signal,
      onLine: progress.line,
      mask: deps.mask,
      write: deps.output,
    });
    if (run.spawnError) throw buildxMissing(bin, run.spawnError);
    if (deps.signal?.aborted) throw new StepError('INTERRUPTED', 'the build was interrupted');
    if (run.exitCode === 0) {
      const facts = inParamOrder(progress.facts(), config.cacheRefs.from);
      if (facts.cacheFound.length + facts.cacheMissing.length > 0 || facts.cacheExported)
        deps.log(cacheLine(facts, config, argv.includes('--cache-to')));
      if (facts.cacheExportError) {
        deps.log(
          `warning: the cache export failed, the image was built anyway (set cache_export_fatal to fail instead): ${facts.cacheExportError}`,
        );
      }
      return { attempts: attempt, steps: facts, cacheExportFailed: facts.cacheExportError !== undefined };
    }
    const failure = classifyFailure(run.tail);
    const lost =
      failure.code === 'DAEMON_UNREACHABLE'
        ? `the BuildKit daemon at ${config.endpoint} was lost during the build: `
        : '';
    const hint = failure.hint ?? helperHint(failure, deps.helpers, run.tail);
    const message = `buildx build failed (exit ${run.exitCode}, attempt ${attempt}): ${lost}${hint ? `${hint}\n` : ''}${failure.detail}`;
    if (!failure.transient || attempt > config.retries) throw new StepError(failure.code, message);
    deps.log(
      `transient failure (${failure.code}), retrying (attempt ${attempt + 1} of ${config.retries + 1}): ${lost}${failure.detail.split('\n')[0]}`,
    );
    // A daemon that went away (restart, OOM kill) must answer again before the next attempt; the
    // wait polls it with its own backoff, within daemon_timeout. Anything else: a pause.
    if (failure.code === 'DAEMON_UNREACHABLE') {
      try {
        await deps.waitForDaemon();
      } catch (error) {
        throw notBack(error, attempt, failure.detail);
      }
    } else await (deps.backoff ?? defaultBackoff)(attempt, deps.signal);
    if (deps.signal?.aborted) throw new StepError('INTERRUPTED', 'interrupted between build attempts');
  }
}

/** Cache refs as the params list them (key, then fallbacks), whatever order BuildKit fetched them in. */
function inParamOrder(facts: ProgressFacts, order: readonly string[]): ProgressFacts {
  const rank = (ref: string) => (order.includes(ref) ? order.indexOf(ref) : order.length);
  const sort = (refs: string[]) => [...refs].sort((a, b) => rank(a) - rank(b));
  return { ...facts, cacheFound: sort(facts.cacheFound), cacheMissing: sort(facts.cacheMissing) };
}

/**
 * One log line on what the cache did: refs found and missing, and where it was written.
 * `exports`: whether this build was asked to export the cache (the local export never is; the
 * image build after it writes the cache).
 */
function cacheLine(facts: ProgressFacts, config: BuildConfig, exports: boolean): string {
  const list = (refs: string[]) => (refs.length === 0 ? 'none' : refs.join(', '));
  const written = facts.cacheExported
    ? `exported${config.cacheRefs.to ? ` to ${config.cacheRefs.to}` : ''}`
    : config.cacheTo.length === 0
      ? 'not exported (cache_write is false or nothing to write to)'
      : exports
        ? 'not exported'
        : 'not exported by this build (the image build writes it)';
  return `cache: found ${list(facts.cacheFound)}; missing ${list(facts.cacheMissing)}; ${written}`;
}

/**
 * For a failed credential helper: which helper, and for which registry. buildx's error names
 * neither, so the registry is the `credHelpers` host that the build's output mentions (a FROM,
 * a push, a cache ref); with none, the `credsStore` helper.
 */
function helperHint(failure: Failure, helpers: CredentialHelpers, tail: readonly string[]): string | undefined {
  if (failure.code !== 'REGISTRY_AUTH' || !HELPER_FAILED.test(failure.detail)) return undefined;
  const text = tail.join('\n');
  const hosts = failure.registry
    ? [failure.registry]
    : Object.keys(helpers.byHost).filter((host) => text.includes(`${host}/`));
  const named = hosts
    .filter((host) => helpers.byHost[host])
    .map((host) => `docker-credential-${helpers.byHost[host]} (credHelpers in docker_config) failed for ${host}`);
  if (named.length > 0) return `the credential helper ${named.join(', or ')}; its output is not shown`;
  if (helpers.store)
    return `the credential helper docker-credential-${helpers.store} (credsStore in docker_config) failed${failure.registry ? ` for ${failure.registry}` : ''}; its output is not shown`;
  return 'a credential helper named in docker_config failed; its output is not shown';
}

/**
 * Check mode: BuildKit's Dockerfile rules, no build. buildx exits non-zero when a rule reports a
 * finding; that is a failure only with check_fail_on_warnings.
 */
async function runCheck(
  config: BuildConfig,
  argv: string[],
  bin: string,
  env: Record<string, string | undefined>,
  deps: StepDeps & Attempts & { mask: Masker },
  daemonWaitMs: number,
  started: number,
): Promise<StepOutcome> {
  deps.attempts.count++;
  const lines: string[] = [];
  const run = await deps.runner(bin, argv, {
    env,
    signal: deps.signal,
    onLine: (line) => void lines.push(line),
    mask: deps.mask,
    write: deps.output,
  });
  if (run.spawnError) throw buildxMissing(bin, run.spawnError);
  if (deps.signal?.aborted) throw new StepError('INTERRUPTED', 'the check was interrupted');
  const warnings = countCheckFindings(lines) ?? (run.exitCode === 0 ? 0 : undefined);
  if (warnings === undefined) {
    const failure = classifyFailure(run.tail);
    throw new StepError(failure.code, `buildx build --call=check failed (exit ${run.exitCode}): ${failure.detail}`);
  }
  deps.log(`Dockerfile check: ${plural(warnings, 'finding')}`);
  if (warnings > 0 && config.check?.failOnWarnings) {
    throw new StepError(
      'CHECK_FAILED',
      `the Dockerfile check reported ${plural(warnings, 'finding')} and check_fail_on_warnings is set`,
    );
  }
  const steps = readProgress().facts();
  return {
    config,
    results: {},
    summary: {
      attempts: deps.attempts.count,
      steps,
      cacheExportFailed: false,
      checkWarnings: warnings,
      daemonWaitMs,
      buildMs: Date.now() - started,
    },
  };
}

/**
 * With several exporters buildx's metadata describes one of them; if the registry got a
 * different manifest than the metadata names, IMAGE_DIGEST would lie. Checked against the push
 * lines of the progress output (plain progress only; TTY progress has none).
 */
function checkPushedDigests(digest: string, pushed: Record<string, string>): void {
  const other = Object.entries(pushed).find(([, pushedDigest]) => pushedDigest !== digest);
  if (other) {
    throw new StepError(
      'METADATA_INVALID',
      `buildx metadata names ${digest} but ${other[0]} was pushed as ${other[1]}`,
    );
  }
}

/**
 * buildx's environment: ours without the params (they may hold secret values buildx has no use
 * for), buildx state kept in our dir, registry auth from `docker_config`, and the proxy params
 * (credential helpers reach their token APIs through it).
 */
function buildxEnv(
  env: NodeJS.ProcessEnv,
  dockerConfigDir: string | undefined,
  proxy: Record<string, string>,
): Record<string, string | undefined> {
  const inherited = Object.fromEntries(
    Object.entries(env).filter(([name]) => !name.startsWith('PARAM_') && name !== PARAMS_ENV),
  );
  return {
    ...inherited,
    ...proxy,
    BUILDX_CONFIG: path.join(stateDir(env), 'buildx'),
    ...(dockerConfigDir ? { DOCKER_CONFIG: dockerConfigDir } : {}),
  };
}

/**
 * The metadata file's dir and the OCI layout's parent must be writable before anything runs:
 * otherwise the build runs in full and fails at the very end (a PVC without fsGroup, a typo).
 */
async function checkWritable(config: BuildConfig): Promise<void> {
  const dirs = [
    path.dirname(config.metadataFile),
    ...(config.ociLayout ? [path.dirname(config.ociLayout)] : []),
    ...(config.localExport ? [config.localExport.dir] : []),
  ];
  for (const dir of dirs) {
    try {
      await fs.ensureDir(dir);
      await fs.access(dir, fs.constants.W_OK);
    } catch (error) {
      const param =
        dir === path.dirname(config.metadataFile)
          ? 'metadata_file'
          : dir === config.localExport?.dir
            ? 'local_export_dir'
            : 'oci_layout';
      throw new StepError(
        'OUTPUT_UNWRITABLE',
        `${param}: cannot write to ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        { cause: error },
      );
    }
  }
}

/** A daemon lost mid-build that did not answer again: says both, keeping the wait's own code. */
function notBack(error: unknown, attempt: number, detail: string): unknown {
  if (!(error instanceof StepError) || error.code !== 'DAEMON_UNREACHABLE') return error;
  const why = detail.split('\n').at(-1) ?? '';
  return new StepError(
    'DAEMON_UNREACHABLE',
    `the BuildKit daemon was lost during build attempt ${attempt} (${why}) and did not come back: ${error.message}`,
    { cause: error },
  );
}

async function readMetadata(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new StepError('METADATA_INVALID', `buildx succeeded but wrote no metadata file at ${file}`, { cause: error });
  }
}

function buildxMissing(bin: string, error: NodeJS.ErrnoException): StepError {
  return new StepError(
    'BUILDX_MISSING',
    `cannot start ${bin}: ${error.code} (install buildx or set BUILDKIT_STEP_BUILDX)`,
    { cause: error },
  );
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
