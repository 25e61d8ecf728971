// Packs Tekton resources into a Tekton bundle (an OCI image following Tekton's bundle contract:
// one gzipped tar layer per resource holding one file, each layer annotated with
// dev.tekton.image.{apiVersion,kind,name}), written as an OCI image layout directory.
//
//   node dist/scripts/tekton-bundle.js OUT_DIR FILE.yaml [FILE.yaml ...]
//   e.g. OUT_DIR tasks/tekton/task/*/0.1/*.yaml tasks/tekton/stepaction/*/0.1/*.yaml
//
// Publish the layout with any OCI tool, e.g.
//   skopeo copy oci:OUT_DIR docker://ghcr.io/buildkit-step/tasks/buildkit-build:0.1
//   oras cp --from-oci-layout OUT_DIR:latest ghcr.io/buildkit-step/tasks/buildkit-build:0.1
// and reference it from a TaskRun with the bundles resolver (see docs/workflow-files.md).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import YAML from 'yaml';

export type BundleEntry = { apiVersion: string; kind: string; name: string; yaml: string };

/** The Tekton resources of YAML documents (comments and other kinds are dropped). */
export function bundleEntries(documents: string[]): BundleEntry[] {
  const entries: BundleEntry[] = [];
  for (const text of documents) {
    for (const doc of YAML.parseAllDocuments(text)) {
      const object = doc.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null;
      if (!object?.apiVersion?.startsWith('tekton.dev/') || !object.kind || !object.metadata?.name) continue;
      entries.push({
        apiVersion: object.apiVersion.split('/')[1]!,
        kind: object.kind.toLowerCase(),
        name: object.metadata.name,
        yaml: YAML.stringify(object),
      });
    }
  }
  if (entries.length === 0) throw new Error('no Tekton resources in the input');
  if (entries.length > 10) throw new Error(`a Tekton bundle holds at most 10 resources, got ${entries.length}`);
  const seen = new Set<string>();
  for (const entry of entries) {
    const key = `${entry.kind}/${entry.name}`;
    if (seen.has(key)) throw new Error(`${key} is in the input twice`);
    seen.add(key);
  }
  return entries;
}

/** A ustar archive with one regular file (mode 0600, owner 0, mtime 0: the same input gives the same bytes). */
export function tarOneFile(name: string, content: Buffer): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`name too long for a tar header: ${name}`);
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (offset: number, length: number, value: number) =>
    field(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
  field(0, 100, name);
  octal(100, 8, 0o600);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, content.length);
  octal(136, 12, 0);
  header.fill(' ', 148, 156);
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

const digestOf = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Writes the bundle as an OCI image layout in `out` (replaced); returns the manifest digest. */
export function writeBundle(entries: BundleEntry[], out: string): string {
  rmSync(out, { recursive: true, force: true });
  const blobs = path.join(out, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer) => {
    const digest = digestOf(data);
    writeFileSync(path.join(blobs, digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const layers = entries.map((entry) => {
    const tar = tarOneFile(entry.name, Buffer.from(entry.yaml));
    return {
      diffId: digestOf(tar),
      descriptor: {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        ...put(gzipSync(tar, { level: 9 })),
        annotations: {
          'dev.tekton.image.apiVersion': entry.apiVersion,
          'dev.tekton.image.kind': entry.kind,
          'dev.tekton.image.name': entry.name,
        },
      },
    };
  });
  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: '',
        os: '',
        config: {},
        rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: layers.map((layer) => layer.descriptor),
      }),
    ),
  );
  writeFileSync(path.join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(out, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  );
  return manifest.digest;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const [out, ...files] = process.argv.slice(2);
  if (!out || files.length === 0) {
    process.stderr.write('usage: node dist/scripts/tekton-bundle.js OUT_DIR FILE.yaml [FILE.yaml ...]\n');
    process.exit(2);
  }
  try {
    const digest = writeBundle(bundleEntries(files.map((file) => readFileSync(file, 'utf8'))), out);
    process.stdout.write(`${digest}\n`);
  } catch (error) {
    process.stderr.write(`tekton-bundle: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
