// Reads the few fields the step needs from buildx's --metadata-file JSON. Pure.
import { StepError } from '../errors.js';

/** The fields of buildx metadata the step relies on; all optional in buildx itself. */
export type BuildMetadata = {
  digest: string;
  configDigest?: string;
  imageName?: string;
  buildRef?: string;
};

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function parseMetadata(text: string): BuildMetadata {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StepError('METADATA_INVALID', `buildx metadata is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const record = (json ?? {}) as Record<string, unknown>;
  const digest = record['containerimage.digest'];
  if (typeof digest !== 'string' || !DIGEST.test(digest)) {
    throw new StepError(
      'METADATA_INVALID',
      `buildx metadata has no valid containerimage.digest (got ${JSON.stringify(digest) ?? 'nothing'})`,
    );
  }
  const optional = (key: string) => (typeof record[key] === 'string' ? record[key] : undefined);
  return {
    digest,
    configDigest: optional('containerimage.config.digest'),
    imageName: optional('image.name'),
    buildRef: optional('buildx.build.ref'),
  };
}
