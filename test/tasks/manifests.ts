// The shapes of the shipped Tekton and Argo files as far as the tests read them. YAML.parse gives
// `any`; a declared shape keeps every read typed, and a file that does not have it fails the test
// that reads it. One type covers the Task, StepAction, sample Task and Argo templates: fields one
// kind lacks read as undefined there, which is what the tests compare.

export type Named = { name: string };
export type EnvVar = { name: string; value: string };
/** A param declaration (Tekton `params`, Argo `parameters`) or a value passed to one. */
export type Param = { name: string; type?: string; default?: unknown; value?: unknown };
/** A workspace, volume or mount: declared or used. */
export type Mount = { name: string; mountPath?: string; optional?: boolean; configMap?: unknown };
export type Probe = { exec?: { command?: string[] } };

/** A Tekton step or sidecar, a StepAction's spec, or an Argo container or sidecar. */
export type Container = {
  name: string;
  image?: string;
  command: string[];
  args: string[];
  script?: string;
  env: EnvVar[];
  securityContext: Record<string, unknown>;
  workspaces: Mount[];
  volumeMounts: Mount[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  /** A Tekton step that uses a StepAction: its reference and the values it passes. */
  ref: Named;
  params: Param[];
};

export type ArgoOutput = { name: string; valueFrom: { path: string; default: string } };
export type ArgoTemplate = {
  name: string;
  inputs: { parameters: Param[] };
  outputs: { parameters: ArgoOutput[]; artifacts: unknown[] };
  container: Container;
  sidecars: Container[];
  volumes: Mount[];
  /** A Workflow's steps template: groups of steps run in parallel. */
  steps: { name: string; arguments: { parameters: Param[] } }[][];
};

export type Spec = Container & {
  // Tekton Task / StepAction
  workspaces: Mount[];
  steps: Container[];
  sidecars: Container[];
  results: { name: string; type?: string; value?: string; properties?: Record<string, unknown> }[];
  volumes: Named[];
  // Argo WorkflowTemplate / Workflow
  entrypoint: string;
  templates: ArgoTemplate[];
  arguments: { parameters: Param[] };
  podSpecPatch?: string;
};

export type Manifest = {
  kind: string;
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: Spec;
};

/** Artifact Hub's repository metadata (artifacthub-repo.yml) beside the Tekton catalog dirs. */
export type RepoMetadata = { repositoryID?: string; owners?: unknown[] };
