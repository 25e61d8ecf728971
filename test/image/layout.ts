// What a container runtime does with an image in an OCI layout: read its config, unpack its
// layers in order into one root filesystem (applying whiteouts), and what a registry would store.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { blobPath, readJson } from '../bed/oci.js';

type Descriptor = { mediaType: string; digest: string; size: number };
export type ImageManifest = { config: Descriptor; layers: Descriptor[] };
export type ImageConfig = {
  architecture: string;
  os: string;
  config: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    Labels?: Record<string, string>;
  };
};

export function readManifest(layout: string, digest: string): ImageManifest {
  return readJson<ImageManifest>(blobPath(layout, digest));
}

export function readConfig(layout: string, manifest: ImageManifest): ImageConfig {
  return readJson<ImageConfig>(blobPath(layout, manifest.config.digest));
}

/** Bytes a registry stores and a node pulls for the image: its compressed layers (and the config). */
export function imageSize(manifest: ImageManifest): { layers: number; config: number; count: number } {
  return {
    layers: manifest.layers.reduce((sum, layer) => sum + layer.size, 0),
    config: manifest.config.size,
    count: manifest.layers.length,
  };
}

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function decompressFlag(mediaType: string): string[] {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.gzip')) return ['-z'];
  if (mediaType.endsWith('+zstd') || mediaType.endsWith('.zstd')) return ['--zstd'];
  if (mediaType.endsWith('.tar') || mediaType.endsWith('rootfs.diff.tar')) return [];
  throw new Error(`unsupported layer media type ${mediaType}`);
}

/** Unpacks every layer in order, as root keeping numeric owners and modes; `.wh.` entries delete what lower layers put there. */
export function unpackImage(layout: string, manifest: ImageManifest, rootfs: string): void {
  mkdirSync(rootfs, { recursive: true });
  for (const layer of manifest.layers) {
    const blob = blobPath(layout, layer.digest);
    const flag = decompressFlag(layer.mediaType);
    const entries = execFileSync('tar', [...flag, '-tf', blob], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
      .split('\n')
      .filter(Boolean);
    for (const entry of entries) {
      const clean = path.posix.normalize(entry.replace(/^\.?\//, ''));
      if (clean.split('/').includes('..'))
        throw new Error(`layer ${layer.digest} has an entry outside the root: ${entry}`);
      const base = path.posix.basename(clean);
      if (!base.startsWith('.wh.')) continue;
      const dir = path.join(rootfs, path.posix.dirname(clean));
      if (base === '.wh..wh..opq') {
        // Opaque directory: nothing from lower layers stays in it.
        for (const child of safeList(dir)) rmSync(path.join(dir, child), { recursive: true, force: true });
      } else {
        rmSync(path.join(dir, base.slice('.wh.'.length)), { recursive: true, force: true });
      }
    }
    execFileSync(
      'tar',
      [...flag, '-xf', blob, '-C', rootfs, '--numeric-owner', '--same-permissions', '--same-owner', '--exclude=.wh.*'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** `uid[:gid]` of an image's User, names resolved from the unpacked /etc/passwd and /etc/group. */
export function resolveUser(user: string | undefined, rootfs: string): { uid: number; gid: number } {
  if (!user) return { uid: 0, gid: 0 };
  const [u = '', g] = user.split(':');
  const passwd = readLines(path.join(rootfs, 'etc', 'passwd'));
  const entry = passwd.find((fields) => fields[0] === u || fields[2] === u);
  const uid = /^\d+$/.test(u) ? Number(u) : Number(entry?.[2] ?? NaN);
  if (Number.isNaN(uid)) throw new Error(`image user ${u} is not in the image's /etc/passwd`);
  if (g === undefined) return { uid, gid: Number(entry?.[3] ?? 0) };
  if (/^\d+$/.test(g)) return { uid, gid: Number(g) };
  const group = readLines(path.join(rootfs, 'etc', 'group')).find((fields) => fields[0] === g);
  if (!group) throw new Error(`image group ${g} is not in the image's /etc/group`);
  return { uid, gid: Number(group[2]) };
}

function readLines(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(':'));
  } catch {
    return [];
  }
}
