// The one error type of the step: a stable `code` (the API), an exit code, and prose.

/** Every failure the step can report, with its exit code. Codes never change meaning. */
export const ERROR_CODES = {
  PARAMS_INVALID: { exit: 2, summary: 'a parameter is missing, malformed (bad JSON included) or unknown' },
  PARAMS_UNREADABLE: { exit: 3, summary: 'a params file or a directory named by a parameter cannot be read' },
  BUILDX_MISSING: { exit: 4, summary: 'the buildx binary cannot be found or started' },
  DAEMON_UNREACHABLE: { exit: 10, summary: 'the BuildKit daemon did not answer within daemon_timeout' },
  DAEMON_TLS: { exit: 11, summary: 'the TLS handshake with a tcp:// daemon failed (wrong CA, certificate or key)' },
  ENTITLEMENT_REFUSED: {
    exit: 14,
    summary:
      'the daemon refused an entitlement the build asks for (allow); grant it with insecure-entitlements in buildkitd.toml (the buildkitd-config workspace) or --allow-insecure-entitlement',
  },
  REGISTRY_AUTH: {
    exit: 12,
    summary: 'a registry refused the credentials (or there were none) for pull, push or cache',
  },
  REGISTRY_TLS: {
    exit: 13,
    summary:
      'a registry answered plain HTTP (list it in registry_http) or with a certificate the daemon does not trust (give its CA in registry_ca)',
  },
  BUILD_FAILED: { exit: 20, summary: 'buildx build failed (Dockerfile error, failing RUN, missing file, ...)' },
  PUSH_FAILED: { exit: 21, summary: 'the image was built but pushing it failed' },
  METADATA_INVALID: {
    exit: 22,
    summary: 'buildx succeeded but its metadata file is missing or lacks the image digest',
  },
  RESULTS_TOO_LARGE: {
    exit: 23,
    summary:
      'the results would exceed results_max_bytes (Tekton fails the TaskRun past 4096 bytes); checked before the build',
  },
  RESULTS_UNWRITABLE: {
    exit: 24,
    summary: 'a results dir or result file cannot be written (checked before the build, and again at the end)',
  },
  OUTPUT_UNWRITABLE: {
    exit: 25,
    summary: 'the directory for the OCI layout, the local export or the metadata file cannot be written',
  },
  CHECK_FAILED: { exit: 26, summary: 'check mode with check_fail_on_warnings: a Dockerfile rule reported a finding' },
  INTERRUPTED: { exit: 130, summary: 'the step received SIGINT or SIGTERM' },
  INTERNAL: { exit: 70, summary: 'a bug in buildkit-step' },
} as const satisfies Record<string, { exit: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A failure with a stable code; the original error, if any, is kept as `cause`. */
export class StepError extends Error {
  readonly code: ErrorCode;
  /** How many buildx builds ran before the failure (0: it failed before the first), when known. */
  attempts: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; attempts?: number }) {
    super(message, options);
    this.name = 'StepError';
    this.code = code;
    this.attempts = options?.attempts;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
}

/** Wraps anything thrown into a StepError, keeping StepErrors as they are. */
export function toStepError(error: unknown): StepError {
  if (error instanceof StepError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StepError('INTERNAL', `unexpected error: ${message}`, { cause: error });
}
