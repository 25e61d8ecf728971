// Shared wiring for e2e suites: one bed per test file, stopped in `after`, log tails on failure.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { startBed, tempDir, type Bed } from '../bed/index.js';
import { runCli, writeContext, type CliOptions, type CliRun } from '../helpers.js';

export type StepRun = CliRun & { dir: string; summary: Record<string, unknown> };

export type BedSuite = {
  readonly bed: Bed;
  work: string;
  /** Env that points the step at the bed: the real buildx and the bed daemon. */
  env: (extra?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
  /** Runs assertions; a failure marks the suite so the daemon logs get printed at the end. */
  check: <T>(assertions: () => T) => T;
  /**
   * Runs the step on a context made of `files`, with `params` as PARAM_* env, its own TMPDIR,
   * state and results dirs under `work/name`; `summary` is its stdout JSON line.
   */
  step: (
    name: string,
    files: Record<string, string>,
    params: Record<string, unknown>,
    options?: Partial<CliOptions>,
  ) => Promise<StepRun>;
};

export function bedSuite(name: string): BedSuite {
  let bed: Bed | undefined;
  let failed = false;
  const work = tempDir(`e2e-${name}`);
  before(async () => {
    bed = await startBed();
    process.stderr.write(
      `bed: buildkitd ${bed.buildkitd.endpoint} (${bed.buildkitd.snapshotter}), registry ${bed.registry.host}\n`,
    );
  });
  after(async () => {
    await bed?.stop(failed);
    rmSync(work, { recursive: true, force: true });
  });
  const suite: BedSuite = {
    get bed() {
      if (!bed) throw new Error('the test bed did not start (see the before hook)');
      return bed;
    },
    work,
    env: (extra = {}) => ({
      BUILDKIT_STEP_BUILDX: suite.bed.tools.buildx,
      PARAM_ENDPOINT: suite.bed.buildkitd.endpoint,
      PARAM_DAEMON_TIMEOUT: '30',
      ...extra,
    }),
    check: (assertions) => {
      try {
        return assertions();
      } catch (error) {
        failed = true;
        throw error;
      }
    },
    step: async (name, files, params, options = {}) => {
      const dir = path.join(work, name);
      const tmp = path.join(dir, 'tmp');
      mkdirSync(tmp, { recursive: true });
      const env: NodeJS.ProcessEnv = {
        PARAM_CONTEXT: writeContext(path.join(dir, 'src'), files),
        TMPDIR: tmp,
        BUILDKIT_STEP_STATE_DIR: path.join(dir, 'state'),
      };
      for (const [key, value] of Object.entries(params))
        env[`PARAM_${key.toUpperCase()}`] = typeof value === 'string' ? value : JSON.stringify(value);
      const run = await runCli({
        resultsDir: path.join(dir, 'results'),
        ...options,
        env: suite.env({ ...env, ...options.env }),
      });
      return {
        ...run,
        dir,
        summary: JSON.parse(run.stdout.trim().split('\n').pop() || '{}') as Record<string, unknown>,
      };
    },
  };
  return suite;
}
