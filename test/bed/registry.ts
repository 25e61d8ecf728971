// A real OCI distribution registry on 127.0.0.1 with its own storage.
import { mkdirSync, writeFileSync } from 'node:fs';
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

export type RegistryOptions = { dir: string; htpasswdFile?: string };

export async function startRegistry(tools: Tools, options: RegistryOptions): Promise<Registry> {
  mkdirSync(options.dir, { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const auth = options.htpasswdFile ? `auth:\n  htpasswd:\n    realm: bed\n    path: ${options.htpasswdFile}\n` : '';
  const config = path.join(options.dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(options.dir, 'storage')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n  secret: bed-only\n${auth}`,
  );
  const daemon = startDaemon('docker-registry', tools.registry, ['serve', config], path.join(options.dir, 'registry.log'));
  await waitUntil(
    daemon,
    async () => {
      try {
        const response = await fetch(`http://${host}/v2/`);
        return response.status === 200 || response.status === 401;
      } catch {
        return false;
      }
    },
    15_000,
  );
  return { ...daemon, host };
}
