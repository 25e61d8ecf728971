// Asks a bed registry what a tag points at, the way a registry client sees it after a push.
const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** The Docker-Content-Digest of `host/repo:tag`, or undefined when the registry has no such tag. */
export async function manifestDigest(
  host: string,
  repo: string,
  tag: string,
  auth?: { user: string; password: string },
): Promise<string | undefined> {
  const headers: Record<string, string> = { Accept: ACCEPT };
  if (auth) headers.Authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  const response = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`HEAD ${host}/${repo}:${tag}: ${response.status}`);
  return response.headers.get('docker-content-digest') ?? undefined;
}

/** The manifest JSON of `host/repo:ref`. */
export async function manifest<T = Record<string, unknown>>(host: string, repo: string, ref: string): Promise<T> {
  const response = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } });
  if (!response.ok) throw new Error(`GET ${host}/${repo}:${ref}: ${response.status}`);
  return (await response.json()) as T;
}

/**
 * Everything a bed registry holds, as a client sees it: every repository, its tags, and the
 * digest each tag points at (`repo:tag -> digest`). For proving that a build wrote nothing.
 */
export async function registryContents(host: string): Promise<Record<string, string>> {
  const get = async <T>(url: string): Promise<T> => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  // distribution serves at most 1000 entries a page by default.
  const catalog = await get<{ repositories?: string[] }>(`http://${host}/v2/_catalog?n=1000`);
  const contents: Record<string, string> = {};
  for (const repo of catalog.repositories ?? []) {
    const tags = await get<{ tags?: string[] | null }>(`http://${host}/v2/${repo}/tags/list?n=1000`);
    for (const tag of tags.tags ?? [])
      contents[`${repo}:${tag}`] = (await manifestDigest(host, repo, tag)) ?? 'missing';
  }
  return contents;
}
