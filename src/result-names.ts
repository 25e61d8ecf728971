// Every result the step can write: its name, what it holds and when it is written. The Task,
// StepAction and WorkflowTemplate results and the README's results table are generated from
// this list; the schema's `result_paths` names the same results (the type check ties them).
import type { Params } from './params/types.js';

/** A result's name, as `result_paths` in the schema lists them. */
export type ResultName = keyof NonNullable<Params['result_paths']>;

/** When a result is written: after any successful build, only after a push, or on failure. */
export type ResultWhen = 'built' | 'pushed' | 'failed';

/** Each result, in the order the engines' files list them. */
export const RESULTS = {
  IMAGE_DIGEST: {
    when: 'built',
    description:
      'Digest of the built image (`sha256:...`): the manifest, or the index for multi-platform builds. Also for an unpushed build (the digest of its OCI layout), which writes no other image result.',
  },
  IMAGE_URL: {
    when: 'pushed',
    description: 'The pushed image with its first tag (`IMAGE:first-tag`). Only when pushed.',
  },
  IMAGE_REF: { when: 'pushed', description: 'The pushed image by digest (`IMAGE@sha256:...`). Only when pushed.' },
  IMAGES: {
    when: 'pushed',
    description: 'Every pushed reference as `IMAGE:tag@sha256:...`, comma-separated. Only when pushed.',
  },
  ARTIFACT_OUTPUTS: {
    when: 'pushed',
    description: 'The pushed image for Tekton Chains: {"uri", "digest", "isBuildArtifact": "true"}. Only when pushed.',
  },
  ERROR_REASON: {
    when: 'failed',
    description: 'On failure: the stable error code (e.g. BUILD_FAILED, DAEMON_UNREACHABLE).',
  },
  ERROR_MESSAGE: {
    when: 'failed',
    description: 'On failure: a short message naming the parameter or the build error.',
  },
} as const satisfies Record<ResultName, { when: ResultWhen; description: string }>;

/** The result names, in order. */
export const RESULT_NAMES = Object.keys(RESULTS) as ResultName[];
