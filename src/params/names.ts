// One name per parameter, spelled mechanically for each surface it appears on.

/** `build_args` -> `PARAM_BUILD_ARGS`: the env var a Tekton or Argo step sets. */
export const envVarName = (key: string): string => `PARAM_${key.toUpperCase()}`;

/** `build_args` -> `build-args`: the CLI flag (without dashes). */
export const flagName = (key: string): string => key.replaceAll('_', '-');

/** `build_args` -> `BUILD_ARGS`: the Tekton param and Argo input parameter name. */
export const workflowParamName = (key: string): string => key.toUpperCase();

/** The env var holding all params as one JSON object. */
export const PARAMS_ENV = 'BUILDKIT_STEP_PARAMS';

/** The env var naming the results directory. */
export const RESULTS_DIR_ENV = 'BUILDKIT_STEP_RESULTS_DIR';

/** Closest known name to a misspelt one, when close enough to be a useful hint. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
