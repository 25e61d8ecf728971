// What the step leaves for later steps: result names, values and their size as Tekton counts it. Pure.
import type { BuildMetadata } from './buildx/metadata.js';
import type { BuildConfig } from './config.js';
import type { ResultName } from './result-names.js';
import { StepError } from './errors.js';

export type Results = Partial<Record<ResultName, string>>;

/**
 * Results of a successful build, with the names Tekton Chains reads. IMAGE_DIGEST always (also
 * of an OCI layout). The others name the image in a registry, and Chains signs and attests what
 * IMAGE_URL + IMAGE_DIGEST name, so they are written only when the image was pushed.
 */
export function successResults(config: BuildConfig, metadata: BuildMetadata): Results {
  const digest = metadata.digest;
  if (!config.push) return { IMAGE_DIGEST: digest };
  return {
    IMAGE_DIGEST: digest,
    IMAGE_URL: config.refs[0] ?? config.image,
    IMAGE_REF: `${config.image}@${digest}`,
    IMAGES: config.refs.map((ref) => `${ref}@${digest}`).join(','),
    ARTIFACT_OUTPUTS: JSON.stringify({ uri: config.image, digest, isBuildArtifact: 'true' }),
  };
}

/** A digest is always `sha256:` and 64 hex digits: 71 bytes, so the results' size is known before the build. */
export const PLACEHOLDER_DIGEST = `sha256:${'0'.repeat(64)}`;

/**
 * Throws RESULTS_TOO_LARGE when the results of a successful build could not fit: everything
 * that decides their size (image, tags, push) is known before the build, so no image is
 * pushed whose results would then be refused.
 */
export function checkResultsFit(config: BuildConfig): void {
  checkResultsSize(successResults(config, { digest: PLACEHOLDER_DIGEST }), config.resultsMaxBytes);
}

const MAX_MESSAGE = 1000;

/** Results of a failed run: the stable code and a short message that fits any budget. */
export function failureResults(error: StepError): Results {
  const message = error.message.length > MAX_MESSAGE ? `${error.message.slice(0, MAX_MESSAGE - 3)}...` : error.message;
  return { ERROR_REASON: error.code, ERROR_MESSAGE: message };
}

/**
 * Bytes the results take in a Tekton termination message: a JSON array of {key, value, type}
 * entries, including the StartedAt entry Tekton adds for the step itself.
 */
export function tektonSize(results: Results): number {
  const entries = Object.entries(results).map(([key, value]) => ({ key, value, type: 1 }));
  entries.push({ key: 'StartedAt', value: '2006-01-02T15:04:05.000Z', type: 3 });
  return Buffer.byteLength(JSON.stringify(entries));
}

/** Throws RESULTS_TOO_LARGE when the results would not fit in `maxBytes`. */
export function checkResultsSize(results: Results, maxBytes: number): void {
  const size = tektonSize(results);
  if (size <= maxBytes) return;
  const largest = Object.entries(results).sort((a, b) => b[1].length - a[1].length)[0];
  throw new StepError(
    'RESULTS_TOO_LARGE',
    `results take ${size} bytes as Tekton encodes them, over results_max_bytes=${maxBytes}; the largest is ${largest?.[0]} (${largest?.[1].length} bytes). Use fewer tags, or raise the limit together with Tekton's max-result-size.`,
  );
}
