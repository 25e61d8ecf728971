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

/** Bytes ERROR_MESSAGE may take inside Tekton's termination message (Go's JSON encoding, quotes left out). */
const MAX_MESSAGE_BYTES = 1000;

/** Results of a failed run: the stable code and a short message that fits any budget. */
export function failureResults(error: StepError): Results {
  return { ERROR_REASON: error.code, ERROR_MESSAGE: clipEncoded(error.message, MAX_MESSAGE_BYTES) };
}

/**
 * JSON as Go's encoding/json writes it, which is how Tekton writes results into the termination
 * message: like JSON.stringify, but `<`, `>`, `&`, U+2028 and U+2029 (which JSON can only hold
 * inside strings) are written as six-byte `\u` escapes; buildx errors are full of `&&` and `>`.
 */
export function goJsonString(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** `text`, cut at a code point so that its Go-encoded form (quotes left out) takes at most `maxBytes`, marked with `...`. */
export function clipEncoded(text: string, maxBytes: number): string {
  const size = (part: string) => Buffer.byteLength(goJsonString(part)) - 2;
  if (size(text) <= maxBytes) return text;
  let kept = '';
  let used = 0;
  for (const char of text) {
    const cost = size(char);
    if (used + cost > maxBytes - 3) break;
    kept += char;
    used += cost;
  }
  return `${kept}...`;
}

/**
 * Bytes the results take in a Tekton termination message: a JSON array of {key, value, type}
 * entries, including the StartedAt entry Tekton adds for the step itself.
 */
export function tektonSize(results: Results): number {
  const entries = Object.entries(results).map(([key, value]) => ({ key, value, type: 1 }));
  entries.push({ key: 'StartedAt', value: '2006-01-02T15:04:05.000Z', type: 3 });
  return Buffer.byteLength(goJsonString(entries));
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
