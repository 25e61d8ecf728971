// The validated params, and the build configuration resolved from them. Pure.
import path from 'node:path';

/** One `{ "key", "value" }` pair, as build args arrive in env JSON. */
export type Pair = { key: string; value: string };

/** Params as the schema guarantees them after validation and defaults. */
export type Params = {
  image: string;
  tags: string[];
  context: string;
  dockerfile: string;
  target?: string;
  build_args?: Pair[];
  build_args_dir?: string;
  endpoint: string;
  daemon_timeout: number;
  oci_layout?: string;
  metadata_file?: string;
};

/** Everything the step needs to run, with every path absolute. */
export type BuildConfig = {
  image: string;
  /** Full references, `image:tag`, in the order given. */
  refs: string[];
  context: string;
  dockerfile: string;
  target: string | undefined;
  buildArgs: Pair[];
  buildArgsDir: string | undefined;
  endpoint: string;
  daemonTimeoutMs: number;
  ociLayout: string;
  metadataFile: string;
};

/** Where the step runs: the working directory and the temp dir paths default into. */
export type Place = { cwd: string; tmpDir: string };

export function resolveConfig(params: Params, place: Place): BuildConfig {
  const absolute = (p: string) => path.resolve(place.cwd, p);
  const context = absolute(params.context);
  return {
    image: params.image,
    refs: params.tags.map((tag) => `${params.image}:${tag}`),
    context,
    dockerfile: path.resolve(context, params.dockerfile),
    target: params.target,
    buildArgs: params.build_args ?? [],
    buildArgsDir: params.build_args_dir === undefined ? undefined : absolute(params.build_args_dir),
    endpoint: params.endpoint,
    daemonTimeoutMs: Math.round(params.daemon_timeout * 1000),
    ociLayout: absolute(params.oci_layout ?? path.join(place.tmpDir, 'image')),
    metadataFile: absolute(params.metadata_file ?? path.join(place.tmpDir, 'metadata.json')),
  };
}
