// Builds the complete buildx argv from the config and the materialized inputs. Pure: no env,
// no files, no probing.
import type { BuildConfig, Pair } from '../config.js';
import { checkArgv } from './limits.js';

/** The name of the buildx builder the step creates (and re-creates) for the daemon. */
export const BUILDER_NAME = 'buildkit-step';

/** Client TLS files for a `tcp://` endpoint. */
export type TlsFiles = { ca: string; cert: string; key: string };

/** `buildx create` for the remote driver; `--node` makes a second run in the same pod replace the node. */
export function createBuilderArgv(config: Pick<BuildConfig, 'endpoint' | 'tlsServerName'>, tls?: TlsFiles): string[] {
  return [
    'create',
    '--name',
    BUILDER_NAME,
    '--node',
    `${BUILDER_NAME}0`,
    '--driver',
    'remote',
    ...driverOpts(config, tls),
    config.endpoint,
  ];
}

/**
 * Every `buildx create` the build needs: one, or with `platform_endpoints` one node per
 * platform (the first makes the builder, the others `--append`), each declaring its platform
 * so buildx sends each platform's part of the build to its own daemon.
 */
export function createNodesArgv(
  config: Pick<BuildConfig, 'endpoint' | 'tlsServerName' | 'platformEndpoints'>,
  tls?: TlsFiles,
): string[][] {
  if (config.platformEndpoints.length === 0) return [createBuilderArgv(config, tls)];
  return config.platformEndpoints.map(({ platform, endpoint }, index) => [
    'create',
    '--name',
    BUILDER_NAME,
    ...(index > 0 ? ['--append'] : []),
    '--node',
    `${BUILDER_NAME}${index}`,
    '--driver',
    'remote',
    '--platform',
    platform,
    ...driverOpts(config, tls),
    endpoint,
  ]);
}

function driverOpts(config: Pick<BuildConfig, 'tlsServerName'>, tls: TlsFiles | undefined): string[] {
  return tls
    ? [
        '--driver-opt',
        csv({
          cacert: tls.ca,
          cert: tls.cert,
          key: tls.key,
          ...(config.tlsServerName ? { servername: config.tlsServerName } : {}),
        }),
      ]
    : [];
}

/** Inputs that exist only at run time: files on disk, and how to show progress. */
export type BuildInputs = {
  buildArgs: Pair[];
  /** Secret id -> file holding its value. */
  secrets: Array<{ id: string; src: string }>;
  /** SSH id -> private key files. */
  ssh: Array<{ id: string; paths: string[] }>;
  /** `plain` for CI logs; `auto` when a person watches a TTY. */
  progress: 'plain' | 'auto';
};

/** `buildx build ...` for one run. */
export function buildArgv(config: BuildConfig, inputs: BuildInputs): string[] {
  const epoch = config.sourceDateEpoch;
  const rewrite: Record<string, string> = epoch === undefined ? {} : { 'rewrite-timestamp': 'true' };
  const outputs = [
    ...(config.push
      ? [
          csv({
            type: 'image',
            push: 'true',
            ...rewrite,
            ...(config.pushInsecure ? { 'registry.insecure': 'true' } : {}),
            ...compressionFields(config.compression, 'image'),
          }),
        ]
      : []),
    ...(config.ociLayout
      ? [
          csv({
            type: 'oci',
            dest: config.ociLayout,
            tar: String(config.ociTar),
            ...rewrite,
            ...compressionFields(config.compression, 'oci'),
          }),
        ]
      : []),
  ];
  return checkArgv([
    ...buildHead(config, inputs, config.target),
    ...epochArg(epoch),
    ...config.labels.flatMap((pair) => ['--label', `${pair.key}=${pair.value}`]),
    ...config.annotations.flatMap((pair) => ['--annotation', `${pair.key}=${pair.value}`]),
    ...mounts(inputs),
    ...runFlags(config),
    ...config.refs.flatMap((ref) => ['--tag', ref]),
    ...(config.noCache ? ['--no-cache'] : []),
    ...(config.pull ? ['--pull'] : []),
    '--provenance',
    config.provenance === 'none' ? 'false' : `mode=${config.provenance}`,
    ...(config.sbom ? ['--sbom', config.sbomGenerator ? csv({ generator: config.sbomGenerator }) : 'true'] : []),
    ...config.cacheFrom.flatMap((spec) => ['--cache-from', spec]),
    ...config.cacheTo.flatMap((spec) => [
      '--cache-to',
      config.cacheExportFatal || /(^|,)ignore-error=/.test(spec) ? spec : `${spec},ignore-error=true`,
    ]),
    ...outputs.flatMap((output) => ['--output', output]),
    '--metadata-file',
    config.metadataFile,
    config.context,
  ]);
}

/**
 * The build of `local_export_target` into `local_export_dir`: the image build's inputs (so the
 * daemon's cache serves the stages both share), its files as the only output, no attestations
 * (they would land in the directory as files), no tags and no cache export.
 */
export function localExportArgv(
  config: BuildConfig,
  inputs: BuildInputs,
  dest: string,
  target: string | undefined,
): string[] {
  return checkArgv([
    ...buildHead(config, inputs, target),
    ...epochArg(config.sourceDateEpoch),
    ...mounts(inputs),
    ...runFlags(config),
    ...(config.noCache ? ['--no-cache'] : []),
    ...(config.pull ? ['--pull'] : []),
    '--provenance',
    'false',
    ...config.cacheFrom.flatMap((spec) => ['--cache-from', spec]),
    '--output',
    csv({ type: 'local', dest }),
    config.context,
  ]);
}

/**
 * `buildx build --call=check`: BuildKit's Dockerfile rules, without building. Only what the
 * rules read (Dockerfile, target, platforms, build args, named contexts) is passed.
 */
export function dockerfileCheckArgv(
  config: BuildConfig,
  inputs: Pick<BuildInputs, 'buildArgs' | 'progress'>,
): string[] {
  return checkArgv([
    ...buildHead(config, inputs, config.target),
    ...config.buildContexts.flatMap((pair) => ['--build-context', `${pair.key}=${pair.value}`]),
    '--call',
    'check',
    config.context,
  ]);
}

/** The start every build shares: builder, progress, Dockerfile, target, platforms, build args. */
function buildHead(
  config: BuildConfig,
  inputs: Pick<BuildInputs, 'buildArgs' | 'progress'>,
  target: string | undefined,
): string[] {
  return [
    'build',
    '--builder',
    BUILDER_NAME,
    '--progress',
    inputs.progress,
    '--file',
    config.dockerfile,
    ...(target ? ['--target', target] : []),
    ...(config.platforms.length > 0 ? ['--platform', config.platforms.join(',')] : []),
    ...inputs.buildArgs.flatMap((pair) => ['--build-arg', `${pair.key}=${pair.value}`]),
  ];
}

const epochArg = (epoch: number | undefined): string[] =>
  epoch === undefined ? [] : ['--build-arg', `SOURCE_DATE_EPOCH=${epoch}`];

/** Secrets and SSH keys, for the builds that run RUN steps. */
const mounts = (inputs: Pick<BuildInputs, 'secrets' | 'ssh'>): string[] => [
  ...inputs.secrets.flatMap((secret) => ['--secret', csv({ id: secret.id, src: secret.src })]),
  ...inputs.ssh.flatMap((entry) => ['--ssh', `${entry.id}=${entry.paths.join(',')}`]),
];

/** What RUN instructions and the sources see: named contexts, network, hosts, entitlements, limits. */
function runFlags(config: BuildConfig): string[] {
  return [
    ...config.buildContexts.flatMap((pair) => ['--build-context', `${pair.key}=${pair.value}`]),
    ...(config.network ? ['--network', config.network] : []),
    ...config.addHosts.flatMap((host) => ['--add-host', host]),
    ...config.allow.flatMap((entitlement) => ['--allow', entitlement]),
    ...config.ulimits.flatMap((limit) => ['--ulimit', limit]),
    ...(config.shmSize ? ['--shm-size', config.shmSize] : []),
  ];
}

/** Exporter fields for layer compression; zstd layers need OCI media types in a pushed image. */
function compressionFields(compression: BuildConfig['compression'], exporter: 'image' | 'oci'): Record<string, string> {
  if (!compression) return {};
  return {
    compression: compression.type,
    ...(compression.level === undefined ? {} : { 'compression-level': String(compression.level) }),
    ...(compression.force ? { 'force-compression': 'true' } : {}),
    ...(exporter === 'image' && compression.type === 'zstd' ? { 'oci-mediatypes': 'true' } : {}),
  };
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
