// What the step leaves for later steps: result names and values. Pure.
import type { BuildConfig } from './config.js';
import type { BuildMetadata } from './buildx/metadata.js';
import type { StepError } from './errors.js';

export type Results = Record<string, string>;

/** Results of a successful build. */
export function successResults(config: BuildConfig, metadata: BuildMetadata): Results {
  return {
    IMAGE_DIGEST: metadata.digest,
    IMAGE_URL: config.refs[0] ?? config.image,
  };
}

/** Results of a failed run: the stable code and a short message. */
export function failureResults(error: StepError): Results {
  return {
    ERROR_REASON: error.code,
    ERROR_MESSAGE: error.message.length > 1000 ? `${error.message.slice(0, 997)}...` : error.message,
  };
}
