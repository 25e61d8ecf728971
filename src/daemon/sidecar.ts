// The buildkitd sidecar as the shipped Task and WorkflowTemplate name it, for messages that send
// the reader to its log. scripts/gen-tasks.ts generates the sidecars from this name.

/** The sidecar's name in the Task and the WorkflowTemplate. */
export const SIDECAR_NAME = 'buildkitd';

/** Its container name in the pod, as `kubectl logs POD -c NAME` takes it: Tekton prefixes `sidecar-`. */
export const SIDECAR_CONTAINERS = { tekton: `sidecar-${SIDECAR_NAME}`, argo: SIDECAR_NAME } as const;
