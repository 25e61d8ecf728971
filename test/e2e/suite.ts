// Shared wiring for e2e suites: one bed per test file, stopped in `after`, log tails on failure.
import { rmSync } from 'node:fs';
import { after, before } from 'node:test';
import { startBed, tempDir, type Bed } from '../bed/index.js';

export type BedSuite = {
  readonly bed: Bed;
  work: string;
  /** Env that points the step at the bed: the real buildx and the bed daemon. */
  env: (extra?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
  /** Runs assertions; a failure marks the suite so the daemon logs get printed at the end. */
  check: <T>(assertions: () => T) => T;
};

export function bedSuite(name: string): BedSuite {
  let bed: Bed | undefined;
  let failed = false;
  const work = tempDir(`e2e-${name}`);
  before(async () => {
    bed = await startBed();
    process.stderr.write(`bed: buildkitd ${bed.buildkitd.endpoint} (${bed.buildkitd.snapshotter}), registry ${bed.registry.host}\n`);
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
    env: (extra = {}) => ({ BUILDKIT_STEP_BUILDX: suite.bed.tools.buildx, PARAM_ENDPOINT: suite.bed.buildkitd.endpoint, PARAM_DAEMON_TIMEOUT: '30', ...extra }),
    check: (assertions) => {
      try {
        return assertions();
      } catch (error) {
        failed = true;
        throw error;
      }
    },
  };
  return suite;
}
