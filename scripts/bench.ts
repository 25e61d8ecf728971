// `npm run bench` (scripts/bench.sh): what the step costs around `buildx build`, and how much of a
// rebuild the registry cache saves in a fresh pod, measured side by side in one run against the
// real buildkitd, buildx and registry of the test bed. Figures are ratios of runs made in the same
// minute on the same machine; absolute times on a shared machine are noise.
//
// Progress goes to stderr; the result, a markdown table, to stdout (paste it into docs/benchmarks.md).
// Rounds, by env: BENCH_ROUNDS (paired step/buildx runs, default 15), BENCH_LATE_ROUNDS (late
// daemon, 5), BENCH_REBUILD_ROUNDS (fresh-pod rebuilds, 3), BENCH_SCALE_ROUNDS (paired runs per
// params/secrets/tags variant, 5), BENCH_CONTEXT_ROUNDS (large contexts, 1; 0 skips them),
// BENCH_NEWTAG_ROUNDS (new-tag cache rounds, 3). BENCH_ONLY=cache runs only the cache sections
// (2: fresh-pod rebuilds and new tags), for a quick before/after of a cache change;
// BENCH_ONLY=fleet only the fleet section (4, BENCH_FLEET_ROUNDS rounds, 3); BENCH_ONLY=overhead
// only section 1. BENCH_BASELINE (a git ref, default a31a5d3: the step before the one-file
// bundle) is built once into a cache under $TMPDIR and run in section 1's paired rounds next to
// the step of this checkout; BENCH_BASELINE= (empty) leaves it out.
import { execFileSync, execSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { probeDaemon } from '../src/daemon/probe.js';
import { startBuildkitd, type Buildkitd } from '../test/bed/buildkitd.js';
import { startBed, tempDir, type Bed } from '../test/bed/index.js';
import { CLI, REPO, writeContext } from '../test/helpers.js';

const rounds = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a whole number, got ${process.env[name]}`);
  return value;
};
const ROUNDS = Math.max(1, rounds('BENCH_ROUNDS', 15));
const LATE_ROUNDS = Math.max(1, rounds('BENCH_LATE_ROUNDS', 5));
const REBUILD_ROUNDS = Math.max(1, rounds('BENCH_REBUILD_ROUNDS', 3));
const SCALE_ROUNDS = Math.max(1, rounds('BENCH_SCALE_ROUNDS', 5));
const CONTEXT_ROUNDS = rounds('BENCH_CONTEXT_ROUNDS', 1);
const NEWTAG_ROUNDS = Math.max(1, rounds('BENCH_NEWTAG_ROUNDS', 3));
const ONLY = process.env.BENCH_ONLY ?? '';
const FLEET_ROUNDS = Math.max(1, rounds('BENCH_FLEET_ROUNDS', 3));
if (!['', 'overhead', 'cache', 'fleet'].includes(ONLY))
  throw new Error(`BENCH_ONLY must be empty, overhead, cache or fleet, got ${ONLY}`);
const BASELINE = process.env.BENCH_BASELINE ?? 'a31a5d3';
/** Whether a section runs: every section by default, only the named one with BENCH_ONLY. */
const runs = (section: 'overhead' | 'cache' | 'scale' | 'fleet') => ONLY === '' || ONLY === section;

// --- statistics ------------------------------------------------------------------------------

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
/** Linear-interpolated quantile, q in [0, 1]. */
function quantile(values: number[], q: number): number {
  const s = sorted(values);
  if (s.length === 0) return NaN;
  const at = (s.length - 1) * q;
  const low = Math.floor(at);
  return s[low]! + (s[Math.ceil(at)]! - s[low]!) * (at - low);
}
const median = (values: number[]) => quantile(values, 0.5);
const ms = (value: number) => `${Math.round(value)} ms`;
const ratio = (value: number) => `${value.toFixed(2)}`;
/** `median (p25–p75, n=N)`, formatted by `format`. */
const spread = (values: number[], format: (value: number) => string) =>
  `${format(median(values))} (${format(quantile(values, 0.25))}–${format(quantile(values, 0.75))}, n=${values.length})`;

// --- running things --------------------------------------------------------------------------

type Run = { ms: number; code: number | null; stdout: string; stderr: string };

/** Runs a command to its end; wall time from spawn to exit. Throws on a non-zero exit. */
function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { onStderr?: (text: string) => void } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const result = { ms: Number(process.hrtime.bigint() - started) / 1e6, code, stdout, stderr };
      if (code !== 0) reject(new Error(`${file} ${args.join(' ')} exited ${code}:\n${stderr.slice(-3000)}`));
      else resolve(result);
    });
  });
}

const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);

type Summary = {
  status: string;
  maxRssKiB: number;
  daemonWaitMs: number;
  buildMs: number;
  durationMs: number;
  steps: number;
  cachedSteps: number;
  /** Present once the step reports its cache refs. */
  cache?: { found: string[]; missing: string[]; exported: boolean };
  /** With `endpoints`: the replica that built. */
  fleet?: { endpoint: string; rank: number; skipped: string[] };
};
const summaryOf = (result: Run) => JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Summary;

/** The step as the Task runs it: `buildkit-step build`, params in PARAM_* env, a state dir of its own. */
function stepEnv(bed: Bed, dir: string, params: Record<string, unknown>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    TMPDIR: path.join(dir, 'tmp'),
    BUILDKIT_STEP_BUILDX: bed.tools.buildx,
    BUILDKIT_STEP_STATE_DIR: path.join(dir, 'state'),
    BUILDKIT_STEP_RESULTS_DIR: path.join(dir, 'results'),
    PARAM_ENDPOINT: bed.buildkitd.endpoint,
  };
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  for (const [key, value] of Object.entries(params))
    env[`PARAM_${key.toUpperCase()}`] = typeof value === 'string' ? value : JSON.stringify(value);
  return env;
}

const runStep = (env: NodeJS.ProcessEnv, options: { onStderr?: (text: string) => void; cli?: string } = {}) =>
  run(process.execPath, [options.cli ?? CLI, 'build'], env, options);

/**
 * The step at git ref `ref`, built once (git archive, npm ci, npm run build) into a cache dir
 * under $TMPDIR named by the commit: the path of its CLI, as its package.json `bin` names it.
 */
function baselineCli(ref: string): { cli: string; commit: string } | undefined {
  let commit: string;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', `${ref}^{commit}`], {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    // A shallow clone, or a ref this checkout does not have: the bench runs without the baseline.
    progress(`BENCH_BASELINE ${ref} is not in this checkout (a shallow clone?): no baseline step in section 1`);
    return undefined;
  }
  const dir = path.join(os.tmpdir(), 'buildkit-step-bench', `baseline-${commit}`);
  const ready = path.join(dir, '.bench-ready');
  if (!existsSync(ready)) {
    progress(`building the baseline step ${ref} (${commit}) in ${dir}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execSync(`git archive --format=tar ${commit} | tar -x -C '${dir}'`, { cwd: REPO, stdio: 'ignore' });
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'ignore' });
    execFileSync('npm', ['run', 'build'], { cwd: dir, stdio: 'ignore' });
    writeFileSync(ready, `${commit}\n`);
  }
  const bin = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin[
    'buildkit-step'
  ]!;
  return { cli: path.join(dir, bin), commit };
}

/**
 * The bare `buildx build` the step would run with these params: the argv from `print-argv`, a
 * builder created once in its own BUILDX_CONFIG. Secret files the step would write at run time
 * are written here once, at the same paths.
 */
async function bareBuildx(
  bed: Bed,
  dir: string,
  env: NodeJS.ProcessEnv,
  secrets: Record<string, string> = {},
): Promise<{ argv: string[]; env: NodeJS.ProcessEnv }> {
  const printed = JSON.parse((await run(process.execPath, [CLI, 'print-argv'], env)).stdout) as {
    create: string[];
    build: string[];
  };
  const secretDir = path.join(dir, 'bare-secrets');
  mkdirSync(secretDir, { recursive: true });
  const argv = printed.build.map((arg, index) => {
    if (printed.build[index - 1] !== '--secret') return arg;
    const id = /(?:^|,)id=([^,]+)/.exec(arg)?.[1] ?? '';
    writeFileSync(path.join(secretDir, id), secrets[id] ?? '', { mode: 0o600 });
    return `id=${id},src=${path.join(secretDir, id)}`;
  });
  const buildxEnv = { PATH: process.env.PATH, TMPDIR: env.TMPDIR, BUILDX_CONFIG: path.join(dir, 'bare-buildx') };
  await run(bed.tools.buildx, printed.create, buildxEnv);
  return { argv, env: buildxEnv };
}

/**
 * Paired, interleaved runs (order rotating, so a drift in machine load hits all alike) of the bare
 * buildx build and the whole step, the step once with a state dir kept across runs like the bare
 * buildx config (the figure the target is about), once with an empty one, like a new pod: buildx
 * keeps its node ID there, and buildkitd re-receives the whole context from a new node ID.
 */
async function paired(
  bed: Bed,
  dir: string,
  params: Record<string, unknown>,
  count: number,
  secrets: Record<string, string> = {},
  baseline?: string,
) {
  const runner = await pairedRunner(bed, dir, params, secrets, baseline);
  for (let round = 0; round < count; round++) await runner.round(round);
  return runner.figures();
}

/**
 * What `paired` does, one round at a time, so that several variants can be interleaved. With
 * `baseline` (another build's CLI), each round also runs that step, with a state dir of its own
 * kept across rounds like the step's.
 */
async function pairedRunner(
  bed: Bed,
  dir: string,
  params: Record<string, unknown>,
  secrets: Record<string, string> = {},
  baseline?: string,
) {
  const base = stepEnv(bed, dir, params);
  const oldEnv = { ...base, BUILDKIT_STEP_STATE_DIR: path.join(dir, 'state-baseline') };
  const bare = await bareBuildx(bed, dir, base, secrets);
  await runStep(base); // fills the daemon's cache
  if (baseline) await runStep(oldEnv, { cli: baseline });
  await run(bed.tools.buildx, bare.argv, bare.env);
  type Name = 'bare' | 'step' | 'fresh' | 'old';
  const rounds: Array<{
    bare: number;
    step: number;
    fresh: number;
    summary: Summary;
    old?: number;
    oldSummary?: Summary;
  }> = [];
  const round = async (index: number) => {
    const freshEnv = { ...base, BUILDKIT_STEP_STATE_DIR: path.join(dir, `state-${index}`) };
    const runs: Record<Name, () => Promise<Run>> = {
      bare: () => run(bed.tools.buildx, bare.argv, bare.env),
      step: () => runStep(base),
      fresh: () => runStep(freshEnv),
      old: () => runStep(oldEnv, { cli: baseline }),
    };
    const names: Name[] = baseline ? ['bare', 'step', 'old', 'fresh'] : ['bare', 'step', 'fresh'];
    const order = names.map((_, position, all) => all[(position + index) % all.length]!);
    const took: Partial<Record<Name, Run>> = {};
    for (const name of order) took[name] = await runs[name]();
    const summary = summaryOf(took.step!);
    // FROM is never reported as cached; every other step must be.
    if (summary.cachedSteps < summary.steps - 1)
      progress(`warning: a step run was not fully cached (${summary.cachedSteps}/${summary.steps})`);
    rounds.push({
      bare: took.bare!.ms,
      step: took.step!.ms,
      fresh: took.fresh!.ms,
      summary,
      ...(took.old ? { old: took.old.ms, oldSummary: summaryOf(took.old) } : {}),
    });
    rmSync(freshEnv.BUILDKIT_STEP_STATE_DIR, { recursive: true, force: true });
  };
  const figures = () => ({
    bare: rounds.map((entry) => entry.bare),
    step: rounds.map((entry) => entry.step),
    ratio: rounds.map((entry) => entry.step / entry.bare),
    extra: rounds.map((entry) => entry.step - entry.bare),
    freshRatio: rounds.map((entry) => entry.fresh / entry.bare),
    freshExtra: rounds.map((entry) => entry.fresh - entry.bare),
    rssMiB: rounds.map((entry) => entry.summary.maxRssKiB / 1024),
    daemonWait: rounds.map((entry) => entry.summary.daemonWaitMs),
    oldExtra: rounds.filter((entry) => entry.old !== undefined).map((entry) => entry.old! - entry.bare),
    oldRssMiB: rounds.filter((entry) => entry.oldSummary).map((entry) => entry.oldSummary!.maxRssKiB / 1024),
  });
  return { round, figures };
}

// --- the late daemon -------------------------------------------------------------------------

/** Resolves with the hrtime (ns) at which `socket` first accepts a connection; polls every ~1 ms. */
async function listening(socket: string, give: { up: boolean }): Promise<bigint> {
  for (;;) {
    if (give.up) throw new Error(`${socket} never accepted a connection`);
    const accepted = await new Promise<boolean>((resolve) => {
      const connection = net.connect(socket);
      connection.once('connect', () => {
        connection.destroy();
        resolve(true);
      });
      connection.once('error', () => resolve(false));
    });
    if (accepted) return process.hrtime.bigint();
    await sleep(1);
  }
}

/** Resolves with the hrtime (ns) at which the daemon first answers ListWorkers; probes back to back, ~1 ms apart. */
async function firstAnswer(endpoint: string, give: { up: boolean }): Promise<bigint> {
  for (;;) {
    if (give.up) throw new Error(`${endpoint} never answered`);
    if ((await probeDaemon(endpoint, undefined, 5000)).ok) return process.hrtime.bigint();
    await sleep(1);
  }
}

/**
 * Starts the step against a socket that does not exist yet and buildkitd 1 s later. The bench
 * itself polls the socket (connect, ~1 ms apart) for when it starts to listen, and probes it back
 * to back for when it first answers: buildkitd accepts connections well before it answers, and
 * that part is the daemon's start-up, not the step's latency.
 */
async function lateDaemon(
  bed: Bed,
  dir: string,
  context: string,
): Promise<{ listenToNotice: number; listenToAnswer: number; answerToNotice: number }> {
  const daemonDir = path.join(dir, 'daemon');
  mkdirSync(daemonDir, { recursive: true });
  const socket = path.join(daemonDir, 'buildkitd.sock');
  const env = stepEnv(bed, dir, {
    image: 'bench/late',
    tags: ['1'],
    context,
    oci_layout: path.join(dir, 'layout'),
    daemon_timeout: 60,
  });
  env.PARAM_ENDPOINT = `unix://${socket}`;
  let noticed: bigint | undefined;
  const step = runStep(env, {
    onStderr: (text) => {
      if (noticed === undefined && /BuildKit daemon at \S+ answers/.test(text)) noticed = process.hrtime.bigint();
    },
  });
  await sleep(1000);
  let daemon: Buildkitd | undefined;
  const give = { up: false };
  try {
    const listened = listening(socket, give);
    const answered = firstAnswer(`unix://${socket}`, give);
    daemon = await startBuildkitd(bed.tools, { dir: daemonDir, noWait: true });
    const timeout = sleep(60_000).then(() => undefined);
    const listenedAt = await Promise.race([listened, timeout]);
    const answeredAt = await Promise.race([answered, timeout]);
    const result = await step;
    if (result.code !== 0 || noticed === undefined || listenedAt === undefined || answeredAt === undefined) {
      throw new Error(`late-daemon run failed (exit ${result.code}):\n${result.stderr.slice(-2000)}`);
    }
    const between = (from: bigint, to: bigint) => Number(to - from) / 1e6;
    return {
      listenToNotice: between(listenedAt, noticed),
      listenToAnswer: between(listenedAt, answeredAt),
      answerToNotice: between(answeredAt, noticed),
    };
  } finally {
    give.up = true;
    await daemon?.stop();
  }
}

// --- fresh-pod rebuilds ----------------------------------------------------------------------

/** A build in a new pod: its own state dir; `daemon` decides warm (reused) or wiped (new). */
async function podBuild(
  bed: Bed,
  daemon: Buildkitd,
  dir: string,
  params: Record<string, unknown>,
): Promise<{ ms: number; summary: Summary }> {
  mkdirSync(dir, { recursive: true });
  const env = stepEnv(bed, dir, params);
  env.PARAM_ENDPOINT = daemon.endpoint;
  const result = await runStep(env);
  return { ms: result.ms, summary: summaryOf(result) };
}

type RebuildFigures = {
  cold: number[];
  fresh: number[];
  warm: number[];
  freshLast: number[];
  warmLast: number[];
  cached: string[];
};

/**
 * One round: a cold build (empty daemon, empty cache repo), then on a wiped daemon a rebuild that
 * imports the registry cache, then the same on the now warm daemon; then with only the last step
 * changed, on another wiped daemon and on the warm one.
 */
async function rebuildRound(
  bed: Bed,
  dir: string,
  makeContext: (dir: string) => string,
  change: Record<string, string>,
  figures: RebuildFigures,
  label: string,
): Promise<void> {
  const context = makeContext(path.join(dir, 'src'));
  // Replaced, not rewritten in place: a context may be a hard-linked copy of a shared one.
  const edit = (files: Record<string, string>) => {
    for (const name of Object.keys(files)) rmSync(path.join(context, name), { force: true });
    writeContext(context, files);
  };
  const params = {
    image: `${bed.registry.host}/bench/${label}`,
    tags: ['main'],
    context,
    push: true,
    cache_repo: `${bed.registry.host}/bench/${label}-cache`,
    daemon_timeout: 60,
  };
  const daemons: Buildkitd[] = [];
  const wiped = async (name: string) => {
    const daemon = await startBuildkitd(bed.tools, { dir: path.join(dir, name) });
    daemons.push(daemon);
    return daemon;
  };
  try {
    const first = await wiped('daemon-cold');
    const cold = await podBuild(bed, first, path.join(dir, 'pod-cold'), params);
    await first.stop();
    const second = await wiped('daemon-fresh');
    const fresh = await podBuild(bed, second, path.join(dir, 'pod-fresh'), params);
    const warm = await podBuild(bed, second, path.join(dir, 'pod-warm'), params);
    await second.stop();
    edit(change);
    const third = await wiped('daemon-fresh-last');
    const freshLast = await podBuild(bed, third, path.join(dir, 'pod-fresh-last'), params);
    edit(Object.fromEntries(Object.entries(change).map(([name, content]) => [name, `${content} again`])));
    const warmLast = await podBuild(bed, third, path.join(dir, 'pod-warm-last'), params);
    figures.cold.push(cold.ms);
    figures.fresh.push(fresh.ms);
    figures.warm.push(warm.ms);
    figures.freshLast.push(freshLast.ms);
    figures.warmLast.push(warmLast.ms);
    figures.cached.push(
      `cold ${cold.summary.cachedSteps}/${cold.summary.steps}, fresh ${fresh.summary.cachedSteps}/${fresh.summary.steps}, warm ${warm.summary.cachedSteps}/${warm.summary.steps}, ` +
        `last changed: fresh ${freshLast.summary.cachedSteps}/${freshLast.summary.steps}, warm ${warmLast.summary.cachedSteps}/${warmLast.summary.steps}`,
    );
  } finally {
    for (const daemon of daemons) await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rebuilds(
  bed: Bed,
  dir: string,
  count: number,
  makeContext: (dir: string) => string,
  change: Record<string, string>,
  label: string,
): Promise<RebuildFigures> {
  const figures: RebuildFigures = { cold: [], fresh: [], warm: [], freshLast: [], warmLast: [], cached: [] };
  for (let round = 0; round < count; round++) {
    progress(`${label}: round ${round + 1} of ${count}`);
    await rebuildRound(bed, path.join(dir, `${label}-${round}`), makeContext, change, figures, `${label}-${round}`);
  }
  return figures;
}

// --- new tags ----------------------------------------------------------------------------------

type NewTagFigures = {
  cold: number[];
  warm: number[];
  freshSame: number[];
  freshNew: number[];
  changedSame: number[];
  changedNew: number[];
  cached: string[];
  cacheRefs: string[];
};

/**
 * One round of the case CI pipelines live in: every build tags the image with a new commit SHA.
 * A cold build of tag `sha-0` (empty daemon, empty cache repo), a warm rebuild on that daemon;
 * on wiped daemons (fresh pods): the same tag unchanged, a new tag unchanged; then, after a
 * one-line change each, the same tag and a new tag. The two changed builds get different
 * one-line changes and alternate in order per round, so each starts from a cache that is one
 * line behind it, whichever ran first.
 */
async function newTagRound(bed: Bed, dir: string, round: number, figures: NewTagFigures, label: string): Promise<void> {
  const context = writeContext(path.join(dir, 'src'), workDockerfile(bed.busybox));
  const edit = (content: string) => {
    rmSync(path.join(context, 'last.txt'), { force: true });
    writeContext(context, { 'last.txt': content });
  };
  const params = (tag: string) => ({
    image: `${bed.registry.host}/bench/${label}`,
    tags: [tag],
    context,
    push: true,
    cache_repo: `${bed.registry.host}/bench/${label}-cache`,
    daemon_timeout: 60,
  });
  const daemons: Buildkitd[] = [];
  const wiped = async (name: string) => {
    const daemon = await startBuildkitd(bed.tools, { dir: path.join(dir, name) });
    daemons.push(daemon);
    return daemon;
  };
  const once = async (name: string, tag: string, daemon?: Buildkitd) => {
    const on = daemon ?? (await wiped(`daemon-${name}`));
    const built = await podBuild(bed, on, path.join(dir, `pod-${name}`), params(tag));
    if (!daemon) await on.stop();
    return built;
  };
  try {
    const first = await wiped('daemon-cold');
    const cold = await podBuild(bed, first, path.join(dir, 'pod-cold'), params('sha-0'));
    const warm = await podBuild(bed, first, path.join(dir, 'pod-warm'), params('sha-0'));
    await first.stop();
    const freshSame = await once('fresh-same', 'sha-0');
    const freshNew = await once('fresh-new', 'sha-1');
    const changed: Record<'same' | 'new', Awaited<ReturnType<typeof once>>> = {} as never;
    const order: Array<'same' | 'new'> = round % 2 === 0 ? ['same', 'new'] : ['new', 'same'];
    for (const which of order) {
      edit(`changed for the ${which} tag\n`);
      changed[which] = await once(`changed-${which}`, which === 'same' ? 'sha-0' : 'sha-2');
    }
    figures.cold.push(cold.ms);
    figures.warm.push(warm.ms);
    figures.freshSame.push(freshSame.ms);
    figures.freshNew.push(freshNew.ms);
    figures.changedSame.push(changed.same.ms);
    figures.changedNew.push(changed.new.ms);
    const count = (built: { summary: Summary }) => `${built.summary.cachedSteps}/${built.summary.steps}`;
    figures.cached.push(
      `cold ${count(cold)}, warm ${count(warm)}, fresh same tag ${count(freshSame)}, fresh new tag ${count(freshNew)}, ` +
        `one-line change: same tag ${count(changed.same)}, new tag ${count(changed.new)} (order: ${order.join(', ')})`,
    );
    const refs = (built: { summary: Summary }) => {
      const cache = built.summary.cache;
      return cache
        ? `found [${cache.found.join(' ')}] missing [${cache.missing.join(' ')}] exported ${cache.exported}`
        : 'no cache summary';
    };
    figures.cacheRefs.push(`fresh new tag: ${refs(freshNew)}; one-line change, new tag: ${refs(changed.new)}`);
  } finally {
    for (const daemon of daemons) await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function newTags(bed: Bed, dir: string, count: number): Promise<NewTagFigures> {
  const figures: NewTagFigures = {
    cold: [],
    warm: [],
    freshSame: [],
    freshNew: [],
    changedSame: [],
    changedNew: [],
    cached: [],
    cacheRefs: [],
  };
  for (let round = 0; round < count; round++) {
    progress(`new tags: round ${round + 1} of ${count}`);
    await newTagRound(bed, path.join(dir, `newtag-${round}`), round, figures, `newtag-${round}`);
  }
  return figures;
}

// --- the fleet ---------------------------------------------------------------------------------

type FleetFigures = { first: number[]; sticky: number[]; other: number[]; cached: string[] };

/**
 * One round on two new replicas: a repository's first build (routed by the step), then after a
 * one-line change the next build on its replica (routed again: sticky) and, after another
 * one-line change, on the other replica (what round-robin or random routing would often do).
 * No registry cache: the difference is what the replica's own cache is worth.
 */
async function fleetRound(bed: Bed, dir: string, round: number, figures: FleetFigures): Promise<void> {
  const replicas: Buildkitd[] = [];
  try {
    for (const name of ['replica-a', 'replica-b'])
      replicas.push(await startBuildkitd(bed.tools, { dir: path.join(dir, name) }));
    const endpoints = replicas.map((replica) => replica.endpoint);
    const context = writeContext(path.join(dir, 'src'), workDockerfile(bed.busybox));
    const edit = (content: string) => {
      rmSync(path.join(context, 'last.txt'), { force: true });
      writeContext(context, { 'last.txt': content });
    };
    const params = {
      image: `bench/fleet-${round}`,
      tags: ['1'],
      context,
      oci_layout: path.join(dir, 'layout'),
      daemon_timeout: 60,
    };
    const first = await podBuild(bed, replicas[0]!, path.join(dir, 'pod-first'), { ...params, endpoints });
    const home = first.summary.fleet?.endpoint;
    const other = replicas.find((replica) => replica.endpoint !== home);
    if (!home || !other)
      throw new Error(`fleet bench: the step reported no replica (${JSON.stringify(first.summary)})`);
    edit('changed for its replica\n');
    const sticky = await podBuild(bed, replicas[0]!, path.join(dir, 'pod-sticky'), { ...params, endpoints });
    if (sticky.summary.fleet?.endpoint !== home) throw new Error('fleet bench: the second build left its replica');
    edit('changed for the other replica\n');
    const elsewhere = await podBuild(bed, other, path.join(dir, 'pod-other'), params);
    figures.first.push(first.ms);
    figures.sticky.push(sticky.ms);
    figures.other.push(elsewhere.ms);
    const count = (built: { summary: Summary }) => `${built.summary.cachedSteps}/${built.summary.steps}`;
    figures.cached.push(`first ${count(first)}, its replica ${count(sticky)}, the other replica ${count(elsewhere)}`);
  } finally {
    for (const replica of replicas) await replica.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** RUN steps that do a few seconds of real work: shell arithmetic, and hashing freshly made data. */
function workDockerfile(busybox: string): Record<string, string> {
  const spin = (n: number, out: string) =>
    `RUN i=0; s=0; while [ $i -lt ${n} ]; do s=$(( (s * 31 + i) % 1000003 )); i=$((i+1)); done; echo $s > ${out}`;
  return {
    Dockerfile: [
      `FROM ${busybox}`,
      spin(400_000, '/one'),
      'RUN head -c 48m /dev/urandom > /blob && sha256sum /blob > /blob.sum',
      spin(400_000, '/two'),
      'COPY last.txt /last.txt',
      'RUN cat /last.txt /one /two /blob.sum > /summary && sha256sum /summary',
      '',
    ].join('\n'),
    'last.txt': 'first\n',
  };
}

function smallFiles(busybox: string, count: number): Record<string, string> {
  const files: Record<string, string> = {
    Dockerfile: `FROM ${busybox}\nCOPY files/ /files/\nCOPY last.txt /last.txt\nRUN find /files -type f | wc -l > /count && cat /last.txt\n`,
    'last.txt': 'first\n',
  };
  for (let i = 0; i < count; i++)
    files[`files/${Math.floor(i / 500)}/f${i}.txt`] = `small file ${i} ${Math.random()}\n`;
  return files;
}

/** Writes a context of `mib` MiB of random data in 25 MiB files into `dir` (once; rounds get hard-linked copies). */
function bigContext(busybox: string, dir: string, mib: number): string {
  mkdirSync(path.join(dir, 'big'), { recursive: true });
  const chunk = Buffer.alloc(1024 * 1024);
  writeContext(dir, {
    Dockerfile: `FROM ${busybox}\nCOPY big/ /big/\nCOPY last.txt /last.txt\nRUN du -s /big && cat /last.txt\n`,
    'last.txt': 'first\n',
  });
  for (let part = 0; part < mib / 25; part++) {
    const file = path.join(dir, 'big', `part${part}.bin`);
    rmSync(file, { force: true });
    for (let i = 0; i < 25; i++) {
      for (let offset = 0; offset < chunk.length; offset += 4)
        chunk.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, offset);
      writeFileSync(file, chunk, { flag: 'a' });
    }
  }
  return dir;
}

/** A copy of `source` at `dir` whose files are hard links to the originals (200 MB need not be written again). */
function linkedCopy(source: string, dir: string): string {
  mkdirSync(path.dirname(dir), { recursive: true });
  execFileSync('cp', ['-al', source, dir]);
  return dir;
}

// --- where the time goes ---------------------------------------------------------------------

/**
 * The pieces the step's overhead is made of, each alone in a new Node process that reports its
 * own CPU time and the time since the process started (spawn and exit not counted); and two
 * whole processes, by wall time. Interleaved round by round.
 */
async function pieces(
  bed: Bed,
  dir: string,
  count: number,
): Promise<Array<{ name: string; cpu?: number; wall: number }>> {
  const env = stepEnv(bed, dir, { image: 'bench/pieces', tags: ['1'], context: dir });
  const buildxEnv = { PATH: process.env.PATH, BUILDX_CONFIG: path.join(dir, 'pieces-buildx') };
  const dist = path.join(REPO, 'dist', 'src');
  const report =
    'const used = process.cpuUsage(); console.log(JSON.stringify({ cpu: (used.user + used.system) / 1000, wall: performance.now() }));';
  const node = (code: string) => async () => {
    const result = await run(process.execPath, ['--input-type=module', '-e', `${code}\n${report}`], env);
    return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { cpu: number; wall: number };
  };
  const wall = (file: string, args: string[], runEnv: NodeJS.ProcessEnv) => async () => ({
    wall: (await run(file, args, runEnv)).ms,
  });
  const url = (file: string) => JSON.stringify(pathToFileURL(path.join(dist, file)).href);
  const schemaFile = JSON.stringify(path.resolve(dist, '../../schemas/params.schema.json'));
  const measures: Array<[string, () => Promise<{ cpu?: number; wall: number }>]> = [
    ['Node start, nothing loaded', node('')],
    ['+ import yargs', node("await import('yargs');")],
    ['+ import fs-extra', node("await import('fs-extra');")],
    ['+ import execa from its package (~150 modules)', node("await import('execa');")],
    [
      '+ ajv compiling the params schema at run time (the bundle carries it precompiled)',
      node(
        `const { Ajv2020 } = await import('ajv/dist/2020.js'); const fs = await import('node:fs'); new Ajv2020({ allErrors: true, strict: true, verbose: true }).compile(JSON.parse(fs.readFileSync(${schemaFile}, 'utf8')));`,
      ),
    ],
    [
      "+ import the step's whole static module graph, unbundled (dist/src/cli.js)",
      node(`await import(${url('cli.js')});`),
    ],
    ['`buildkit-step validate` (the bundle), whole process', wall(process.execPath, [CLI, 'validate'], env)],
    [
      '`buildx create` (remote driver), whole process',
      wall(
        bed.tools.buildx,
        ['create', '--name', 'pieces', '--node', 'pieces0', '--driver', 'remote', bed.buildkitd.endpoint],
        buildxEnv,
      ),
    ],
  ];
  const times = new Map<string, Array<{ cpu?: number; wall: number }>>(measures.map(([name]) => [name, []]));
  for (let round = 0; round < count; round++) {
    for (const [name, measure] of measures) times.get(name)!.push(await measure());
  }
  return measures.map(([name]) => {
    const runs = times.get(name)!;
    const cpu = runs.map((entry) => entry.cpu).filter((value): value is number => value !== undefined);
    return { name, wall: median(runs.map((entry) => entry.wall)), ...(cpu.length > 0 ? { cpu: median(cpu) } : {}) };
  });
}

// --- the machine -----------------------------------------------------------------------------

function machine(bed: Bed): string[] {
  const version = (file: string, args: string[]) =>
    execFileSync(file, args, { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  const cpu =
    /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return [
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${os.availableParallelism()} x ${cpu}; RAM ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${os.release()}; load average at start ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
    `- node ${process.version}; ${version(bed.tools.buildkitd, ['--version'])}; ${version(bed.tools.buildx, ['version'])}; buildkitd snapshotter ${bed.buildkitd.snapshotter}`,
  ];
}

/** The fresh-pod rebuild figures of one context (targets only for the first). */
function rebuildRows(label: string, figures: RebuildFigures, targets: boolean): void {
  const freshWarm = figures.fresh.map((fresh, index) => fresh / figures.warm[index]!);
  const freshCold = figures.fresh.map((fresh, index) => fresh / figures.cold[index]!);
  row(`${label}: cold build (empty daemon, empty cache)`, spread(figures.cold, ms), '', '');
  row(`${label}: fresh-pod rebuild (wiped daemon, registry cache)`, spread(figures.fresh, ms), '', '');
  row(`${label}: warm rebuild (same daemon)`, spread(figures.warm, ms), '', '');
  row(
    `${label}: **fresh-pod / warm**`,
    spread(freshWarm, ratio),
    targets ? '≤ 1.5' : '',
    targets ? verdict(median(freshWarm) <= 1.5) : '',
  );
  row(
    `${label}: **fresh-pod / cold**`,
    spread(freshCold, ratio),
    targets ? '≤ 0.2' : '',
    targets ? verdict(median(freshCold) <= 0.2) : '',
  );
  row(`${label}, only the last step changed: fresh pod`, spread(figures.freshLast, ms), '', '');
  row(`${label}, only the last step changed: warm daemon`, spread(figures.warmLast, ms), '', '');
  row(
    `${label}, only the last step changed: **fresh-pod / warm**`,
    spread(
      figures.freshLast.map((fresh, index) => fresh / figures.warmLast[index]!),
      ratio,
    ),
    '',
    '',
  );
  row(
    `${label}, only the last step changed: **fresh-pod / cold**`,
    spread(
      figures.freshLast.map((fresh, index) => fresh / figures.cold[index]!),
      ratio,
    ),
    '',
    '',
  );
}

// --- new-tag rows --------------------------------------------------------------------------------

/** The new-tag figures and their targets: ratios per round, then summarized. */
function newTagRows(figures: NewTagFigures): void {
  const per = (top: number[], bottom: number[]) => top.map((value, index) => value / bottom[index]!);
  const label = '2. new tag per build (commit SHA)';
  row(`${label}: cold build (empty daemon, empty cache)`, spread(figures.cold, ms), '', '');
  row(`${label}: warm rebuild (same daemon, same tag)`, spread(figures.warm, ms), '', '');
  row(`${label}: fresh pod, same tag, unchanged sources`, spread(figures.freshSame, ms), '', '');
  row(`${label}: fresh pod, **new tag**, unchanged sources`, spread(figures.freshNew, ms), '', '');
  const unchanged = per(figures.freshNew, figures.warm);
  row(
    `${label}: **fresh pod new tag / warm rebuild** (unchanged sources)`,
    spread(unchanged, ratio),
    '≤ 1.5',
    verdict(median(unchanged) <= 1.5),
  );
  row(`${label}, one-line change: fresh pod, same tag`, spread(figures.changedSame, ms), '', '');
  row(`${label}, one-line change: fresh pod, **new tag**`, spread(figures.changedNew, ms), '', '');
  const same = per(figures.changedNew, figures.changedSame);
  row(
    `${label}, one-line change: **new tag / same tag** (fresh pods)`,
    spread(same, ratio),
    '≤ 1.1',
    verdict(median(same) <= 1.1),
  );
  const cold = per(figures.changedNew, figures.cold);
  row(
    `${label}, one-line change: **new tag (fresh pod) / cold build**`,
    spread(cold, ratio),
    '≤ 0.3',
    verdict(median(cold) <= 0.3),
  );
}

// --- main ------------------------------------------------------------------------------------

const rows: string[] = [];
const row = (figure: string, value: string, target: string, verdict: string) =>
  rows.push(`| ${figure} | ${value} | ${target} | ${verdict} |`);
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
const started = Date.now();
const bed = await startBed();
const work = tempDir('bench');
const stopAll = async () => {
  await bed.stop();
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
try {
  const header = machine(bed);

  let parts: Awaited<ReturnType<typeof pieces>> = [];
  let work2: RebuildFigures | undefined;
  let tagFigures: NewTagFigures | undefined;
  const contextFigures: Array<[string, RebuildFigures, Awaited<ReturnType<typeof paired>>]> = [];
  if (runs('overhead')) {
    // 1. Step overhead on a fully cached build.
    progress(`1. step vs bare buildx on a cached build, ${ROUNDS} paired rounds`);
    const cachedContext = writeContext(path.join(work, 'cached', 'src'), {
      Dockerfile: `FROM ${bed.busybox}\nRUN echo cached > /x\nCOPY a /a\n`,
      a: 'bench\n',
    });
    const cachedParams = {
      image: 'bench/app',
      tags: ['1'],
      context: cachedContext,
      oci_layout: path.join(work, 'cached', 'layout'),
    };
    const baseline = BASELINE ? baselineCli(BASELINE) : undefined;
    const overhead = await paired(bed, path.join(work, 'cached'), cachedParams, ROUNDS, {}, baseline?.cli);
    row('1. cached build: bare `buildx build` wall time', spread(overhead.bare, ms), '', '');
    row('1. cached build: `buildkit-step build` wall time', spread(overhead.step, ms), '', '');
    row(
      '1. **step / bare buildx** (same argv, same warm daemon, paired)',
      spread(overhead.ratio, ratio),
      '≤ 1.10',
      verdict(median(overhead.ratio) <= 1.1),
    );
    row('1. step − bare buildx', spread(overhead.extra, ms), '', '');
    row(
      '1. step with an empty state dir (new pod, new buildx node ID) / bare buildx',
      spread(overhead.freshRatio, ratio),
      '',
      '',
    );
    row(
      '1. step peak RSS (Node alone, buildx excluded)',
      spread(overhead.rssMiB, (value) => `${value.toFixed(1)} MiB`),
      '< 80 MiB',
      verdict(quantile(overhead.rssMiB, 1) < 80),
    );
    row('1. daemon wait inside the step (daemon up)', spread(overhead.daemonWait, ms), '', '');
    if (baseline) {
      const newExtra = median(overhead.extra);
      const oldExtra = median(overhead.oldExtra);
      const mib = (value: number) => `${value.toFixed(1)} MiB`;
      row(
        '1. **step − bare buildx** (this checkout; the same figure as above)',
        spread(overhead.extra, ms),
        '≤ 100 ms',
        verdict(newExtra <= 100),
      );
      row(`1. baseline step (${baseline.commit}) − bare buildx, same rounds`, spread(overhead.oldExtra, ms), '', '');
      row(
        '1. **overhead: this checkout / baseline** (medians of the two rows above)',
        ratio(newExtra / oldExtra),
        '≤ 0.5',
        verdict(newExtra / oldExtra <= 0.5),
      );
      row(`1. baseline step (${baseline.commit}) peak RSS`, spread(overhead.oldRssMiB, mib), '', '');
      row(
        '1. **peak RSS: this checkout − baseline** (medians)',
        `${(median(overhead.rssMiB) - median(overhead.oldRssMiB)).toFixed(1)} MiB`,
        '≤ 0',
        verdict(median(overhead.rssMiB) <= median(overhead.oldRssMiB)),
      );
    }

    progress(`1. late daemon, ${LATE_ROUNDS} rounds`);
    const late: Array<Awaited<ReturnType<typeof lateDaemon>>> = [];
    for (let round = 0; round < LATE_ROUNDS; round++)
      late.push(await lateDaemon(bed, path.join(work, `late-${round}`), cachedContext));
    const lateFigure = (key: keyof (typeof late)[number]) => late.map((entry) => entry[key]);
    row(
      '1. late daemon: socket starts to listen → step notices it',
      spread(lateFigure('listenToNotice'), ms),
      '< 100 ms',
      verdict(median(lateFigure('listenToNotice')) < 100),
    );
    row(
      "1. late daemon: of which the daemon's own start-up (listen → first ListWorkers answer to a back-to-back probe)",
      spread(lateFigure('listenToAnswer'), ms),
      '',
      '',
    );
    row(
      "1. late daemon: the step's own latency (first possible answer → step notices)",
      spread(lateFigure('answerToNotice'), ms),
      '< 100 ms',
      verdict(median(lateFigure('answerToNotice')) < 100),
    );

    progress('1. where the time goes');
    parts = await pieces(bed, path.join(work, 'pieces'), Math.max(3, Math.min(ROUNDS, 9)));
  }

  if (runs('cache')) {
    // 2. Fresh-pod rebuilds.
    progress(`2. fresh-pod rebuild, ${REBUILD_ROUNDS} rounds`);
    work2 = await rebuilds(
      bed,
      path.join(work, 'rebuild'),
      REBUILD_ROUNDS,
      (dir) => writeContext(dir, workDockerfile(bed.busybox)),
      { 'last.txt': 'changed\n' },
      'work',
    );
    rebuildRows('2. RUN steps with a few seconds of work', work2, true);

    progress(`2. new tags, ${NEWTAG_ROUNDS} rounds`);
    tagFigures = await newTags(bed, path.join(work, 'newtag'), NEWTAG_ROUNDS);
    newTagRows(tagFigures);
  }

  if (runs('scale')) {
    // 3. Scale: large contexts, and many params, secrets and tags.
    if (CONTEXT_ROUNDS > 0) {
      progress(`3. 10,000 small files, ${CONTEXT_ROUNDS} rounds`);
      const many = smallFiles(bed.busybox, 10_000);
      const manyFigures = await rebuilds(
        bed,
        path.join(work, 'many'),
        CONTEXT_ROUNDS,
        (dir) => writeContext(dir, many),
        { 'last.txt': 'changed\n' },
        'many-files',
      );
      const manyContext = writeContext(path.join(work, 'many-paired', 'src'), many);
      const manyPaired = await paired(
        bed,
        path.join(work, 'many-paired'),
        {
          image: 'bench/many',
          tags: ['1'],
          context: manyContext,
          oci_layout: path.join(work, 'many-paired', 'layout'),
        },
        SCALE_ROUNDS,
      );
      contextFigures.push(['3. 10,000 small files', manyFigures, manyPaired]);
      rmSync(path.join(work, 'many-paired'), { recursive: true, force: true });

      progress(`3. 200 MB context, ${CONTEXT_ROUNDS} rounds`);
      const bigDir = bigContext(bed.busybox, path.join(work, 'big-src'), 200);
      const bigFigures = await rebuilds(
        bed,
        path.join(work, 'big'),
        CONTEXT_ROUNDS,
        (dir) => linkedCopy(bigDir, dir),
        { 'last.txt': 'changed\n' },
        'big-context',
      );
      const bigPaired = await paired(
        bed,
        path.join(work, 'big-paired'),
        { image: 'bench/big', tags: ['1'], context: bigDir, oci_layout: path.join(work, 'big-paired', 'layout') },
        SCALE_ROUNDS,
      );
      contextFigures.push(['3. 200 MB context', bigFigures, bigPaired]);
      rmSync(path.join(work, 'big-paired'), { recursive: true, force: true });
    }
    for (const [label, figures, pairedFigures] of contextFigures) {
      rebuildRows(label, figures, false);
      row(`${label}: step / bare buildx, cached, warm daemon`, spread(pairedFigures.ratio, ratio), '', '');
      row(`${label}: step − bare buildx`, spread(pairedFigures.extra, ms), '', '');
      row(
        `${label}: step with an empty state dir (new pod, new buildx node ID) − bare buildx`,
        spread(pairedFigures.freshExtra, ms),
        '',
        '',
      );
    }

    progress(`3. params, secrets and tags, ${SCALE_ROUNDS} paired rounds each`);
    const pairs = (count: number, prefix: string) =>
      Array.from({ length: count }, (_, i) => ({ key: `${prefix}${i}`, value: `value-${i}-${'x'.repeat(24)}` }));
    const variants: Array<[string, Record<string, unknown>]> = [
      ['1 tag, no build args, no secrets', {}],
      ['100 build args', { build_args: pairs(100, 'ARG_') }],
      ['50 secrets', { secrets: pairs(50, 'secret') }],
      ['50 tags', { tags: Array.from({ length: 50 }, (_, i) => `t${i}`) }],
      [
        '100 build args + 50 secrets + 50 tags + 20 labels',
        {
          build_args: pairs(100, 'ARG_'),
          secrets: pairs(50, 'secret'),
          tags: Array.from({ length: 50 }, (_, i) => `t${i}`),
          labels: pairs(20, 'org.example.l'),
        },
      ],
    ];
    const scaleContext = writeContext(path.join(work, 'scale-src'), {
      Dockerfile: `FROM ${bed.busybox}\nRUN echo scale > /x\n`,
    });
    // Variants interleaved round by round, so a change in machine load hits them all alike.
    const runners = [];
    for (const [index, [, extra]] of variants.entries()) {
      const dir = path.join(work, `scale-${index}`);
      const params = {
        image: 'bench/scale',
        tags: ['1'],
        context: scaleContext,
        oci_layout: path.join(dir, 'layout'),
        ...extra,
      };
      const secrets = Object.fromEntries(
        ((extra.secrets as Array<{ key: string; value: string }> | undefined) ?? []).map((pair) => [
          pair.key,
          pair.value,
        ]),
      );
      runners.push(await pairedRunner(bed, dir, params, secrets));
    }
    for (let round = 0; round < SCALE_ROUNDS; round++) {
      for (let offset = 0; offset < runners.length; offset++)
        await runners[(offset + round) % runners.length]!.round(round);
    }
    const flat = runners.map((runner) => median(runner.figures().extra));
    for (const [index, [name]] of variants.entries()) {
      const difference = flat[index]! - flat[0]!;
      row(
        `3. ${name}: step − bare buildx`,
        spread(runners[index]!.figures().extra, ms),
        index === 0 ? '' : 'flat',
        index === 0 ? '' : `${difference >= 0 ? '+' : ''}${Math.round(difference)} ms vs the first`,
      );
    }
  }

  let fleetFigures: FleetFigures | undefined;
  if (runs('fleet')) {
    progress(`4. fleet, ${FLEET_ROUNDS} rounds`);
    fleetFigures = { first: [], sticky: [], other: [], cached: [] };
    for (let round = 0; round < FLEET_ROUNDS; round++)
      await fleetRound(bed, path.join(work, `fleet-${round}`), round, fleetFigures);
    const label = '4. fleet of 2 replicas, no registry cache';
    row(`${label}: a repository's first build`, spread(fleetFigures.first, ms), '', '');
    row(`${label}, one-line change: on its replica (sticky routing)`, spread(fleetFigures.sticky, ms), '', '');
    row(`${label}, one-line change: on the other replica`, spread(fleetFigures.other, ms), '', '');
    row(
      `${label}: **its replica / the other replica**`,
      spread(
        fleetFigures.sticky.map((value, index) => value / fleetFigures!.other[index]!),
        ratio,
      ),
      '',
      '',
    );
  }

  const out = [
    `## \`npm run bench\`, ${new Date().toISOString().slice(0, 10)}`,
    '',
    ...header,
    `- rounds: BENCH_ROUNDS=${ROUNDS} BENCH_LATE_ROUNDS=${LATE_ROUNDS} BENCH_REBUILD_ROUNDS=${REBUILD_ROUNDS} BENCH_SCALE_ROUNDS=${SCALE_ROUNDS} BENCH_CONTEXT_ROUNDS=${CONTEXT_ROUNDS} BENCH_NEWTAG_ROUNDS=${NEWTAG_ROUNDS} BENCH_FLEET_ROUNDS=${FLEET_ROUNDS}${ONLY ? ` BENCH_ONLY=${ONLY}` : ''}; whole run ${((Date.now() - started) / 60_000).toFixed(1)} min; load average at the end ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
    '- values: median (25th–75th percentile, number of runs); ratios are taken per pair / per round, then summarized',
    '',
    '| figure | value | target | verdict |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    ...(parts.length === 0
      ? []
      : [
          "Where the step's overhead goes: each piece alone in a new Node process (CPU time, and time since the process started), or a whole process (wall time); medians, interleaved:",
          '',
          '| piece | CPU | wall |',
          '| --- | --- | --- |',
          ...parts.map((part) => `| ${part.name} | ${part.cpu === undefined ? '' : ms(part.cpu)} | ${ms(part.wall)} |`),
          '',
        ]),
    'Cached steps per build (cached/total), per round:',
    '',
    ...(work2?.cached ?? []).map((line) => `- work: ${line}`),
    ...(tagFigures?.cached ?? []).map((line) => `- new tags: ${line}`),
    ...(fleetFigures?.cached ?? []).map((line) => `- fleet: ${line}`),
    ...contextFigures.flatMap(([label, figures]) => figures.cached.map((line) => `- ${label.slice(3)}: ${line}`)),
    '',
    ...(tagFigures
      ? [
          'Cache refs the step reported (its JSON summary), per round:',
          '',
          ...tagFigures.cacheRefs.map((line) => `- ${line}`),
          '',
        ]
      : []),
  ];
  process.stdout.write(out.join('\n'));
} finally {
  await stopAll();
}
