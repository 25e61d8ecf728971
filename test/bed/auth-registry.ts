// A bed registry behind htpasswd basic auth, plus docker config dirs holding its credentials.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureCommand } from './apt.js';
import { startRegistry, type Registry, type RegistryOptions } from './registry.js';
import type { Tools } from './tools.js';

export type AuthRegistry = {
  registry: Registry;
  /** `127.0.0.1:PORT`. */
  host: string;
  user: string;
  password: string;
  /** A DOCKER_CONFIG dir: `<dir>/config.json` with the credentials. */
  dockerConfigDir: string;
  /** The same JSON as a kubernetes.io/dockerconfigjson Secret mounts it: `<dir>/.dockerconfigjson`. */
  dockerconfigjsonDir: string;
  stop: () => Promise<void>;
};

/** Returns the path of `htpasswd`, apt-installing apache2-utils when it is missing. */
export const ensureHtpasswdTool = (): string => ensureCommand('htpasswd', 'apache2-utils');

/** One bcrypt htpasswd line (`user:$2y$...`), the only hash the registry accepts. */
export function bcryptHtpasswdLine(user: string, password: string): string {
  return execFileSync(ensureHtpasswdTool(), ['-Bbn', user, password], { encoding: 'utf8' }).trim();
}

/** The docker config JSON `{"auths":{host:{"auth":base64(user:password)}}}`. */
export function dockerConfigJson(host: string, user: string, password: string): string {
  return `${JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } })}\n`;
}

/** Starts a registry under `dir` that requires `user`/`password`, and writes both docker config layouts for it. */
export async function startAuthRegistry(
  tools: Tools,
  dir: string,
  user: string,
  password: string,
  where: Pick<RegistryOptions, 'listen' | 'wrap'> = {},
): Promise<AuthRegistry> {
  mkdirSync(dir, { recursive: true });
  const htpasswdFile = path.join(dir, 'htpasswd');
  writeFileSync(htpasswdFile, `${bcryptHtpasswdLine(user, password)}\n`);
  const registry = await startRegistry(tools, { dir: path.join(dir, 'registry'), htpasswdFile, ...where });
  const json = dockerConfigJson(registry.host, user, password);
  const dockerConfigDir = path.join(dir, 'docker-config');
  const dockerconfigjsonDir = path.join(dir, 'dockerconfigjson-secret');
  mkdirSync(dockerConfigDir, { recursive: true });
  mkdirSync(dockerconfigjsonDir, { recursive: true });
  writeFileSync(path.join(dockerConfigDir, 'config.json'), json);
  writeFileSync(path.join(dockerconfigjsonDir, '.dockerconfigjson'), json);
  return {
    registry,
    host: registry.host,
    user,
    password,
    dockerConfigDir,
    dockerconfigjsonDir,
    stop: () => registry.stop(),
  };
}
