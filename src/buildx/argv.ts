// Builds the complete buildx argv from the config. Pure: no env, no files, no probing.
import type { BuildConfig, Pair } from '../config.js';

/** The name of the buildx builder the step creates (and re-creates) for the daemon. */
export const BUILDER_NAME = 'buildkit-step';

/** `buildx create` for the remote driver; `--node` makes a second run in the same pod replace the node. */
export function createBuilderArgv(config: Pick<BuildConfig, 'endpoint'>): string[] {
  return ['create', '--name', BUILDER_NAME, '--node', `${BUILDER_NAME}0`, '--driver', 'remote', config.endpoint];
}

export type BuildInputs = {
  buildArgs: Pair[];
  /** `plain` for CI logs; `auto` when a person watches a TTY. */
  progress: 'plain' | 'auto';
};

/** `buildx build ...` for one run. */
export function buildArgv(config: BuildConfig, inputs: BuildInputs): string[] {
  return [
    'build',
    '--builder',
    BUILDER_NAME,
    '--progress',
    inputs.progress,
    '--file',
    config.dockerfile,
    ...(config.target ? ['--target', config.target] : []),
    ...inputs.buildArgs.flatMap((pair) => ['--build-arg', `${pair.key}=${pair.value}`]),
    ...config.refs.flatMap((ref) => ['--tag', ref]),
    '--output',
    csv({ type: 'oci', dest: config.ociLayout, tar: 'false' }),
    '--metadata-file',
    config.metadataFile,
    config.context,
  ];
}

/** buildx reads `--output` and friends as one CSV record: quote fields holding `,` or `"`. */
export function csv(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => {
      const field = `${key}=${value}`;
      return /[",\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
    })
    .join(',');
}
