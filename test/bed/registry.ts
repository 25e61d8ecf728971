// A real OCI distribution registry on 127.0.0.1 with its own storage.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startDaemon, waitUntil, type Daemon } from './process.js';
import type { Tools } from './tools.js';

export type Registry = Daemon & { host: string };

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export type RegistryOptions = {
  dir: string;
  htpasswdFile?: string;
  /** Listen on this address and port instead of a free 127.0.0.1 port (e.g. inside a network namespace). */
  listen?: { address: string; port: number };
  /** A command the registry runs under, which must exec it (`ip netns exec NAME`). */
  wrap?: string[];
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { cert: string; key: string };
  /** Run as a pull-through cache (mirror) of this registry URL. */
  proxyRemoteUrl?: string;
  /** Default `warn`; `info` logs every request. */
  logLevel?: string;
};

export async function startRegistry(tools: Tools, options: RegistryOptions): Promise<Registry> {
  mkdirSync(options.dir, { recursive: true });
  const host = options.listen ? `${options.listen.address}:${options.listen.port}` : `127.0.0.1:${await freePort()}`;
  const auth = options.htpasswdFile ? `auth:\n  htpasswd:\n    realm: bed\n    path: ${options.htpasswdFile}\n` : '';
  const tls = options.tls ? `  tls:\n    certificate: ${options.tls.cert}\n    key: ${options.tls.key}\n` : '';
  const proxy = options.proxyRemoteUrl ? `proxy:\n  remoteurl: ${options.proxyRemoteUrl}\n` : '';
  const config = path.join(options.dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: ${options.logLevel ?? 'warn'}\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(options.dir, 'storage')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n  secret: bed-only\n${tls}${auth}${proxy}`,
  );
  const command = [...(options.wrap ?? []), tools.registry, 'serve', config];
  const daemon = startDaemon(
    `docker-registry ${host}`,
    command[0]!,
    command.slice(1),
    path.join(options.dir, 'registry.log'),
  );
  const [address = '', port = ''] = host.split(':');
  await waitUntil(daemon, async () => (options.tls ? listening(address, Number(port)) : answersV2(host)), 15_000);
  return { ...daemon, host };
}

async function answersV2(host: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${host}/v2/`);
    return response.status === 200 || response.status === 401;
  } catch {
    return false;
  }
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The digest a tag of a bed registry points at, read from its storage (works for HTTP, HTTPS and auth alike). */
export function storedTagDigest(registryDir: string, repo: string, tag: string): string | undefined {
  try {
    return readFileSync(
      path.join(
        registryDir,
        'storage',
        'docker',
        'registry',
        'v2',
        'repositories',
        repo,
        '_manifests',
        'tags',
        tag,
        'current',
        'link',
      ),
      'utf8',
    ).trim();
  } catch {
    return undefined;
  }
}
