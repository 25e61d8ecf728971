// Builds the complete buildx argv from the config and the materialized inputs. Pure: no env,
// no files, no probing.
import type { BuildConfig, Pair } from '../config.js';
import type { ParamName } from '../params/types.js';
import { flag, own, pair, param, type Arg } from './args.js';
import { checkArgv } from './limits.js';

/** The name of the buildx builder the step creates (and re-creates) for the daemon. */
export const BUILDER_NAME = 'buildkit-step';

/** Client TLS files for a `tcp://` endpoint. */
export type TlsFiles = { ca: string; cert: string; key: string };

/** `buildx create` for the remote driver; `--node` makes a second run in the same pod replace the node. */
export function createBuilderArgv(config: Pick<BuildConfig, 'endpoint' | 'tlsServerName'>, tls?: TlsFiles): string[] {
  return createNodeArgv({ endpoint: config.endpoint }, 0, config, tls);
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
  return config.platformEndpoints.map((node, index) => createNodeArgv(node, index, config, tls));
}

/** The `buildx create` of node `index` of the builder (`--append` after the first). */
function createNodeArgv(
  node: { endpoint: string; platform?: string },
  index: number,
  config: Pick<BuildConfig, 'tlsServerName'>,
  tls: TlsFiles | undefined,
): string[] {
  return [
    'create',
    '--name',
    BUILDER_NAME,
    ...(index > 0 ? ['--append'] : []),
    '--node',
    `${BUILDER_NAME}${index}`,
    '--driver',
    'remote',
    ...(node.platform ? ['--platform', node.platform] : []),
    ...driverOpts(config, tls),
    node.endpoint,
  ];
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
      ? param(
          '--output',
          csv({
            type: 'image',
            push: 'true',
            ...rewrite,
            ...(config.pushInsecure ? { 'registry.insecure': 'true' } : {}),
            ...compressionFields(config.compression, 'image'),
          }),
          ['push'],
        )
      : []),
    ...(config.ociLayout
      ? param(
          '--output',
          csv({
            type: 'oci',
            dest: config.ociLayout,
            tar: String(config.ociTar),
            ...rewrite,
            ...compressionFields(config.compression, 'oci'),
          }),
          ['oci_layout'],
        )
      : []),
  ];
  return checkArgv([
    ...buildHead(config, inputs, targetArg(config.target, ['target'])),
    ...epochArg(epoch),
    ...config.labels.flatMap((label) => pair('--label', label, ['labels'])),
    ...config.annotations.flatMap((annotation) => pair('--annotation', annotation, ['annotations'])),
    ...mounts(inputs),
    ...runFlags(config),
    ...config.refs.flatMap((ref) => param('--tag', ref, ['image', 'tags'])),
    ...(config.noCache ? flag('--no-cache', ['no_cache']) : []),
    ...(config.pull ? flag('--pull', ['pull']) : []),
    ...param('--provenance', config.provenance === 'none' ? 'false' : `mode=${config.provenance}`, ['provenance']),
    ...(config.sbom
      ? config.sbomGenerator
        ? param('--sbom', csv({ generator: config.sbomGenerator }), ['sbom_generator'])
        : param('--sbom', 'true', ['sbom'])
      : []),
    ...cacheFrom(config),
    ...config.cacheTo.flatMap((spec) =>
      param(
        '--cache-to',
        config.cacheExportFatal || /(^|,)ignore-error=/.test(spec) ? spec : `${spec},ignore-error=true`,
        ['cache_to', 'cache_repo', 'cache_key'],
      ),
    ),
    ...outputs,
    ...param('--metadata-file', config.metadataFile, ['metadata_file']),
    ...contextArg(config),
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
    ...buildHead(config, inputs, targetArg(target, ['local_export_target', 'target'])),
    ...epochArg(config.sourceDateEpoch),
    ...mounts(inputs),
    ...runFlags(config),
    ...(config.noCache ? flag('--no-cache', ['no_cache']) : []),
    ...(config.pull ? flag('--pull', ['pull']) : []),
    ...own('--provenance', 'false'),
    ...cacheFrom(config),
    ...param('--output', csv({ type: 'local', dest }), ['local_export_dir']),
    ...contextArg(config),
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
    ...buildHead(config, inputs, targetArg(config.target, ['target'])),
    ...buildContexts(config),
    ...own('--call', 'check'),
    ...contextArg(config),
  ]);
}

/** The start every build shares: builder, progress, Dockerfile, target, platforms, build args. */
function buildHead(config: BuildConfig, inputs: Pick<BuildInputs, 'buildArgs' | 'progress'>, target: Arg[]): Arg[] {
  return [
    ...own('build', '--builder', BUILDER_NAME, '--progress', inputs.progress),
    ...param('--file', config.dockerfile, ['dockerfile']),
    ...target,
    ...(config.platforms.length > 0 ? param('--platform', config.platforms.join(','), ['platforms']) : []),
    ...inputs.buildArgs.flatMap((arg) => pair('--build-arg', arg, ['build_args', 'build_args_dir'])),
  ];
}

const targetArg = (target: string | undefined, from: readonly ParamName[]): Arg[] =>
  target ? param('--target', target, from) : [];

const epochArg = (epoch: number | undefined): Arg[] =>
  epoch === undefined ? [] : param('--build-arg', `SOURCE_DATE_EPOCH=${epoch}`, ['source_date_epoch']);

const contextArg = (config: BuildConfig): Arg[] => [{ text: config.context, from: ['context'] }];

const cacheFrom = (config: BuildConfig): Arg[] =>
  config.cacheFrom.flatMap((spec) =>
    param('--cache-from', spec, ['cache_from', 'cache_repo', 'cache_key', 'cache_fallback_keys']),
  );

const buildContexts = (config: BuildConfig): Arg[] =>
  config.buildContexts.flatMap((context) => pair('--build-context', context, ['build_contexts']));

/** Secrets and SSH keys, for the builds that run RUN steps. */
const mounts = (inputs: Pick<BuildInputs, 'secrets' | 'ssh'>): Arg[] => [
  ...inputs.secrets.flatMap((secret) =>
    param('--secret', csv({ id: secret.id, src: secret.src }), ['secrets', 'secrets_dir']),
  ),
  ...inputs.ssh.flatMap((entry) =>
    param('--ssh', `${entry.id}=${entry.paths.join(',')}`, ['ssh', 'ssh_dir', 'ssh_key_files']),
  ),
];

/** What RUN instructions and the sources see: named contexts, network, hosts, entitlements, limits. */
function runFlags(config: BuildConfig): Arg[] {
  return [
    ...buildContexts(config),
    ...(config.network ? param('--network', config.network, ['network']) : []),
    ...config.addHosts.flatMap((host) => param('--add-host', host, ['add_hosts'])),
    ...config.allow.flatMap((entitlement) => param('--allow', entitlement, ['allow'])),
    ...config.ulimits.flatMap((limit) => param('--ulimit', limit, ['ulimits'])),
    ...(config.shmSize ? param('--shm-size', config.shmSize, ['shm_size']) : []),
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
