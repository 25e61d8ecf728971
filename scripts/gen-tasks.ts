// Generates the Tekton Task, StepAction, sample and Argo WorkflowTemplate (and the tables in their
// READMEs and Artifact Hub's repository metadata) from schemas/params.schema.json, so the workflow
// files cannot drift from the CLI.
//
//   npm run gen-tasks         # write the files (and deploy/, by gen-deploy)
//   npm run gen-tasks:check   # exit 1 listing drifted files
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { RESULT_NAMES, RESULTS } from '../src/result-names.js';
import { SIDECAR_NAME } from '../src/daemon/sidecar.js';
import { ERROR_CODES } from '../src/errors.js';
import { envVarName, flagName, RESULTS_DIR_ENV, workflowParamName } from '../src/params/names.js';
import { ARRAY_HEADER, arrayMarker, keyValueParams } from '../src/params/arrays.js';
import { paramKeys, resolveRef, type JsonSchema } from '../src/params/schema.js';
import { daemonLauncherPrelude, PROXY_VARIABLES, REGISTRY_FIELDS } from '../src/registries.js';
import {
  DAEMON_CONFIG_DIR,
  DAEMON_SOCKET_DIR,
  DAEMON_STATE_DIR,
  ROOTLESS_DAEMON_UID,
  SOCKET_GROUP_ARGS,
  socketAddress,
  STEP_GID,
  STEP_SOCKET_DIR,
  STEP_UID,
} from './pod-layout.js';

/** The repository root (this file runs as dist/scripts/gen-tasks.js). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const VERSION = '0.1';
const TASK_NAME = 'buildkit-build';
const ROOTLESS_NAME = `${TASK_NAME}-rootless`;

/**
 * The Tekton files in the catalog layout that Artifact Hub indexes, `<kind>/<name>/<version>/<name>.yaml`
 * with the version's README.md and samples/; each kind directory is one Artifact Hub repository
 * and holds its artifacthub-repo.yml. The Argo files sit next to them in tasks/argo/.
 */
const TEKTON_ROOT = 'tasks/tekton';
const tektonDir = (kind: 'task' | 'stepaction', name: string) => `${TEKTON_ROOT}/${kind}/${name}/${VERSION}`;
const ARGO_DIR = 'tasks/argo';

export const FILES = {
  task: `${tektonDir('task', TASK_NAME)}/${TASK_NAME}.yaml`,
  taskReadme: `${tektonDir('task', TASK_NAME)}/README.md`,
  taskRootless: `${tektonDir('task', ROOTLESS_NAME)}/${ROOTLESS_NAME}.yaml`,
  taskRootlessReadme: `${tektonDir('task', ROOTLESS_NAME)}/README.md`,
  stepAction: `${tektonDir('stepaction', TASK_NAME)}/${TASK_NAME}.yaml`,
  stepActionReadme: `${tektonDir('stepaction', TASK_NAME)}/README.md`,
  sample: `${tektonDir('stepaction', TASK_NAME)}/samples/task-with-stepaction.yaml`,
  taskRepoMetadata: `${TEKTON_ROOT}/task/artifacthub-repo.yml`,
  stepActionRepoMetadata: `${TEKTON_ROOT}/stepaction/artifacthub-repo.yml`,
  argo: `${ARGO_DIR}/${TASK_NAME}-workflowtemplate.yaml`,
  argoCluster: `${ARGO_DIR}/${TASK_NAME}-clusterworkflowtemplate.yaml`,
  argoRootless: `${ARGO_DIR}/${ROOTLESS_NAME}-workflowtemplate.yaml`,
  argoReadme: `${ARGO_DIR}/README.md`,
  readme: 'README.md',
} as const;

// --- images --------------------------------------------------------------------------------------
// PLACEHOLDERS: pin both by digest (`name:tag@sha256:...`) before production use. The digests could
// not be looked up from the machine these files were generated on.
const BUILDKIT_VERSION = 'v0.34.2';
export const STEP_IMAGE_DEFAULT = 'ghcr.io/buildkit-step/buildkit-step:0.1.0';
export const BUILDKITD_IMAGE_DEFAULT = `docker.io/moby/buildkit:${BUILDKIT_VERSION}`;
export const BUILDKITD_ROOTLESS_IMAGE_DEFAULT = `docker.io/moby/buildkit:${BUILDKIT_VERSION}-rootless`;

// --- pod layout ------------------------------------------------------------------------------------
const SOCKET_VOLUME = 'buildkit-socket';
const STATE_VOLUME = 'buildkitd-state';
const ARGO_RESULTS_DIR = '/tmp/results';
/** A StepAction's results go to $(step.results.NAME.path); the results dir is only scratch there. */
const STEPACTION_RESULTS_DIR = '/tmp/buildkit-step-results';
const STEP_COMMAND = ['buildkit-step'];
const STEP_ARGS = ['build'];

/** Schema params that, in the Task, come from a workspace path instead of a Tekton param. */
export const WORKSPACE_PARAMS: Readonly<Record<string, string>> = {
  docker_config: 'dockerconfig',
  build_args_dir: 'build-args',
  secrets_dir: 'build-secrets',
  ssh_dir: 'ssh-directory',
  tls_dir: 'buildkit-tls',
};

/**
 * Schema params the workflow files deliberately do NOT declare (param key -> why). They stay CLI
 * params (flags, `PARAM_*`, or a Secret-backed `BUILDKIT_STEP_PARAMS`), but a Tekton param or
 * Argo input would put their values in plaintext into the TaskRun / Workflow and Pod spec, the
 * dashboards, and (Tekton Chains records TaskRun params) the provenance.
 */
export const NOT_EXPOSED: Readonly<Record<string, string>> = {
  secrets:
    'Its values are the build secrets themselves: as a param they would be stored in plaintext in the TaskRun / Workflow and Pod spec, shown in the UIs, and (for a TaskRun) recorded by Tekton Chains in the provenance.',
  ssh: 'Its values are SSH private keys: as a param they would be stored in plaintext in the TaskRun / Workflow and Pod spec, shown in the UIs, and (for a TaskRun) recorded by Tekton Chains in the provenance.',
};

/** For each NOT_EXPOSED param, the path param that takes its values from a mounted Secret instead. */
const NOT_EXPOSED_INSTEAD: Readonly<Record<string, string>> = { secrets: 'secrets_dir', ssh: 'ssh_dir' };

/** Throws when NOT_EXPOSED is stale, or a secret (`writeOnly`) param would be exposed. */
function checkNotExposed(schema: JsonSchema): void {
  const keys = new Set(paramKeys(schema));
  for (const key of Object.keys(NOT_EXPOSED)) {
    if (!keys.has(key)) throw new Error(`gen-tasks: NOT_EXPOSED names ${key}, which the schema does not have`);
    const instead = NOT_EXPOSED_INSTEAD[key];
    if (!instead || !keys.has(instead) || !WORKSPACE_PARAMS[instead]) {
      throw new Error(`gen-tasks: NOT_EXPOSED ${key} needs a path param with a workspace in NOT_EXPOSED_INSTEAD`);
    }
  }
  for (const key of keys) {
    if (schema.properties?.[key]?.writeOnly === true && NOT_EXPOSED[key] === undefined) {
      throw new Error(`gen-tasks: ${key} is writeOnly (secret) in the schema: add it to NOT_EXPOSED`);
    }
  }
}

type Workspace = {
  name: string;
  description: string;
  optional?: boolean;
  readOnly?: boolean;
  mountPath?: string;
  /** Which containers mount it (isolated workspaces); default: the step only. */
  mountedIn?: readonly ('step' | 'sidecar')[];
};

const mountedIn = (workspace: Workspace, container: 'step' | 'sidecar') =>
  (workspace.mountedIn ?? ['step']).includes(container);

/**
 * A step's use of a Task workspace (isolated workspaces: only the steps that name one mount it).
 * The CRD requires `mountPath`: the path the workspace has anyway.
 */
const workspaceUsage = (workspace: Workspace) => ({
  name: workspace.name,
  mountPath: workspace.mountPath ?? `/workspace/${workspace.name}`,
});

/** Where registry CA files are mounted, in the step (which checks them) and the daemon (which uses them): REGISTRY_CA names files here. */
const REGISTRY_CA_DIR = '/workspace/registry-ca';

const REGISTRY_CA_WORKSPACE: Workspace = {
  name: 'registry-ca',
  description: `CA certificates (PEM) of registries with a private CA, e.g. a ConfigMap: \`REGISTRY_CA\` names files in it, such as \`${REGISTRY_CA_DIR}/ca.crt\`. Mounted in the step, which checks them, and in the buildkitd sidecar, which trusts them for those registries.`,
  optional: true,
  readOnly: true,
  mountPath: REGISTRY_CA_DIR,
  mountedIn: ['step', 'sidecar'],
};
const BUILDKITD_CONFIG_WORKSPACE: Workspace = {
  name: 'buildkitd-config',
  description: `A whole buildkitd.toml for the daemon (a ConfigMap or Secret with the key \`buildkitd.toml\`), mounted in the sidecar only, where buildkitd reads it: \`${DAEMON_CONFIG_DIR.privileged}\` (rootless Task: \`${DAEMON_CONFIG_DIR.rootless}\`). The registry params add their tables after it, so a host belongs in one or the other: a table defined twice is invalid TOML, and buildkitd then does not start (its log says why).`,
  optional: true,
  readOnly: true,
  mountPath: DAEMON_CONFIG_DIR.privileged,
  mountedIn: ['sidecar'],
};

/** The Task's workspaces for a variant: the daemon config goes where that daemon reads it. */
const workspacesFor = (variant: 'privileged' | 'rootless'): Workspace[] =>
  WORKSPACES.map((workspace) =>
    workspace.name === BUILDKITD_CONFIG_WORKSPACE.name
      ? { ...workspace, mountPath: DAEMON_CONFIG_DIR[variant] }
      : workspace,
  );

const WORKSPACES: Workspace[] = [
  { name: 'source', description: 'The source checkout. `CONTEXT` is relative to it.' },
  {
    name: 'dockerconfig',
    description:
      'Registry credentials for pull, push and cache: a `config.json`, or a kubernetes.io/dockerconfigjson Secret (its `.dockerconfigjson` key). Sets `DOCKER_CONFIG`.',
    optional: true,
    readOnly: true,
  },
  {
    name: 'build-args',
    description:
      'Build arguments, one file per argument (file name = key, content = value), e.g. a ConfigMap. Sets `BUILD_ARGS_DIR`.',
    optional: true,
    readOnly: true,
  },
  {
    name: 'build-secrets',
    description:
      'Build secrets for `RUN --mount=type=secret,id=<file name>`, e.g. a Secret. Sets `SECRETS_DIR`. The only way to pass build secrets: there is no inline `SECRETS` param.',
    optional: true,
    readOnly: true,
  },
  {
    name: 'ssh-directory',
    description:
      'SSH private keys to forward (a kubernetes.io/ssh-auth Secret: `ssh-privatekey` becomes the `default` id). Sets `SSH_DIR`. There is no inline `SSH` param.',
    optional: true,
    readOnly: true,
  },
  {
    name: 'buildkit-tls',
    description:
      'Client TLS files (`ca.pem`, `cert.pem`, `key.pem`, or `ca.crt`, `tls.crt`, `tls.key`) for a `tcp://` ENDPOINT. Sets `TLS_DIR`.',
    optional: true,
    readOnly: true,
  },
  {
    name: 'output',
    description:
      'Keeps the OCI layout and metadata file: bind it and set `OCI_LAYOUT` to `/workspace/output/image` and `METADATA_FILE` to `/workspace/output/metadata.json`.',
    optional: true,
    mountPath: '/workspace/output',
  },
  REGISTRY_CA_WORKSPACE,
  BUILDKITD_CONFIG_WORKSPACE,
];

const ARTIFACT_OUTPUTS_PROPERTIES = {
  uri: { type: 'string' },
  digest: { type: 'string' },
  isBuildArtifact: { type: 'string' },
};

// --- params as the workflow engines see them -------------------------------------------------------

/** One schema parameter, spelled for the workflow surfaces. */
export type WorkflowParam = {
  key: string;
  /** Tekton param / Argo input name, e.g. BUILD_ARGS. */
  name: string;
  env: string;
  jsonType: string;
  required: boolean;
  /** The default as a string ("" when the schema has none). */
  default: string;
  description: string;
  /** The schema's description alone, without the note on how to write the value. */
  base: string;
};

/** The workflow params, in schema order, derived from the schema alone. */
export function workflowParams(schema: JsonSchema): WorkflowParam[] {
  const required = new Set(schema.required ?? []);
  return paramKeys(schema).map((key) => {
    const property = resolveRef(schema, schema.properties?.[key] ?? {});
    const type = Array.isArray(property.type) ? (property.type[0] ?? 'string') : (property.type ?? 'string');
    const shape = shapeOf(schema, property, type);
    const base = (property.description ?? '').trim();
    return {
      key,
      name: workflowParamName(key),
      env: envVarName(key),
      jsonType: type,
      required: required.has(key),
      default:
        property.default === undefined
          ? ''
          : type === 'string' && typeof property.default === 'string'
            ? property.default
            : JSON.stringify(property.default),
      description: shape ? `${base} ${shape}` : base,
      base,
    };
  });
}

/**
 * Defaults that differ in the workflow files from the CLI's (param key -> default). `push`: the
 * CLI writes an OCI layout by default, but in a pod that layout is lost with the pod unless a
 * workspace or volume keeps it, so the workflow files push unless told not to.
 */
export const WORKFLOW_DEFAULTS: Readonly<Record<string, string>> = { push: 'true' };

/** The workflow params the workflow files declare: all but NOT_EXPOSED, in schema order. */
export function exposedParams(schema: JsonSchema): WorkflowParam[] {
  checkNotExposed(schema);
  return workflowParams(schema)
    .filter((param) => NOT_EXPOSED[param.key] === undefined)
    .map((param) =>
      WORKFLOW_DEFAULTS[param.key] === undefined ? param : { ...param, default: WORKFLOW_DEFAULTS[param.key]! },
    );
}

/** How a non-plain-string value is written into the string param, e.g. `JSON array of strings`. */
function shapeOf(root: JsonSchema, property: JsonSchema, type: string): string {
  switch (type) {
    case 'string':
      return Array.isArray(property.enum) ? `One of: ${property.enum.map((v) => `\`${String(v)}\``).join(', ')}.` : '';
    case 'boolean':
      return 'Text `true` or `false`.';
    case 'integer':
      return 'An integer as text, e.g. `3`.';
    case 'number':
      return 'A number as text, e.g. `30` or `2.5`.';
    case 'array': {
      const items = property.items ? resolveRef(root, property.items) : {};
      if (items.type === 'object') {
        const fields = Object.keys(items.properties ?? {}).map((name) => `"${name}": "..."`);
        const pairs = property.writeOnly === true ? '' : ' or of `KEY=VALUE` strings, or one `KEY=VALUE` per line';
        return `A JSON array of objects, e.g. \`[{${fields.join(', ')}}]\`${pairs}.`;
      }
      return 'A JSON array of strings, e.g. `["a", "b"]`, or one item per line.';
    }
    case 'object': {
      const fields = Object.keys(property.properties ?? {});
      return fields.length > 0
        ? `A JSON object with any of the keys ${fields.map((name) => `\`${name}\``).join(', ')}, e.g. \`{"${fields[0]}": "..."}\`.`
        : 'A JSON object.';
    }
    default:
      return '';
  }
}

/** A param that exists only in the workflow files (images), not in the CLI. */
type ExtraParam = { name: string; default: string; description: string; defaultText?: string };

const stepImageParam: ExtraParam = {
  name: 'STEP_IMAGE',
  default: STEP_IMAGE_DEFAULT,
  description: 'Not a buildkit-step parameter: the buildkit-step image. Pin it by digest.',
};
/** A StepAction may mount only volumes its params name; the Task provides the volume. */
const socketVolumeParam: ExtraParam = {
  name: 'SOCKET_VOLUME',
  default: SOCKET_VOLUME,
  description: `Not a buildkit-step parameter: name of the Task volume (an emptyDir shared with the buildkitd sidecar) mounted at ${STEP_SOCKET_DIR}.`,
};
const buildkitdImageParam = (image: string): ExtraParam => ({
  name: 'BUILDKITD_IMAGE',
  default: image,
  description: 'Not a buildkit-step parameter: the buildkitd sidecar image. Pin it by digest.',
});

// --- Tekton ------------------------------------------------------------------------------------------

type Surface = 'task' | 'stepaction';

/** Tekton param names that are not the mechanical spelling: the names Tekton Chains reads for source provenance. */
export const TEKTON_NAMES: Readonly<Record<string, string>> = {
  git_url: 'CHAINS-GIT_URL',
  git_commit: 'CHAINS-GIT_COMMIT',
};

/**
 * A list param: a Tekton `type: array` param, passed to the step as an array block in `args`.
 * Not the registry params the sidecar reads too: a sidecar gets them as env, which takes no array.
 */
export const isList = (param: Pick<WorkflowParam, 'jsonType' | 'key'>): boolean =>
  param.jsonType === 'array' && !DAEMON_SCHEMA_PARAMS.includes(param.key);

/** How a Tekton array param's elements are written. */
function tektonListShape(schema: JsonSchema, param: WorkflowParam): string {
  const unset = param.required ? '' : ' The default `[]` leaves it unset.';
  return keyValueParams(schema).includes(param.key)
    ? `A Tekton array of \`KEY=VALUE\` strings (split at the first \`=\`), e.g. \`["A=1", "B=2"]\`.${unset}`
    : `A Tekton array of strings, e.g. \`["a", "b"]\`.${unset}`;
}

/** The schema params a Tekton surface declares as params, with their Tekton names, types and defaults. */
export function tektonParams(schema: JsonSchema, surface: Surface): WorkflowParam[] {
  return exposedParams(schema)
    .filter((param) => (surface === 'task' ? WORKSPACE_PARAMS[param.key] === undefined : param.key !== 'result_paths'))
    .map((param) => ({
      ...param,
      name: TEKTON_NAMES[param.key] ?? param.name,
      ...(isList(param)
        ? { default: param.required ? '' : '[]', description: `${param.base} ${tektonListShape(schema, param)}` }
        : {}),
    }));
}

function tektonParamSpec(param: WorkflowParam, surface: Surface): Record<string, unknown> {
  let description = param.description;
  if (surface === 'task' && param.key === 'context')
    description = `${description} Relative to the \`source\` workspace.`;
  return {
    name: param.name,
    type: isList(param) ? 'array' : 'string',
    description,
    ...(param.required ? {} : { default: isList(param) ? [] : param.default }),
  };
}

/**
 * The step's args: the command, then every list param as an array block (see src/params/arrays.ts),
 * since Tekton expands a whole array param only inside `args`.
 */
function tektonStepArgs(params: WorkflowParam[]): string[] {
  const lists = params.filter(isList);
  return [
    ...STEP_ARGS,
    `${ARRAY_HEADER}=${lists.map((param) => param.key).join(',')}`,
    ...lists.flatMap((param) => [arrayMarker(param.key), `$(params.${param.name}[*])`]),
  ];
}

const extraParamSpec = (param: ExtraParam) => ({
  name: param.name,
  type: 'string',
  description: param.description,
  default: param.default,
});

function tektonResults(): Record<string, unknown>[] {
  return RESULT_NAMES.map((name) =>
    name === 'ARTIFACT_OUTPUTS'
      ? { name, type: 'object', description: RESULTS[name].description, properties: ARTIFACT_OUTPUTS_PROPERTIES }
      : { name, type: 'string', description: RESULTS[name].description },
  );
}

/**
 * The oldest Tekton Pipelines these files are for: StepActions need no feature flag from v1.0 on,
 * and v1.0 knows every field used (the rootless sidecar's `appArmorProfile` from v0.69). Step
 * workspaces and TaskRun `sidecarSpecs` are beta: on with `enable-api-fields: beta`, the default.
 */
const TEKTON_MIN_VERSION = '1.0.0';

/**
 * The catalog metadata of a Task or StepAction: what the Tekton catalog asks for and Artifact Hub
 * reads (with the `app.kubernetes.io/version` label, which must match the version directory).
 */
const catalogAnnotations = (displayName: string): Record<string, string> => ({
  'tekton.dev/pipelines.minVersion': TEKTON_MIN_VERSION,
  'tekton.dev/categories': 'Image Build',
  'tekton.dev/tags': 'image-build, buildkit',
  'tekton.dev/displayName': displayName,
  'tekton.dev/platforms': 'linux/amd64,linux/arm64',
  'artifacthub.io/category': 'integration-delivery',
  'artifacthub.io/license': 'Apache-2.0',
});

const stepSecurityContext = {
  runAsNonRoot: true,
  runAsUser: STEP_UID,
  runAsGroup: STEP_GID,
  allowPrivilegeEscalation: false,
};

type Variant = 'privileged' | 'rootless';

// --- the buildkitd sidecar ---------------------------------------------------------------------------

/**
 * Each image's own ENTRYPOINT, which the sidecar must run rather than replace: moby/buildkit's script
 * puts buildkitd into its own cgroup and mount namespace on cgroup v2 (so RUN processes stay under
 * the pod's limits) and then execs buildkitd; the rootless image's starts buildkitd under rootlesskit.
 */
const IMAGE_ENTRYPOINT: Readonly<Record<Variant, readonly string[]>> = {
  privileged: ['/usr/bin/buildkitd-entrypoint'],
  rootless: ['rootlesskit', 'buildkitd'],
};

/**
 * The sidecar launcher, in every sidecar: Argo's emissary executor needs an explicit `command`,
 * and in both engines it first applies the registry params (buildkitd.toml and proxy env).
 * Run as `sh -c LAUNCHER buildkitd-launcher ENTRYPOINT... DAEMON_ARGS...`: it starts the image's
 * entrypoint with the daemon args as its child, forwards SIGTERM/SIGINT to it as SIGTERM, waits for
 * it to exit, and then exits 143. buildkitd itself exits 1 on SIGTERM, and Argo fails a Workflow whose
 * sidecar exits with anything but 0, 137 or 143 once the main container is done. A daemon that
 * exits on its own keeps its exit code. POSIX sh only (the images' /bin/sh is busybox).
 *
 * To prepare something before the daemon starts (e.g. write a buildkitd.toml from params), add it
 * before the `"$@" &` line; the daemon args stay in "$@".
 */
export function sidecarLauncher(): string {
  // `$!` rather than a variable set after `&`: a trap runs between commands, so a signal that
  // comes right after the fork still finds the daemon's pid.
  return [
    // The registry params (the same PARAM_* env as the step's) become a buildkitd.toml and --config.
    daemonLauncherPrelude(envVarName).trimEnd(),
    'stop() {',
    '  if [ -n "$!" ]; then kill -TERM "$!" 2>/dev/null; wait "$!"; fi',
    '  exit 143',
    '}',
    'trap stop TERM INT',
    '"$@" &',
    'wait "$!"',
    '',
  ].join('\n');
}
const LAUNCHER_NAME = 'buildkitd-launcher';

/** Sidecar env that only the daemon reads; each comes from a param whose empty default leaves it unset. */
const DAEMON_ENV_PARAMS: readonly (ExtraParam & { env: string })[] = [
  {
    name: 'BUILDKITD_STEP_LOG_MAX_SIZE',
    env: 'BUILDKIT_STEP_LOG_MAX_SIZE',
    default: '',
    description:
      "Not a buildkit-step parameter: buildkitd's limit, in bytes, on the log of each build step (`RUN` output); `-1` for none. Empty: buildkitd's default, 2 MiB, after which the log is clipped.",
  },
  {
    name: 'BUILDKITD_STEP_LOG_MAX_SPEED',
    env: 'BUILDKIT_STEP_LOG_MAX_SPEED',
    default: '',
    description:
      "Not a buildkit-step parameter: buildkitd's limit, in bytes per second, on the log of each build step; `-1` for none. Empty: buildkitd's default, 200 KiB/s, beyond which the log is clipped.",
  },
];

type Engine = 'tekton' | 'argo';

const paramRefs: Readonly<Record<Engine, (name: string) => string>> = {
  tekton: (name) => `$(params.${name})`,
  argo: (name) => `{{inputs.parameters.${name}}}`,
};

/**
 * The schema params the daemon also needs (registry settings and proxy), given to the sidecar as
 * the same PARAM_* env the step gets, so one setting covers both.
 */
export const DAEMON_SCHEMA_PARAMS: readonly string[] = [
  ...REGISTRY_FIELDS.map((field) => field.param),
  ...PROXY_VARIABLES.map((variable) => variable.param),
];

type SidecarOptions = {
  engine: Engine;
  variant: Variant;
  image: string;
  /** Workspaces (Tekton) or volumes (Argo) the sidecar mounts: registry CAs and a whole buildkitd.toml. */
  mounts: { workspaces?: Workspace[]; volumeMounts?: { name: string; mountPath: string; readOnly: boolean }[] };
  /** Whether the surface declares DAEMON_ENV_PARAMS, which the sidecar then takes as env. */
  daemonEnv: boolean;
};

/**
 * The buildkitd sidecar: the launcher applies the registry params, then runs the image's
 * ENTRYPOINT with the daemon's flags. Tekton: probes that gate the steps.
 */
function sidecar(options: SidecarOptions): Record<string, unknown> {
  const { engine, variant } = options;
  const socketDir = DAEMON_SOCKET_DIR[variant];
  const address = socketAddress(socketDir);
  const daemonArgs =
    variant === 'privileged'
      ? ['--addr', address, ...SOCKET_GROUP_ARGS]
      : ['--addr', address, '--oci-worker-no-process-sandbox'];
  // Both engines run the launcher: it writes the registry params' buildkitd.toml before the daemon starts.
  const launch = {
    command: ['sh', '-c', sidecarLauncher(), LAUNCHER_NAME],
    args: [...IMAGE_ENTRYPOINT[variant], ...daemonArgs],
  };
  // Pinned users, so a pod-level `runAsNonRoot: true` neither refuses the root daemon nor runs it as another user.
  const securityContext =
    variant === 'privileged'
      ? { privileged: true, runAsUser: 0, runAsNonRoot: false }
      : {
          runAsUser: ROOTLESS_DAEMON_UID,
          runAsGroup: ROOTLESS_DAEMON_UID,
          runAsNonRoot: true,
          seccompProfile: { type: 'Unconfined' },
          appArmorProfile: { type: 'Unconfined' },
        };
  // A fresh object per probe: a shared one would come out as a YAML anchor and alias.
  const probe = () => ({ exec: { command: ['buildctl', '--addr', address, 'debug', 'workers'] } });
  const probes =
    engine === 'tekton'
      ? {
          // Gates the steps where Tekton runs sidecars as native sidecars (`enable-kubernetes-sidecar`),
          // where a readiness probe does not. After 2 min (DAEMON_TIMEOUT's default) the kubelet kills
          // it, so a hung daemon ends in the step's DAEMON_UNREACHABLE, not in steps that never start.
          startupProbe: { ...probe(), periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 120 },
          // Gates the steps otherwise (Tekton starts them once every sidecar is ready).
          readinessProbe: { ...probe(), periodSeconds: 2, timeoutSeconds: 5 },
        }
      : // Argo does not wait for sidecars; the step waits for the daemon itself.
        {};
  const ref = paramRefs[engine];
  return {
    name: SIDECAR_NAME,
    image: options.image,
    ...launch,
    env: [
      ...DAEMON_SCHEMA_PARAMS.map((key) => ({ name: envVarName(key), value: ref(workflowParamName(key)) })),
      ...(options.daemonEnv ? DAEMON_ENV_PARAMS.map((param) => ({ name: param.env, value: ref(param.name) })) : []),
    ],
    securityContext,
    ...probes,
    volumeMounts: [
      // The same emptyDir the step mounts at STEP_SOCKET_DIR: the step keeps the default ENDPOINT.
      { name: SOCKET_VOLUME, mountPath: socketDir },
      {
        name: STATE_VOLUME,
        mountPath: DAEMON_STATE_DIR[variant],
      },
      ...(options.mounts.volumeMounts ?? []),
    ],
    ...(options.mounts.workspaces ? { workspaces: options.mounts.workspaces.map(workspaceUsage) } : {}),
  };
}

const podVolumes = [
  { name: SOCKET_VOLUME, emptyDir: {} },
  { name: STATE_VOLUME, emptyDir: {} },
];

/** The env that carries every param but the lists into the step (never a script). */
function taskEnv(schema: JsonSchema): { name: string; value: string }[] {
  const workspaceEnv = exposedParams(schema).flatMap((param) =>
    WORKSPACE_PARAMS[param.key]
      ? [{ name: param.env, value: `$(workspaces.${WORKSPACE_PARAMS[param.key]}.path)` }]
      : [],
  );
  const paramEnv = tektonParams(schema, 'task')
    .filter((param) => !isList(param))
    .map((param) => ({
      name: param.env,
      value: param.key === 'context' ? `$(workspaces.source.path)/$(params.${param.name})` : `$(params.${param.name})`,
    }));
  const order = exposedParams(schema).map((param) => param.env);
  return [...workspaceEnv, ...paramEnv].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
}

export function taskManifest(schema: JsonSchema, variant: Variant): Record<string, unknown> {
  const sidecarImage = variant === 'privileged' ? BUILDKITD_IMAGE_DEFAULT : BUILDKITD_ROOTLESS_IMAGE_DEFAULT;
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'Task',
    metadata: {
      name: variant === 'privileged' ? TASK_NAME : ROOTLESS_NAME,
      labels: { 'app.kubernetes.io/version': VERSION },
      annotations: catalogAnnotations(variant === 'privileged' ? 'BuildKit build' : 'BuildKit build (rootless daemon)'),
    },
    spec: {
      description:
        variant === 'privileged'
          ? 'Builds a container image with buildx against a privileged buildkitd sidecar, from validated params, and writes Tekton Chains results.'
          : 'Builds a container image with buildx against a rootless buildkitd sidecar (needs Unconfined seccomp and AppArmor), from validated params, and writes Tekton Chains results.',
      params: [
        ...tektonParams(schema, 'task').map((param) => tektonParamSpec(param, 'task')),
        extraParamSpec(stepImageParam),
        extraParamSpec(buildkitdImageParam(sidecarImage)),
        ...DAEMON_ENV_PARAMS.map(extraParamSpec),
      ],
      workspaces: workspacesFor(variant).map((workspace) => ({
        name: workspace.name,
        description: workspace.description,
        ...(workspace.optional ? { optional: true } : {}),
        ...(workspace.readOnly ? { readOnly: true } : {}),
        ...(workspace.mountPath ? { mountPath: workspace.mountPath } : {}),
      })),
      results: tektonResults(),
      volumes: podVolumes,
      steps: [
        {
          name: 'build',
          image: '$(params.STEP_IMAGE)',
          command: STEP_COMMAND,
          args: tektonStepArgs(tektonParams(schema, 'task')),
          // Relative paths in params (build contexts, local export, OCI layout) start at the checkout, as in Argo.
          workingDir: '$(workspaces.source.path)',
          env: taskEnv(schema),
          volumeMounts: [{ name: SOCKET_VOLUME, mountPath: STEP_SOCKET_DIR }],
          securityContext: stepSecurityContext,
          // Isolated workspaces: only the step mounts them, not the sidecar (credentials included).
          workspaces: workspacesFor(variant)
            .filter((workspace) => mountedIn(workspace, 'step'))
            .map(workspaceUsage),
        },
      ],
      sidecars: [
        sidecar({
          engine: 'tekton',
          variant,
          image: '$(params.BUILDKITD_IMAGE)',
          daemonEnv: true,
          mounts: { workspaces: workspacesFor(variant).filter((workspace) => mountedIn(workspace, 'sidecar')) },
        }),
      ],
    },
  };
}

export function stepActionManifest(schema: JsonSchema): Record<string, unknown> {
  const resultPaths = Object.fromEntries(RESULT_NAMES.map((name) => [name, `$(step.results.${name}.path)`]));
  const resultPathsParam = workflowParams(schema).find((param) => param.key === 'result_paths');
  if (!resultPathsParam) throw new Error('schema: the StepAction needs the result_paths parameter');
  return {
    apiVersion: 'tekton.dev/v1beta1',
    kind: 'StepAction',
    metadata: {
      name: TASK_NAME,
      labels: { 'app.kubernetes.io/version': VERSION },
      annotations: catalogAnnotations('BuildKit build'),
    },
    spec: {
      description:
        'Builds a container image with buildx against a buildkitd the Task provides (a sidecar sharing the `buildkit-socket` volume, or a tcp:// ENDPOINT), and writes Tekton Chains step results.',
      params: [
        ...tektonParams(schema, 'stepaction').map((param) => tektonParamSpec(param, 'stepaction')),
        extraParamSpec(stepImageParam),
        extraParamSpec(socketVolumeParam),
      ],
      results: tektonResults(),
      image: '$(params.STEP_IMAGE)',
      command: STEP_COMMAND,
      args: tektonStepArgs(tektonParams(schema, 'stepaction')),
      env: [
        ...tektonParams(schema, 'stepaction')
          .filter((param) => !isList(param))
          .map((param) => ({ name: param.env, value: `$(params.${param.name})` })),
        { name: resultPathsParam.env, value: JSON.stringify(resultPaths) },
        { name: RESULTS_DIR_ENV, value: STEPACTION_RESULTS_DIR },
      ],
      volumeMounts: [{ name: `$(params.${socketVolumeParam.name})`, mountPath: STEP_SOCKET_DIR }],
      securityContext: stepSecurityContext,
    },
  };
}

/** The sample Task's own params (the rest keep the StepAction's defaults). */
const SAMPLE_PARAMS: ExtraParam[] = [
  { name: 'IMAGE', default: '', description: 'Image repository to push to.' },
  { name: 'TAGS', default: '["latest"]', description: 'Tags for the image (a Tekton array).' },
  { name: 'CONTEXT', default: '.', description: 'Build context, relative to the source workspace.' },
  { name: 'CACHE_REPO', default: '', description: 'Registry repository for the layer cache; empty for none.' },
  {
    name: 'BRANCH',
    default: 'main',
    description:
      'The branch being built (the revision given to git-clone), as the cache key: `feature/x` becomes the tag `feature-x`; main is read when it misses.',
  },
  {
    name: 'PUSH',
    default: WORKFLOW_DEFAULTS.push!,
    description: 'Push the image (`true`), or only build it (`false`).',
  },
  stepImageParam,
  buildkitdImageParam(BUILDKITD_IMAGE_DEFAULT),
  // Registry settings: passed to the StepAction and to the sidecar, as in the Task.
  ...DAEMON_SCHEMA_PARAMS.map((key) => ({
    name: workflowParamName(key),
    default: '',
    description: `Passed to the StepAction's \`${workflowParamName(key)}\` and to the buildkitd sidecar.`,
  })),
];

/** The sample Task's workspaces: a StepAction reaches Secrets only through them (a `ref:` step has no volumeMounts). */
const SAMPLE_WORKSPACES: (Workspace & { param?: string })[] = [
  { name: 'source', description: 'The source checkout.' },
  {
    name: 'dockerconfig',
    description: 'Registry credentials (config.json or .dockerconfigjson).',
    optional: true,
    readOnly: true,
    param: 'DOCKER_CONFIG',
  },
  {
    name: 'build-secrets',
    description: 'Build secrets, e.g. a Secret: key = id for `RUN --mount=type=secret,id=<key>`.',
    optional: true,
    readOnly: true,
    param: 'SECRETS_DIR',
  },
  REGISTRY_CA_WORKSPACE,
  BUILDKITD_CONFIG_WORKSPACE,
];

/** An example Task that supplies what a StepAction cannot: the sidecar, the volumes, the workspaces. */
export function sampleTaskManifest(schema: JsonSchema): Record<string, unknown> {
  const stepActionParams = new Set([
    ...tektonParams(schema, 'stepaction').map((param) => param.name),
    stepImageParam.name,
  ]);
  const passed: { name: string; value: string | string[] }[] = [
    { name: 'IMAGE', value: '$(params.IMAGE)' },
    // An array param passed whole to the StepAction's array param.
    { name: 'TAGS', value: ['$(params.TAGS[*])'] },
    { name: 'CONTEXT', value: '$(workspaces.source.path)/$(params.CONTEXT)' },
    { name: 'PUSH', value: '$(params.PUSH)' },
    { name: stepImageParam.name, value: `$(params.${stepImageParam.name})` },
    ...DAEMON_SCHEMA_PARAMS.map((key) => ({
      name: workflowParamName(key),
      value: `$(params.${workflowParamName(key)})`,
    })),
    // An unbound optional workspace's path is "", which the step reads as "not set".
    ...SAMPLE_WORKSPACES.flatMap((workspace) =>
      workspace.param ? [{ name: workspace.param, value: `$(workspaces.${workspace.name}.path)` }] : [],
    ),
    // One cache per branch, read-through to main: a new commit-SHA tag still hits.
    { name: 'CACHE_REPO', value: '$(params.CACHE_REPO)' },
    { name: 'CACHE_KEY', value: '$(params.BRANCH)' },
    { name: 'CACHE_FALLBACK_KEYS', value: ['main'] },
  ].filter((param) => stepActionParams.has(param.name));
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'Task',
    metadata: {
      name: `${TASK_NAME}-with-stepaction`,
      annotations: { 'tekton.dev/pipelines.minVersion': TEKTON_MIN_VERSION },
    },
    spec: {
      description: 'Example: the buildkit-build StepAction with a privileged buildkitd sidecar, pushing the image.',
      params: SAMPLE_PARAMS.map((param) =>
        param.name === 'IMAGE'
          ? { name: param.name, type: 'string', description: param.description }
          : param.name === 'TAGS'
            ? {
                name: param.name,
                type: 'array',
                description: param.description,
                default: JSON.parse(param.default) as string[],
              }
            : extraParamSpec(param),
      ),
      workspaces: SAMPLE_WORKSPACES.map((workspace) => ({
        name: workspace.name,
        description: workspace.description,
        ...(workspace.optional ? { optional: true } : {}),
        ...(workspace.readOnly ? { readOnly: true } : {}),
        ...(workspace.mountPath ? { mountPath: workspace.mountPath } : {}),
      })),
      results: RESULT_NAMES.map((name) => ({
        name,
        ...(name === 'ARTIFACT_OUTPUTS'
          ? { type: 'object', properties: ARTIFACT_OUTPUTS_PROPERTIES }
          : { type: 'string' }),
        description: RESULTS[name].description,
        value: `$(steps.build.results.${name})`,
      })),
      volumes: podVolumes,
      steps: [
        {
          name: 'build',
          ref: { name: TASK_NAME },
          params: passed,
          // Isolated workspaces: mounted into this step only, not into the privileged sidecar.
          workspaces: SAMPLE_WORKSPACES.filter((workspace) => mountedIn(workspace, 'step')).map(workspaceUsage),
        },
      ],
      sidecars: [
        sidecar({
          engine: 'tekton',
          variant: 'privileged',
          image: '$(params.BUILDKITD_IMAGE)',
          daemonEnv: false,
          mounts: { workspaces: SAMPLE_WORKSPACES.filter((workspace) => mountedIn(workspace, 'sidecar')) },
        }),
      ],
    },
  };
}

// --- Argo --------------------------------------------------------------------------------------------

/**
 * What a caller through `templateRef` cannot otherwise change: volumes and mounts (Secrets for
 * DOCKER_CONFIG, SECRETS_DIR, SSH_DIR), the sidecar's resources, the state volume's size.
 */
const podSpecPatchParam: ExtraParam = {
  name: 'POD_SPEC_PATCH',
  default: '{}',
  description:
    "Not a buildkit-step parameter: a patch (YAML or JSON) of this template's pod spec only, merged by name, e.g. Secret volumes and the `main` container's volumeMounts for them, the `buildkitd` sidecar's resources, or a `sizeLimit` for the `buildkitd-state` emptyDir. `{}`: no change.",
};

/** Argo inputs naming the ConfigMaps behind the registry CA and buildkitd.toml volumes (optional: a missing one mounts empty). */
const ARGO_CONFIGMAP_PARAMS: readonly (ExtraParam & { volume: string })[] = [
  {
    name: 'REGISTRY_CA_CONFIGMAP',
    volume: REGISTRY_CA_WORKSPACE.name,
    default: 'buildkit-registry-ca',
    description: `Not a buildkit-step parameter: the ConfigMap of registry CA certificates, mounted at \`${REGISTRY_CA_DIR}\` in the step and the sidecar (\`REGISTRY_CA\` names files there). Optional: a missing ConfigMap mounts an empty directory.`,
  },
  {
    name: 'BUILDKITD_CONFIG_CONFIGMAP',
    volume: BUILDKITD_CONFIG_WORKSPACE.name,
    default: 'buildkitd-config',
    description: `Not a buildkit-step parameter: a ConfigMap with a whole \`buildkitd.toml\`, mounted at \`${DAEMON_CONFIG_DIR.privileged}\` (rootless template: \`${DAEMON_CONFIG_DIR.rootless}\`) in the sidecar, where buildkitd reads it. Optional: a missing ConfigMap mounts an empty directory (no config).`,
  },
];

/** Where the Argo template's step writes the metadata file by default: the METADATA output parameter reads it. */
const ARGO_METADATA_FILE = '/tmp/metadata/metadata.json';
/**
 * The path of the optional `metadata` output artifact. Argo saves an output artifact to the
 * artifact repository, and with none configured it fails the step; an optional artifact whose
 * file does not exist is skipped before the repository is asked for. So the file is there (and
 * the artifact saved) only when METADATA_FILE names this path.
 */
export const ARGO_METADATA_ARTIFACT = '/tmp/outputs/metadata.json';

/** The Argo inputs: every exposed param, METADATA_FILE defaulting to where the METADATA output reads it. */
export function argoParams(schema: JsonSchema): WorkflowParam[] {
  return exposedParams(schema).map((param) =>
    param.key === 'metadata_file' ? { ...param, default: ARGO_METADATA_FILE } : param,
  );
}

type ArgoKind = 'WorkflowTemplate' | 'ClusterWorkflowTemplate';

export function argoManifest(
  schema: JsonSchema,
  kind: ArgoKind = 'WorkflowTemplate',
  variant: Variant = 'privileged',
): Record<string, unknown> {
  const params = argoParams(schema);
  const metadataFile = params.find((param) => param.key === 'metadata_file');
  if (!metadataFile) throw new Error('schema: the Argo template needs the metadata_file parameter');
  const sidecarImage = variant === 'privileged' ? BUILDKITD_IMAGE_DEFAULT : BUILDKITD_ROOTLESS_IMAGE_DEFAULT;
  const extra: ExtraParam[] = [
    stepImageParam,
    buildkitdImageParam(sidecarImage),
    ...DAEMON_ENV_PARAMS,
    ...ARGO_CONFIGMAP_PARAMS,
    podSpecPatchParam,
  ];
  const configMapVolumes = ARGO_CONFIGMAP_PARAMS.map((param) => ({
    name: param.volume,
    configMap: { name: `{{inputs.parameters.${param.name}}}`, optional: true },
  }));
  const inputs = [
    ...params.map((param) => ({
      name: param.name,
      description: param.description,
      ...(param.required ? {} : { value: param.default }),
    })),
    ...extra.map((param) => ({ name: param.name, description: param.description, value: param.default })),
  ];
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind,
    metadata: {
      name: variant === 'privileged' ? TASK_NAME : ROOTLESS_NAME,
      labels: { 'app.kubernetes.io/version': VERSION },
    },
    spec: {
      entrypoint: 'build',
      // Workflow arguments feed the entrypoint's inputs, so `argo submit --from` works with -p.
      arguments: {
        parameters: inputs.map((input) => ({ name: input.name, ...('value' in input ? { value: input.value } : {}) })),
      },
      templates: [
        {
          name: 'build',
          inputs: {
            parameters: inputs,
            artifacts: [{ name: 'source', path: '/workspace/source', optional: true }],
          },
          outputs: {
            parameters: [
              ...RESULT_NAMES.map((name) => ({
                name,
                description: RESULTS[name].description,
                // Written only on success (image results) or only on failure (ERROR_*).
                valueFrom: { path: `${ARGO_RESULTS_DIR}/${name}`, default: '' },
              })),
              {
                name: 'METADATA',
                description: "buildx's full build metadata JSON, read from METADATA_FILE; empty when the build failed.",
                valueFrom: { path: `{{inputs.parameters.${metadataFile.name}}}`, default: '' },
              },
            ],
            artifacts: [
              {
                name: 'metadata',
                path: ARGO_METADATA_ARTIFACT,
                // Saved only when METADATA_FILE is this path, and then needs an artifact repository.
                optional: true,
                archive: { none: {} },
              },
            ],
          },
          volumes: [...podVolumes, ...configMapVolumes],
          // This template's pod only (a Workflow-level podSpecPatch would patch every pod).
          podSpecPatch: `{{inputs.parameters.${podSpecPatchParam.name}}}`,
          container: {
            image: '{{inputs.parameters.STEP_IMAGE}}',
            command: STEP_COMMAND,
            args: STEP_ARGS,
            workingDir: '/workspace/source',
            env: [
              ...params.map((param) => ({ name: param.env, value: `{{inputs.parameters.${param.name}}}` })),
              { name: RESULTS_DIR_ENV, value: ARGO_RESULTS_DIR },
            ],
            volumeMounts: [
              { name: SOCKET_VOLUME, mountPath: STEP_SOCKET_DIR },
              { name: REGISTRY_CA_WORKSPACE.name, mountPath: REGISTRY_CA_DIR, readOnly: true },
            ],
            securityContext: stepSecurityContext,
          },
          sidecars: [
            sidecar({
              engine: 'argo',
              variant,
              image: '{{inputs.parameters.BUILDKITD_IMAGE}}',
              daemonEnv: true,
              mounts: {
                volumeMounts: [
                  { name: REGISTRY_CA_WORKSPACE.name, mountPath: REGISTRY_CA_DIR, readOnly: true },
                  { name: BUILDKITD_CONFIG_WORKSPACE.name, mountPath: DAEMON_CONFIG_DIR[variant], readOnly: true },
                ],
              },
            }),
          ],
        },
      ],
    },
  };
}

// --- README tables -----------------------------------------------------------------------------------

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
const code = (text: string) => (text === '' ? '`""`' : `\`${text}\``);

function paramsTable(params: WorkflowParam[], extras: ExtraParam[], surface: Surface | 'argo'): string {
  const rows = params.map((param) => {
    const description =
      surface === 'task' && param.key === 'context'
        ? `${param.description} Relative to the \`source\` workspace.`
        : param.description;
    // Tekton params are strings or arrays; Argo inputs are text holding a value of the JSON type.
    const type = surface === 'argo' ? param.jsonType : isList(param) ? 'array' : 'string';
    return `| \`${param.name}\` | ${type} | ${param.required ? '(required)' : code(param.default)} | ${cell(description)} |`;
  });
  const extraRows = extras.map(
    (param) =>
      `| \`${param.name}\` | string | ${param.defaultText ?? code(param.default)} | ${cell(param.description)} |`,
  );
  const typeHeader = surface === 'argo' ? 'JSON type' : 'Tekton type';
  return [`| name | ${typeHeader} | default | description |`, '|---|---|---|---|', ...rows, ...extraRows].join('\n');
}

function workspacesTable(schema: JsonSchema): string {
  const byWorkspace = new Map(Object.entries(WORKSPACE_PARAMS).map(([key, workspace]) => [workspace, key]));
  const keys = new Set(paramKeys(schema));
  const rows = WORKSPACES.map((workspace) => {
    const key = byWorkspace.get(workspace.name);
    const sets =
      workspace.name === 'source'
        ? '`PARAM_CONTEXT` (with `CONTEXT`)'
        : key && keys.has(key)
          ? `\`${envVarName(key)}\``
          : '';
    return `| \`${workspace.name}\` | ${workspace.optional ? 'yes' : 'no'} | ${sets} | ${cell(workspace.description)} |`;
  });
  return ['| workspace | optional | sets | description |', '|---|---|---|---|', ...rows].join('\n');
}

/** Which params the workflow files leave out, why, and what to use instead. */
function notExposedTable(surfaces: ('task' | 'stepaction' | 'argo')[]): string {
  const heading: Record<string, string> = {
    task: 'Task: use instead',
    stepaction: 'StepAction: use instead',
    argo: 'use instead',
  };
  const instead = (key: string, surface: string) => {
    const dir = NOT_EXPOSED_INSTEAD[key]!;
    return surface === 'task'
      ? `the \`${WORKSPACE_PARAMS[dir]}\` workspace (a Secret; sets \`${envVarName(dir)}\`)`
      : `\`${workflowParamName(dir)}\`: the path where a Secret volume is mounted`;
  };
  const rows = Object.entries(NOT_EXPOSED).map(
    ([key, reason]) =>
      `| \`${workflowParamName(key)}\` (\`${envVarName(key)}\`) | ${cell(reason)} | ${surfaces.map((surface) => instead(key, surface)).join(' | ')} |`,
  );
  return [
    `| not exposed | why | ${surfaces.map((surface) => heading[surface]).join(' | ')} |`,
    `|---|---|${surfaces.map(() => '---|').join('')}`,
    ...rows,
  ].join('\n');
}

function resultsTable(where: string): string {
  const rows = RESULT_NAMES.map(
    (name) =>
      `| \`${name}\` | ${name === 'ARTIFACT_OUTPUTS' ? (where === 'argo' ? 'JSON object text' : 'object') : 'string'} | ${cell(RESULTS[name].description)} |`,
  );
  return ['| result | type | description |', '|---|---|---|', ...rows].join('\n');
}

/** A param's JSON type, and its Tekton type where that differs (a Tekton param is a string or an array). */
function cliType(param: WorkflowParam): string {
  if (NOT_EXPOSED[param.key] !== undefined) return `${param.jsonType} (not in Tekton or Argo)`;
  const tekton = isList(param) ? 'array' : 'string';
  return tekton === param.jsonType ? param.jsonType : `${param.jsonType} (Tekton: ${tekton})`;
}

/** The CLI's own params table: every spelling of each param. */
function cliParamsTable(schema: JsonSchema): string {
  const rows = workflowParams(schema).map(
    (param) =>
      `| \`${param.key}\` | \`${envVarName(param.key)}\` | \`--${flagName(param.key)}\` | ${cliType(param)} | ${param.required ? '(required)' : param.default === '' ? '' : code(param.default)} | ${cell(param.description)} |`,
  );
  return ['| param | env | flag | type | default | description |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

function errorCodesTable(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([name, entry]) => `| \`${name}\` | ${entry.exit} | ${cell(entry.summary)} |`,
  );
  return ['| code | exit | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->`; throws when a marker is missing. */
export function fillMarkers(text: string, file: string, blocks: Record<string, string>): string {
  let out = text;
  for (const [name, body] of Object.entries(blocks)) {
    const start = `<!-- ${name}:start -->`;
    const end = `<!-- ${name}:end -->`;
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${file}: missing ${start} ... ${end}`);
    out = `${out.slice(0, from + start.length)}\n${body}\n${out.slice(to)}`;
  }
  return out;
}

// --- output ------------------------------------------------------------------------------------------

const HEADER =
  'Generated by scripts/gen-tasks.ts from schemas/params.schema.json. Do not edit: run\n  npm run gen-tasks';

function toYaml(manifest: Record<string, unknown>, note?: string): string {
  const doc = new YAML.Document(manifest, { version: '1.1' });
  doc.commentBefore = note
    ? ` ${HEADER.replaceAll('\n', '\n ')}\n ${note.replaceAll('\n', '\n ')}`
    : ` ${HEADER.replaceAll('\n', '\n ')}`;
  return doc.toString({ lineWidth: 0, indentSeq: true });
}

/**
 * Artifact Hub's repository metadata (artifacthub-repo.yml). Artifact Hub reads it from the
 * directory the repository URL points at, so each kind directory (one Artifact Hub repository)
 * has its own. Set the ID Artifact Hub gives each repository (for the "Verified publisher" mark)
 * and the owners who may claim them here.
 */
const ARTIFACT_HUB_REPOSITORY_IDS: Readonly<Record<'task' | 'stepaction', string>> = { task: '', stepaction: '' };
const ARTIFACT_HUB_OWNERS: readonly { name: string; email: string }[] = [];

function repoMetadata(kindName: string, kind: 'task' | 'stepaction'): string {
  const id = ARTIFACT_HUB_REPOSITORY_IDS[kind];
  return toYaml(
    { ...(id ? { repositoryID: id } : {}), owners: [...ARTIFACT_HUB_OWNERS] },
    [
      `Artifact Hub repository metadata. Add this directory (${TEKTON_ROOT}/${kind}) to Artifact Hub as a`,
      `"${kindName}" repository with directory-based versioning: it holds <name>/<version>/<name>.yaml.`,
      'repositoryID (enables "Verified publisher") and owners (ownership claim) are set in the generator.',
    ].join('\n'),
  );
}

/** Every generated file's full content, by repository-relative path. READMEs need their current text. */
export function generate(schema: JsonSchema, readText: (file: string) => string): Map<string, string> {
  const files = new Map<string, string>();
  files.set(
    FILES.task,
    toYaml(
      taskManifest(schema, 'privileged'),
      `Images are placeholders: pin STEP_IMAGE and BUILDKITD_IMAGE by digest.`,
    ),
  );
  files.set(
    FILES.taskRootless,
    toYaml(
      taskManifest(schema, 'rootless'),
      'Images are placeholders: pin STEP_IMAGE and BUILDKITD_IMAGE by digest.\nNeeds Unconfined seccomp and AppArmor for the sidecar: see README.md (Pod Security "baseline"/"restricted" reject it).',
    ),
  );
  files.set(
    FILES.stepAction,
    toYaml(
      stepActionManifest(schema),
      'The Task that uses it must provide a volume named buildkit-socket and a buildkitd (see samples/).',
    ),
  );
  files.set(
    FILES.sample,
    toYaml(
      sampleTaskManifest(schema),
      'Example only: the StepAction plus the sidecar and volumes it cannot declare itself.',
    ),
  );
  files.set(
    FILES.argo,
    toYaml(argoManifest(schema), 'Images are placeholders: pin STEP_IMAGE and BUILDKITD_IMAGE by digest.'),
  );
  files.set(
    FILES.argoCluster,
    toYaml(
      argoManifest(schema, 'ClusterWorkflowTemplate'),
      'The same template, cluster-wide: reference it with `workflowTemplateRef: {name: buildkit-build, clusterScope: true}`.\nImages are placeholders: pin STEP_IMAGE and BUILDKITD_IMAGE by digest.',
    ),
  );
  files.set(
    FILES.argoRootless,
    toYaml(
      argoManifest(schema, 'WorkflowTemplate', 'rootless'),
      'Images are placeholders: pin STEP_IMAGE and BUILDKITD_IMAGE by digest.\nNeeds Unconfined seccomp and AppArmor for the sidecar: see README.md (Pod Security "baseline"/"restricted" reject it).',
    ),
  );

  const taskExtras = (sidecarImage: string): ExtraParam[] => [
    stepImageParam,
    buildkitdImageParam(sidecarImage),
    ...DAEMON_ENV_PARAMS,
  ];
  const taskTables = (sidecarImage: string) => ({
    params: paramsTable(tektonParams(schema, 'task'), taskExtras(sidecarImage), 'task'),
    workspaces: workspacesTable(schema),
    results: resultsTable('tekton'),
    'not-exposed': notExposedTable(['task', 'stepaction']),
  });
  files.set(
    FILES.taskReadme,
    fillMarkers(readText(FILES.taskReadme), FILES.taskReadme, taskTables(BUILDKITD_IMAGE_DEFAULT)),
  );
  files.set(
    FILES.taskRootlessReadme,
    fillMarkers(
      readText(FILES.taskRootlessReadme),
      FILES.taskRootlessReadme,
      taskTables(BUILDKITD_ROOTLESS_IMAGE_DEFAULT),
    ),
  );
  files.set(
    FILES.stepActionReadme,
    fillMarkers(readText(FILES.stepActionReadme), FILES.stepActionReadme, {
      'stepaction-params': paramsTable(
        tektonParams(schema, 'stepaction'),
        [stepImageParam, socketVolumeParam],
        'stepaction',
      ),
      results: resultsTable('tekton'),
      'not-exposed': notExposedTable(['task', 'stepaction']),
    }),
  );
  files.set(FILES.taskRepoMetadata, repoMetadata('Tekton tasks', 'task'));
  files.set(FILES.stepActionRepoMetadata, repoMetadata('Tekton stepactions', 'stepaction'));
  files.set(
    FILES.argoReadme,
    fillMarkers(readText(FILES.argoReadme), FILES.argoReadme, {
      params: paramsTable(
        argoParams(schema),
        [
          stepImageParam,
          {
            ...buildkitdImageParam(BUILDKITD_IMAGE_DEFAULT),
            defaultText: `\`${BUILDKITD_IMAGE_DEFAULT}\` (rootless template: \`${BUILDKITD_ROOTLESS_IMAGE_DEFAULT}\`)`,
          },
          ...DAEMON_ENV_PARAMS,
          ...ARGO_CONFIGMAP_PARAMS,
          podSpecPatchParam,
        ],
        'argo',
      ),
      'not-exposed': notExposedTable(['argo']),
      results: resultsTable('argo'),
    }),
  );
  files.set(
    FILES.readme,
    fillMarkers(readText(FILES.readme), FILES.readme, {
      params: cliParamsTable(schema),
      results: resultsTable('tekton'),
      errors: errorCodesTable(),
    }),
  );
  return files;
}

/** Writes the generated files under `root`, or with `check` only lists those that would change. */
export function run(root: string, options: { check: boolean }): { changed: string[] } {
  const schema = JSON.parse(readFileSync(path.join(root, 'schemas', 'params.schema.json'), 'utf8')) as JsonSchema;
  const files = generate(schema, (file) => readFileSync(path.join(root, file), 'utf8'));
  const changed: string[] = [];
  for (const [file, content] of files) {
    const target = path.join(root, file);
    const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
    if (current === content) continue;
    changed.push(file);
    if (!options.check) {
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
  }
  return { changed };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const check = process.argv.includes('--check');
  const { changed } = run(REPO_ROOT, { check });
  if (check && changed.length > 0) {
    process.stderr.write(
      `gen-tasks: out of date (run: npm run gen-tasks):\n${changed.map((f) => `  ${f}\n`).join('')}`,
    );
    process.exitCode = 1;
  } else {
    process.stdout.write(
      changed.length > 0 ? changed.map((f) => `${check ? 'ok' : 'wrote'} ${f}\n`).join('') : 'gen-tasks: up to date\n',
    );
  }
}
