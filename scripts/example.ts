// The main job on a fresh machine: start a real local BuildKit and registry, build and push
// examples/hello with the step exactly as a pipeline would run it, and print the results.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startBed, tempDir } from '../test/bed/index.js';
import { imageManifests, readImageFile } from '../test/bed/oci.js';
import { REPO, runCli } from '../test/helpers.js';

const bed = await startBed();
let exitCode = 1;
try {
  const out = tempDir('example');
  const resultsDir = path.join(out, 'results');
  mkdirSync(resultsDir);
  process.stderr.write(`example: buildkitd at ${bed.buildkitd.endpoint}, registry at ${bed.registry.host}\n`);
  const run = await runCli({
    resultsDir,
    env: {
      BUILDKIT_STEP_BUILDX: bed.tools.buildx,
      PARAM_ENDPOINT: bed.buildkitd.endpoint,
      PARAM_IMAGE: `${bed.registry.host}/examples/hello`,
      PARAM_TAGS: '["v1","latest"]',
      PARAM_CONTEXT: path.join(REPO, 'examples', 'hello'),
      PARAM_BUILD_ARGS: JSON.stringify([
        { key: 'BASE', value: bed.busybox },
        { key: 'GREETING', value: 'hello, world' },
      ]),
      PARAM_PUSH: 'true',
      PARAM_OCI_LAYOUT: path.join(out, 'image'),
      PARAM_METADATA_FILE: path.join(out, 'metadata.json'),
    },
  });
  process.stderr.write(run.stderr);
  process.stdout.write(run.stdout);
  exitCode = run.exitCode ?? 1;
  if (exitCode === 0) {
    const [manifest] = imageManifests(path.join(out, 'image'), run.results.IMAGE_DIGEST!);
    console.log('\nresults (in %s):', resultsDir);
    for (const [name, value] of Object.entries(run.results)) console.log(`  ${name} = ${value}`);
    console.log('OCI layout: %s', path.join(out, 'image'));
    console.log(
      'metadata:   %s (%d bytes)',
      path.join(out, 'metadata.json'),
      readFileSync(path.join(out, 'metadata.json')).length,
    );
    console.log(
      '/www/greeting.txt in the image: %s',
      readImageFile(path.join(out, 'image'), manifest!, 'www/greeting.txt').trim(),
    );
  } else {
    console.log('\nthe build failed (exit %d): %s', exitCode, JSON.stringify(run.results));
  }
} finally {
  await bed.stop(exitCode !== 0);
}
process.exitCode = exitCode;
