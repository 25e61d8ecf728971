// Reads an OCI image layout the way a registry client would: index -> manifest -> layers.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

type Descriptor = {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
};
type Manifest = { mediaType?: string; manifests?: Descriptor[]; layers?: Descriptor[]; config?: Descriptor };

export const blobPath = (layout: string, digest: string): string => path.join(layout, 'blobs', ...digest.split(':'));

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** The layout's top-level descriptors (`index.json` manifests). */
export function layoutIndex(layout: string): Descriptor[] {
  return readJson<Manifest>(path.join(layout, 'index.json')).manifests ?? [];
}

/** The image manifests under a digest: itself, or each platform manifest of an index (attestations left out). */
export function imageManifests(layout: string, digest: string): Manifest[] {
  const manifest = readJson<Manifest>(blobPath(layout, digest));
  if (!manifest.manifests) return [manifest];
  return manifest.manifests
    .filter((entry) => entry.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest')
    .flatMap((entry) => imageManifests(layout, entry.digest));
}

/** A file's content from the topmost layer of `manifest` that holds it. */
export function readImageFile(layout: string, manifest: Manifest, file: string): string {
  const member = file.replace(/^\//, '');
  for (const layer of [...(manifest.layers ?? [])].reverse()) {
    const listing = execFileSync('tar', ['-tzf', blobPath(layout, layer.digest)], { encoding: 'utf8' }).split('\n');
    const name = listing.find((entry) => entry.replace(/^\.\//, '') === member);
    if (name) return execFileSync('tar', ['-xzOf', blobPath(layout, layer.digest), name], { encoding: 'utf8' });
  }
  throw new Error(`${file} is in no layer of the image`);
}
