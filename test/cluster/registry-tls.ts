// A minimal OCI distribution client over HTTPS with the bed CA: reads manifests the way the
// assertions need, and pushes an OCI image layout (the in-cluster registry's seed images).
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';

export type RegistryResponse = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };

export function registryRequest(
  ca: string,
  host: string,
  method: string,
  pathname: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<RegistryResponse> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        hostname,
        port: Number(port ?? 443),
        method,
        path: pathname,
        headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        ca: readFileSync(ca),
        timeout: 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} https://${host}${pathname}: timed out`)));
    request.on('error', reject);
    request.end(body);
  });
}

export const registryGet = (ca: string, host: string, pathname: string, accept?: string): Promise<RegistryResponse> =>
  registryRequest(ca, host, 'GET', pathname, accept ? { accept } : {});

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** The digest the registry serves for `repository:reference` (Docker-Content-Digest), or undefined when absent. */
export async function registryDigest(
  ca: string,
  host: string,
  repository: string,
  reference: string,
): Promise<string | undefined> {
  const response = await registryRequest(ca, host, 'HEAD', `/v2/${repository}/manifests/${reference}`, {
    accept: MANIFEST_TYPES,
  });
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`HEAD ${repository}:${reference} on ${host}: HTTP ${response.status}`);
  return String(response.headers['docker-content-digest']);
}

export async function registryManifest(
  ca: string,
  host: string,
  repository: string,
  reference: string,
): Promise<{ mediaType?: string; layers?: { digest: string; annotations?: Record<string, string> }[] }> {
  const response = await registryGet(ca, host, `/v2/${repository}/manifests/${reference}`, MANIFEST_TYPES);
  if (response.status !== 200)
    throw new Error(
      `GET ${repository}:${reference} on ${host}: HTTP ${response.status} ${response.body.toString().slice(0, 200)}`,
    );
  return JSON.parse(response.body.toString()) as never;
}

/** Pushes every blob of an OCI layout dir and its first manifest as `repository:tag`; returns the manifest digest. */
export async function pushLayout(
  ca: string,
  host: string,
  layout: string,
  repository: string,
  tag: string,
): Promise<string> {
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; mediaType: string }[];
  };
  const top = index.manifests[0]!;
  const blob = (digest: string) => readFileSync(path.join(layout, 'blobs', ...digest.split(':')));
  const manifest = JSON.parse(blob(top.digest).toString()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  for (const digest of [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)]) {
    const head = await registryRequest(ca, host, 'HEAD', `/v2/${repository}/blobs/${digest}`);
    if (head.status === 200) continue;
    const start = await registryRequest(ca, host, 'POST', `/v2/${repository}/blobs/uploads/`);
    if (start.status !== 202) throw new Error(`upload start for ${repository}: HTTP ${start.status}`);
    const location = String(start.headers.location);
    const url = new URL(location, `https://${host}`);
    url.searchParams.set('digest', digest);
    const put = await registryRequest(
      ca,
      host,
      'PUT',
      `${url.pathname}${url.search}`,
      { 'content-type': 'application/octet-stream' },
      blob(digest),
    );
    if (put.status !== 201)
      throw new Error(`blob ${digest} to ${repository}: HTTP ${put.status} ${put.body.toString().slice(0, 200)}`);
  }
  const put = await registryRequest(
    ca,
    host,
    'PUT',
    `/v2/${repository}/manifests/${tag}`,
    { 'content-type': top.mediaType },
    blob(top.digest),
  );
  if (put.status !== 201)
    throw new Error(`manifest ${repository}:${tag}: HTTP ${put.status} ${put.body.toString().slice(0, 200)}`);
  return top.digest;
}
