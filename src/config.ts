// The validated params, and the build configuration resolved from them. Pure.
import path from 'node:path';
import {
  isInsecureRef,
  proxyEnv,
  registrySettings,
  withInsecureCache,
  type RegistryParams,
  type RegistrySettings,
} from './registries.js';
import { cacheRefs, DEFAULT_CACHE_KEY } from './cache/keys.js';
import { rankEndpoints } from './fleet/route.js';

/** One `{ "key", "value" }` pair, as lists arrive in env JSON. */
export type Pair = { key: string; value: string };

/** Result names the step can write. */
export const RESULT_NAMES = [
  'IMAGE_DIGEST',
  'IMAGE_URL',
  'IMAGE_REF',
  'IMAGES',
  'ARTIFACT_OUTPUTS',
  'ERROR_REASON',
  'ERROR_MESSAGE',
] as const;
export type ResultName = (typeof RESULT_NAMES)[number];

/** Params as the schema guarantees them after validation and defaults. */
export type Params = RegistryParams & {
  image: string;
  tags: string[];
  context: string;
  dockerfile: string;
  target?: string;
  build_args?: Pair[];
  build_args_dir?: string;
  secrets?: Pair[];
  secrets_dir?: string;
  ssh?: Pair[];
  ssh_key_files?: Pair[];
  ssh_dir?: string;
  docker_config?: string;
  push: boolean;
  oci_layout?: string;
  oci_tar: boolean;
  platforms?: string[];
  labels?: Pair[];
  annotations?: Pair[];
  provenance?: 'none' | 'min' | 'max';
  sbom: boolean;
  sbom_generator?: string;
  no_cache: boolean;
  pull: boolean;
  cache_repo?: string;
  /** Optional here (the schema fills in defaults): fixtures written before these params stay valid. */
  cache_key?: string;
  cache_fallback_keys?: string[];
  cache_write?: boolean;
  cache_mode?: 'max' | 'min';
  cache_from?: string[];
  cache_to?: string[];
  cache_export_fatal: boolean;
  source_date_epoch?: number;
  build_contexts?: Pair[];
  network?: 'default' | 'none' | 'host';
  add_hosts?: string[];
  allow?: Array<'network.host' | 'security.insecure'>;
  ulimits?: string[];
  shm_size?: string;
  compression?: 'gzip' | 'zstd';
  compression_level?: number;
  force_compression?: boolean;
  local_export_dir?: string;
  local_export_target?: string;
  check?: boolean;
  check_fail_on_warnings?: boolean;
  git_url?: string;
  git_commit?: string;
  endpoint: string;
  endpoints?: string[];
  routing_key?: string;
  endpoint_wait?: number;
  platform_endpoints?: Record<string, string>;
  tls_dir?: string;
  tls_server_name?: string;
  daemon_timeout: number;
  retries: number;
  metadata_file?: string;
  result_paths?: Partial<Record<ResultName, string>>;
  results_max_bytes: number;
};

/** Everything the step needs to run, with every path absolute. */
export type BuildConfig = {
  image: string;
  tags: string[];
  /** Full references, `image:tag`, in the order given. */
  refs: string[];
  context: string;
  dockerfile: string;
  target: string | undefined;
  buildArgs: Pair[];
  buildArgsDir: string | undefined;
  secrets: Pair[];
  secretsDir: string | undefined;
  ssh: Pair[];
  sshKeyFiles: Pair[];
  sshDir: string | undefined;
  dockerConfig: string | undefined;
  push: boolean;
  /** The OCI layout destination, or undefined for push-only builds. */
  ociLayout: string | undefined;
  ociTar: boolean;
  platforms: string[];
  labels: Pair[];
  annotations: Pair[];
  provenance: 'none' | 'min' | 'max';
  sbom: boolean;
  sbomGenerator: string | undefined;
  noCache: boolean;
  pull: boolean;
  cacheFrom: string[];
  cacheTo: string[];
  /** The registry cache refs imported, in order (the key first), and the one exported to, if any. */
  cacheRefs: { from: string[]; to: string | undefined };
  cacheExportFatal: boolean;
  sourceDateEpoch: number | undefined;
  /** Named contexts; directories made absolute. */
  buildContexts: Pair[];
  network: 'default' | 'none' | 'host' | undefined;
  addHosts: string[];
  allow: string[];
  ulimits: string[];
  shmSize: string | undefined;
  /** Layer compression for every image output; undefined leaves BuildKit's default. */
  compression: { type: 'gzip' | 'zstd'; level: number | undefined; force: boolean } | undefined;
  /** Files of a stage exported by a second build, before the image build. */
  localExport: { dir: string; target: string | undefined } | undefined;
  /** Check mode: Dockerfile rules only, no build. */
  check: { failOnWarnings: boolean } | undefined;
  endpoint: string;
  /** A fleet to pick `endpoint` from (empty: use `endpoint`). */
  endpoints: string[];
  /** What keeps a build on one replica: `routing_key`, or the image repository. */
  routingKey: string;
  endpointWaitMs: number;
  /** Native multi-platform: a node (daemon) per platform, in the order given (empty: one node). */
  platformEndpoints: Array<{ platform: string; endpoint: string }>;
  tlsDir: string | undefined;
  tlsServerName: string | undefined;
  daemonTimeoutMs: number;
  retries: number;
  metadataFile: string;
  resultPaths: Partial<Record<ResultName, string>>;
  resultsMaxBytes: number;
  /** Registry settings for the daemon's buildkitd.toml (and, for CA files, checked by the step). */
  registries: RegistrySettings;
  /** The image output needs `registry.insecure=true`: `image` is on a plain-HTTP or unverified registry. */
  pushInsecure: boolean;
  /** HTTP(S)_PROXY / NO_PROXY for buildx and its credential helpers. */
  proxyEnv: Record<string, string>;
};

/** Seconds a fleet replica gets to answer before the build moves on to the next one. */
export const DEFAULT_ENDPOINT_WAIT = 3;

/** Where the step runs: the working directory and the temp dir paths default into. */
export type Place = { cwd: string; tmpDir: string };

/**
 * The registry cache as buildx specs: import `<cache_repo>:<key>` then each fallback, export once
 * to the key (unless `cache_write` is false). Without `cache_write` no export at all, not even
 * the free-form `cache_to` specs: a build that must not write writes nothing.
 */
export function registryCache(params: Params): { refs: BuildConfig['cacheRefs']; from: string[]; to: string[] } {
  const write = params.cache_write ?? true;
  const mode = params.cache_mode ?? 'max';
  const refs = cacheRefs({
    repo: params.cache_repo,
    key: params.cache_key ?? DEFAULT_CACHE_KEY,
    fallbackKeys: params.cache_fallback_keys ?? [],
    write,
    target: params.target,
    platforms: params.platforms ?? Object.keys(params.platform_endpoints ?? {}),
  });
  const to = refs.to ? [`type=registry,ref=${refs.to},mode=${mode},image-manifest=true,oci-mediatypes=true`] : [];
  return {
    refs,
    from: refs.from.map((ref) => `type=registry,ref=${ref}`),
    to: write ? [...to, ...(params.cache_to ?? [])] : [],
  };
}

export function resolveConfig(params: Params, place: Place): BuildConfig {
  const absolute = (p: string) => path.resolve(place.cwd, p);
  const optionalPath = (p: string | undefined) => (p === undefined ? undefined : absolute(p));
  const context = absolute(params.context);
  const cache = registryCache(params);
  const registries = registrySettings(params);
  const vcs = vcsFacts(params);
  const defaultLayout = params.push ? undefined : path.join(place.tmpDir, params.oci_tar ? 'image.tar' : 'image');
  return {
    image: params.image,
    tags: params.tags,
    refs: params.tags.map((tag) => `${params.image}:${tag}`),
    context,
    dockerfile: path.resolve(context, params.dockerfile),
    target: params.target,
    buildArgs: params.build_args ?? [],
    buildArgsDir: optionalPath(params.build_args_dir),
    secrets: params.secrets ?? [],
    secretsDir: optionalPath(params.secrets_dir),
    ssh: params.ssh ?? [],
    sshKeyFiles: (params.ssh_key_files ?? []).map((pair) => ({ key: pair.key, value: absolute(pair.value) })),
    sshDir: optionalPath(params.ssh_dir),
    dockerConfig: optionalPath(params.docker_config),
    push: params.push,
    ociLayout: optionalPath(params.oci_layout) ?? defaultLayout,
    ociTar: params.oci_tar,
    platforms: params.platforms ?? Object.keys(params.platform_endpoints ?? {}),
    labels: withDefaults(params.labels ?? [], vcs),
    annotations: withDefaults(params.annotations ?? [], vcs),
    provenance: params.provenance ?? (params.source_date_epoch === undefined ? 'min' : 'none'),
    sbom: params.sbom,
    sbomGenerator: params.sbom_generator,
    noCache: params.no_cache,
    pull: params.pull,
    cacheFrom: [...cache.from, ...(params.cache_from ?? [])].map((spec) => withInsecureCache(registries, spec)),
    cacheTo: cache.to.map((spec) => withInsecureCache(registries, spec)),
    cacheRefs: cache.refs,
    cacheExportFatal: params.cache_export_fatal,
    sourceDateEpoch: params.source_date_epoch,
    buildContexts: (params.build_contexts ?? []).map((pair) => ({
      key: pair.key,
      value: /^[a-z-]+:\/\//.test(pair.value) ? pair.value : absolute(pair.value),
    })),
    network: params.network,
    addHosts: params.add_hosts ?? [],
    allow: params.allow ?? [],
    ulimits: params.ulimits ?? [],
    shmSize: params.shm_size,
    compression: params.compression
      ? { type: params.compression, level: params.compression_level, force: params.force_compression ?? false }
      : undefined,
    localExport: params.local_export_dir
      ? { dir: absolute(params.local_export_dir), target: params.local_export_target ?? params.target }
      : undefined,
    check: params.check ? { failOnWarnings: params.check_fail_on_warnings ?? false } : undefined,
    // With a node per platform, the first node is the builder's own endpoint; with a fleet, the
    // routing key's first choice (the step moves on from it only if it does not answer).
    endpoint:
      Object.values(params.platform_endpoints ?? {})[0] ??
      rankEndpoints(params.endpoints ?? [], params.routing_key ?? params.image)[0] ??
      params.endpoint,
    endpoints: params.endpoints ?? [],
    routingKey: params.routing_key ?? params.image,
    endpointWaitMs: Math.round((params.endpoint_wait ?? DEFAULT_ENDPOINT_WAIT) * 1000),
    platformEndpoints: Object.entries(params.platform_endpoints ?? {}).map(([platform, endpoint]) => ({
      platform,
      endpoint,
    })),
    tlsDir: optionalPath(params.tls_dir),
    tlsServerName: params.tls_server_name,
    daemonTimeoutMs: Math.round(params.daemon_timeout * 1000),
    retries: params.retries,
    metadataFile: absolute(params.metadata_file ?? path.join(place.tmpDir, 'metadata.json')),
    resultPaths: Object.fromEntries(
      Object.entries(params.result_paths ?? {}).map(([name, file]) => [name, absolute(file)]),
    ),
    resultsMaxBytes: params.results_max_bytes,
    registries,
    pushInsecure: params.push && isInsecureRef(registries, params.image),
    proxyEnv: proxyEnv(params),
  };
}

/**
 * The OCI labels (and annotations) that tie an image to its source: `source` and `revision`
 * from git_url / git_commit, and `created` from source_date_epoch (so it is reproducible).
 */
export function vcsFacts(params: Pick<Params, 'git_url' | 'git_commit' | 'source_date_epoch'>): Pair[] {
  return [
    ...(params.git_url ? [{ key: 'org.opencontainers.image.source', value: params.git_url }] : []),
    ...(params.git_commit ? [{ key: 'org.opencontainers.image.revision', value: params.git_commit }] : []),
    ...(params.source_date_epoch === undefined
      ? []
      : [
          {
            key: 'org.opencontainers.image.created',
            value: new Date(params.source_date_epoch * 1000).toISOString().replace('.000Z', 'Z'),
          },
        ]),
  ];
}

/** `defaults` first, except keys the user set: the user's own value wins. */
function withDefaults(user: Pair[], defaults: Pair[]): Pair[] {
  const keys = new Set(user.map((pair) => pair.key));
  return [...defaults.filter((pair) => !keys.has(pair.key)), ...user];
}
