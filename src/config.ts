// The validated params, and the build configuration resolved from them. Pure.
import path from 'node:path';
import { isInsecureRef, proxyEnv, registrySettings, withInsecureCache, type RegistrySettings } from './registries.js';
import { cacheRefs } from './cache/keys.js';
import { rankEndpoints } from './fleet/route.js';

import type { Pair, Params } from './params/types.js';
import type { ResultName } from './result-names.js';

export type { Pair, Params };

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
  provenance: NonNullable<Params['provenance']>;
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
  network: Params['network'];
  addHosts: string[];
  allow: NonNullable<Params['allow']>;
  ulimits: string[];
  shmSize: string | undefined;
  /** Layer compression for every image output; undefined leaves BuildKit's default. */
  compression: { type: NonNullable<Params['compression']>; level: number | undefined; force: boolean } | undefined;
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

/** Where the step runs: the working directory and the temp dir paths default into. */
export type Place = { cwd: string; tmpDir: string };

/** The params that decide the registry cache. */
type CacheParams = Pick<
  Params,
  'cache_repo' | 'cache_key' | 'cache_fallback_keys' | 'cache_write' | 'cache_mode' | 'cache_to' | 'target'
>;

/**
 * The registry cache as buildx specs: import `<cache_repo>:<key>` then each fallback, export once
 * to the key (unless `cache_write` is false). Without `cache_write` no export at all, not even
 * the free-form `cache_to` specs: a build that must not write writes nothing.
 */
export function registryCache(
  params: CacheParams,
  platforms: string[],
): { refs: BuildConfig['cacheRefs']; from: string[]; to: string[] } {
  const refs = cacheRefs({
    repo: params.cache_repo,
    key: params.cache_key,
    fallbackKeys: params.cache_fallback_keys ?? [],
    write: params.cache_write,
    target: params.target,
    platforms,
  });
  const to = refs.to
    ? [`type=registry,ref=${refs.to},mode=${params.cache_mode},image-manifest=true,oci-mediatypes=true`]
    : [];
  return {
    refs,
    from: refs.from.map((ref) => `type=registry,ref=${ref}`),
    to: params.cache_write ? [...to, ...(params.cache_to ?? [])] : [],
  };
}

/**
 * The build configuration for validated params. Every param is taken apart here, so a param the
 * schema gains fails the type check (`unhandled` is then not empty) until the config uses it.
 */
export function resolveConfig(params: Params, place: Place): BuildConfig {
  const {
    image,
    tags,
    context,
    dockerfile,
    target,
    build_args,
    build_args_dir,
    secrets,
    secrets_dir,
    ssh,
    ssh_key_files,
    ssh_dir,
    docker_config,
    registry_mirrors,
    registry_http,
    registry_insecure,
    registry_ca,
    http_proxy,
    https_proxy,
    no_proxy,
    push,
    oci_layout,
    oci_tar,
    platforms,
    labels,
    annotations,
    provenance,
    sbom,
    sbom_generator,
    no_cache,
    pull,
    cache_repo,
    cache_key,
    cache_fallback_keys,
    cache_write,
    cache_mode,
    cache_from,
    cache_to,
    cache_export_fatal,
    source_date_epoch,
    build_contexts,
    network,
    add_hosts,
    allow,
    ulimits,
    shm_size,
    compression,
    compression_level,
    force_compression,
    local_export_dir,
    local_export_target,
    check,
    check_fail_on_warnings,
    git_url,
    git_commit,
    endpoint,
    endpoints,
    routing_key,
    endpoint_wait,
    platform_endpoints,
    tls_dir,
    tls_server_name,
    daemon_timeout,
    retries,
    metadata_file,
    result_paths,
    results_max_bytes,
    ...unhandled
  } = params;
  unhandled satisfies Record<string, never>;
  const absolute = (p: string) => path.resolve(place.cwd, p);
  const optionalPath = (p: string | undefined) => (p === undefined ? undefined : absolute(p));
  const contextDir = absolute(context);
  const platformNodes = Object.entries(platform_endpoints ?? {}).map(([platform, address]) => ({
    platform,
    endpoint: address,
  }));
  const platformList = platforms ?? platformNodes.map((node) => node.platform);
  const cache = registryCache(
    { cache_repo, cache_key, cache_fallback_keys, cache_write, cache_mode, cache_to, target },
    platformList,
  );
  const registries = registrySettings({ registry_mirrors, registry_http, registry_insecure, registry_ca });
  const vcs = vcsFacts({ git_url, git_commit, source_date_epoch });
  const defaultLayout = push ? undefined : path.join(place.tmpDir, oci_tar ? 'image.tar' : 'image');
  const routingKey = routing_key ?? image;
  return {
    image,
    tags,
    refs: tags.map((tag) => `${image}:${tag}`),
    context: contextDir,
    dockerfile: path.resolve(contextDir, dockerfile),
    target,
    buildArgs: build_args ?? [],
    buildArgsDir: optionalPath(build_args_dir),
    secrets: secrets ?? [],
    secretsDir: optionalPath(secrets_dir),
    ssh: ssh ?? [],
    sshKeyFiles: (ssh_key_files ?? []).map((pair) => ({ key: pair.key, value: absolute(pair.value) })),
    sshDir: optionalPath(ssh_dir),
    dockerConfig: optionalPath(docker_config),
    push,
    ociLayout: optionalPath(oci_layout) ?? defaultLayout,
    ociTar: oci_tar,
    platforms: platformList,
    labels: withDefaults(labels ?? [], vcs),
    annotations: withDefaults(annotations ?? [], vcs),
    provenance: provenance ?? (source_date_epoch === undefined ? 'min' : 'none'),
    sbom,
    sbomGenerator: sbom_generator,
    noCache: no_cache,
    pull,
    cacheFrom: [...cache.from, ...(cache_from ?? [])].map((spec) => withInsecureCache(registries, spec)),
    cacheTo: cache.to.map((spec) => withInsecureCache(registries, spec)),
    cacheRefs: cache.refs,
    cacheExportFatal: cache_export_fatal,
    sourceDateEpoch: source_date_epoch,
    buildContexts: (build_contexts ?? []).map((pair) => ({
      key: pair.key,
      value: /^[a-z-]+:\/\//.test(pair.value) ? pair.value : absolute(pair.value),
    })),
    network,
    addHosts: add_hosts ?? [],
    allow: allow ?? [],
    ulimits: ulimits ?? [],
    shmSize: shm_size,
    compression: compression ? { type: compression, level: compression_level, force: force_compression } : undefined,
    localExport: local_export_dir
      ? { dir: absolute(local_export_dir), target: local_export_target ?? target }
      : undefined,
    check: check ? { failOnWarnings: check_fail_on_warnings } : undefined,
    // With a node per platform, the first node is the builder's own endpoint; with a fleet, the
    // routing key's first choice (the step moves on from it only if it does not answer).
    endpoint: platformNodes[0]?.endpoint ?? rankEndpoints(endpoints ?? [], routingKey)[0] ?? endpoint,
    endpoints: endpoints ?? [],
    routingKey,
    endpointWaitMs: Math.round(endpoint_wait * 1000),
    platformEndpoints: platformNodes,
    tlsDir: optionalPath(tls_dir),
    tlsServerName: tls_server_name,
    daemonTimeoutMs: Math.round(daemon_timeout * 1000),
    retries,
    metadataFile: absolute(metadata_file ?? path.join(place.tmpDir, 'metadata.json')),
    resultPaths: Object.fromEntries(Object.entries(result_paths ?? {}).map(([name, file]) => [name, absolute(file)])),
    resultsMaxBytes: results_max_bytes,
    registries,
    pushInsecure: push && isInsecureRef(registries, image),
    proxyEnv: proxyEnv({ http_proxy, https_proxy, no_proxy }),
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
