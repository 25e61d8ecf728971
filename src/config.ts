// The validated params, and the build configuration resolved from them. Pure.
import path from 'node:path';

/** One `{ "key", "value" }` pair, as lists arrive in env JSON. */
export type Pair = { key: string; value: string };

/** Result names the step can write. */
export const RESULT_NAMES = ['IMAGE_DIGEST', 'IMAGE_URL', 'IMAGE_REF', 'IMAGES', 'ARTIFACT_OUTPUTS', 'ERROR_REASON', 'ERROR_MESSAGE'] as const;
export type ResultName = (typeof RESULT_NAMES)[number];

/** Params as the schema guarantees them after validation and defaults. */
export type Params = {
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
  tlsDir: string | undefined;
  tlsServerName: string | undefined;
  daemonTimeoutMs: number;
  retries: number;
  metadataFile: string;
  resultPaths: Partial<Record<ResultName, string>>;
  resultsMaxBytes: number;
};

/** Where the step runs: the working directory and the temp dir paths default into. */
export type Place = { cwd: string; tmpDir: string };

/** The registry cache of the original design: one `<cache_repo>:<tag>` per tag, imported and exported. */
export function registryCache(cacheRepo: string | undefined, tags: readonly string[]): { from: string[]; to: string[] } {
  if (!cacheRepo) return { from: [], to: [] };
  return {
    from: tags.map((tag) => `type=registry,ref=${cacheRepo}:${tag}`),
    to: tags.map((tag) => `type=registry,ref=${cacheRepo}:${tag},mode=max,image-manifest=true,oci-mediatypes=true`),
  };
}

export function resolveConfig(params: Params, place: Place): BuildConfig {
  const absolute = (p: string) => path.resolve(place.cwd, p);
  const optionalPath = (p: string | undefined) => (p === undefined ? undefined : absolute(p));
  const context = absolute(params.context);
  const cache = registryCache(params.cache_repo, params.tags);
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
    platforms: params.platforms ?? [],
    labels: withDefaults(params.labels ?? [], vcs),
    annotations: withDefaults(params.annotations ?? [], vcs),
    provenance: params.provenance ?? (params.source_date_epoch === undefined ? 'min' : 'none'),
    sbom: params.sbom,
    sbomGenerator: params.sbom_generator,
    noCache: params.no_cache,
    pull: params.pull,
    cacheFrom: [...cache.from, ...(params.cache_from ?? [])],
    cacheTo: [...cache.to, ...(params.cache_to ?? [])],
    cacheExportFatal: params.cache_export_fatal,
    sourceDateEpoch: params.source_date_epoch,
    buildContexts: (params.build_contexts ?? []).map((pair) => ({ key: pair.key, value: /^[a-z-]+:\/\//.test(pair.value) ? pair.value : absolute(pair.value) })),
    network: params.network,
    addHosts: params.add_hosts ?? [],
    allow: params.allow ?? [],
    ulimits: params.ulimits ?? [],
    shmSize: params.shm_size,
    compression: params.compression ? { type: params.compression, level: params.compression_level, force: params.force_compression ?? false } : undefined,
    localExport: params.local_export_dir ? { dir: absolute(params.local_export_dir), target: params.local_export_target ?? params.target } : undefined,
    check: params.check ? { failOnWarnings: params.check_fail_on_warnings ?? false } : undefined,
    endpoint: params.endpoint,
    tlsDir: optionalPath(params.tls_dir),
    tlsServerName: params.tls_server_name,
    daemonTimeoutMs: Math.round(params.daemon_timeout * 1000),
    retries: params.retries,
    metadataFile: absolute(params.metadata_file ?? path.join(place.tmpDir, 'metadata.json')),
    resultPaths: Object.fromEntries(Object.entries(params.result_paths ?? {}).map(([name, file]) => [name, absolute(file)])),
    resultsMaxBytes: params.results_max_bytes,
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
    ...(params.source_date_epoch === undefined ? [] : [{ key: 'org.opencontainers.image.created', value: new Date(params.source_date_epoch * 1000).toISOString().replace('.000Z', 'Z') }]),
  ];
}

/** `defaults` first, except keys the user set: the user's own value wins. */
function withDefaults(user: Pair[], defaults: Pair[]): Pair[] {
  const keys = new Set(user.map((pair) => pair.key));
  return [...defaults.filter((pair) => !keys.has(pair.key)), ...user];
}
