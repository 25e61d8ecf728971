// The step image from the project's Dockerfile, built exactly as test/image builds it (the bed's
// buildkitd and buildx, the Node base stand-in from test/image/bases.ts, the bed's buildx binary
// and the host-built credential helpers for the Go stages), exported as an OCI archive under the
// name the shipped files use.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startBed } from '../bed/index.js';
import { tail } from '../bed/process.js';
import { REPO } from '../helpers.js';
import { fetchBaseFiles, placeFile, pushNodeBase, stepImageBuildArgs } from '../image/bases.js';
import { execOk } from '../image/exec.js';

export async function buildStepImage(dir: string, archive: string, name: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const log = (what: string) => path.join(dir, `${what}.log`);
  const bed = await startBed();
  let failed = true;
  try {
    const { tools, buildkitd, registry } = bed;
    const files = await fetchBaseFiles(log('image-bases'));
    const nodeBase = await pushNodeBase(
      tools,
      buildkitd.endpoint,
      registry.host,
      files,
      path.join(dir, 'node-base'),
      log('node-base'),
    );
    const buildxBin = path.join(dir, 'buildx-bin');
    placeFile(tools.buildx, path.join(buildxBin, 'buildx'));
    const env = { ...process.env, BUILDX_CONFIG: path.join(dir, 'buildx-config') };
    await execOk(
      tools.buildx,
      ['create', '--name', 'cluster-step', '--node', 'cluster-step0', '--driver', 'remote', buildkitd.endpoint],
      { logFile: log('buildx'), env },
    );
    // The credential helpers' Go stage is replaced the same way (cached per version by the script).
    await execOk('bash', [path.join(REPO, 'scripts', 'install-cred-helpers.sh')], {
      logFile: log('cred-helpers'),
      timeoutMs: 20 * 60_000,
    });
    const credHelpersBin = tail(log('cred-helpers'), 1).trim();
    await execOk(
      tools.buildx,
      stepImageBuildArgs({
        builder: 'cluster-step',
        nodeBase,
        buildxBin,
        credHelpersBin,
        output: `type=oci,dest=${archive},name=${name}`,
      }),
      { logFile: log('buildx'), env, timeoutMs: 15 * 60_000 },
    );
    failed = false;
  } finally {
    await bed.stop(failed);
  }
}
