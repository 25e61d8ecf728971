// Measures, side by side in one run, what the step costs on top of plain buildx, and how fast
// it notices a daemon that comes up late compared with `buildx inspect --bootstrap`.
//
//   npm run bench            (after the tools are installed; scripts/bench.sh does that)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startBuildkitd } from '../test/bed/buildkitd.js';
import { startBed, tempDir } from '../test/bed/index.js';
import { CLI, writeContext } from '../test/helpers.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/** Runs a command to completion; returns wall time and peak RSS (GNU time's %M, in KiB). */
function timed(file: string, args: string[], env: NodeJS.ProcessEnv): { ms: number; maxRssKiB: number } {
  const started = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-f', '%M', file, ...args], { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} failed:\n${result.stderr}`);
  return { ms, maxRssKiB: Number(result.stderr.trim().split('\n').pop()) };
}

function ensureGnuTime(): void {
  if (spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status === 0) return;
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'time'], { stdio: 'inherit' });
}

/** Milliseconds from the daemon being ready until `waiter` (started 1 s before it) exits, and its exit code. */
async function detection(waiter: (endpoint: string) => { file: string; args: string[]; env: NodeJS.ProcessEnv }, dir: string, tools: Parameters<typeof startBuildkitd>[0]): Promise<{ ms: number; code: number }> {
  const daemonDir = path.join(dir, 'daemon');
  const { file, args, env } = waiter(`unix://${daemonDir}/buildkitd.sock`);
  const child = spawn(file, args, { env, stdio: 'ignore' });
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const daemon = await startBuildkitd(tools, { dir: daemonDir });
  const ready = process.hrtime.bigint();
  const code = await exited;
  const ms = Number(process.hrtime.bigint() - ready) / 1e6;
  await daemon.stop();
  return { ms, code };
}

ensureGnuTime();
const bed = await startBed();
const work = tempDir('bench');
try {
  const context = writeContext(path.join(work, 'src'), { Dockerfile: `FROM ${bed.busybox}\nRUN echo cached > /x\nCOPY a /a\n`, a: 'bench' });
  const buildxConfig = path.join(work, 'buildx');
  const buildxEnv = { ...process.env, BUILDX_CONFIG: buildxConfig };
  spawnSync(bed.tools.buildx, ['create', '--name', 'bench', '--node', 'bench0', '--driver', 'remote', bed.buildkitd.endpoint], { env: buildxEnv });
  const plain = ['build', '--builder', 'bench', '--progress', 'plain', '--provenance', 'mode=min', '--tag', 'bench/app:1', '--output', `type=oci,dest=${path.join(work, 'plain')},tar=false`, '--metadata-file', path.join(work, 'plain.json'), context];
  const stepEnv = { ...process.env, BUILDKIT_STEP_BUILDX: bed.tools.buildx, BUILDKIT_STEP_STATE_DIR: path.join(work, 'state'), BUILDKIT_STEP_RESULTS_DIR: path.join(work, 'results'), PARAM_ENDPOINT: bed.buildkitd.endpoint, PARAM_IMAGE: 'bench/app', PARAM_TAGS: '["1"]', PARAM_CONTEXT: context, PARAM_OCI_LAYOUT: path.join(work, 'step') };
  timed(bed.tools.buildx, plain, buildxEnv); // warm the cache for both
  const buildx: Array<{ ms: number; maxRssKiB: number }> = [];
  const step: Array<{ ms: number; maxRssKiB: number }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    buildx.push(timed(bed.tools.buildx, plain, buildxEnv));
    step.push(timed(process.execPath, [CLI], stepEnv));
  }
  const validate = Array.from({ length: ROUNDS }, () => timed(process.execPath, [CLI, 'validate'], stepEnv));
  const create = Array.from({ length: ROUNDS }, () => timed(bed.tools.buildx, ['create', '--name', 'bench', '--node', 'bench0', '--driver', 'remote', bed.buildkitd.endpoint], buildxEnv));
  const plainMs = median(buildx.map((run) => run.ms));
  const stepMs = median(step.map((run) => run.ms));
  console.log(`cached build, median of ${ROUNDS} (interleaved):`);
  console.log(`  buildx build alone            ${plainMs.toFixed(0)} ms   peak RSS ${(median(buildx.map((r) => r.maxRssKiB)) / 1024).toFixed(1)} MiB`);
  console.log(`  buildkit-step (whole step)    ${stepMs.toFixed(0)} ms   peak RSS of node ${(median(step.map((r) => r.maxRssKiB)) / 1024).toFixed(1)} MiB`);
  console.log(`  step / buildx                 ${(stepMs / plainMs).toFixed(2)}x   (+${(stepMs - plainMs).toFixed(0)} ms)`);
  console.log(`    of which: node start + params (validate command) ${median(validate.map((r) => r.ms)).toFixed(0)} ms, buildx create ${median(create.map((r) => r.ms)).toFixed(0)} ms`);

  const probeMs: Array<{ ms: number; code: number }> = [];
  const bootstrapMs: Array<{ ms: number; code: number }> = [];
  for (let round = 0; round < 3; round++) {
    const dir = path.join(work, `late-${round}`);
    mkdirSync(dir, { recursive: true });
    probeMs.push(await detection((endpoint) => ({ file: process.execPath, args: [CLI, 'build'], env: { ...stepEnv, PARAM_ENDPOINT: endpoint, BUILDKIT_STEP_STATE_DIR: path.join(dir, 'state') } }), dir, bed.tools));
    const bx = path.join(dir, 'bx');
    spawnSync(bed.tools.buildx, ['create', '--name', 'late', '--node', 'late0', '--driver', 'remote', `unix://${path.join(dir, 'daemon')}/buildkitd.sock`], { env: { ...process.env, BUILDX_CONFIG: bx } });
    bootstrapMs.push(await detection(() => ({ file: bed.tools.buildx, args: ['inspect', '--bootstrap', 'late'], env: { ...process.env, BUILDX_CONFIG: bx } }), path.join(dir, 'b'), bed.tools));
    rmSync(dir, { recursive: true, force: true });
  }
  const show = (runs: Array<{ ms: number; code: number }>) => `${median(runs.map((run) => run.ms)).toFixed(0)} ms, exit codes ${runs.map((run) => run.code).join(',')}`;
  console.log('daemon starts 1 s after the waiter, median of 3:');
  console.log(`  buildkit-step: daemon ready -> whole build done   ${show(probeMs)}`);
  console.log(`  buildx inspect --bootstrap: ready -> returns      ${show(bootstrapMs)}`);
} finally {
  await bed.stop();
  rmSync(work, { recursive: true, force: true });
}
