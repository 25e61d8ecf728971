// Packs a root filesystem staged in a directory into a one-layer OCI image archive that
// `ctr images import` takes: owners, modes and file capabilities (security.capability xattrs) are
// kept, the image is registered under every name given. No registry, no daemon.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

export type ImageConfig = {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
};

/** A root filesystem being staged: helpers that put files into it with owner and mode. */
export class Rootfs {
  constructor(readonly dir: string) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }

  private at(file: string): string {
    return path.join(this.dir, file.replace(/^\//, ''));
  }

  mkdir(dir: string, mode = 0o755, uid = 0, gid = 0): this {
    const target = this.at(dir);
    mkdirSync(target, { recursive: true });
    chmodSync(target, mode);
    chownSync(target, uid, gid);
    return this;
  }

  /** Copies a host file (following symlinks) to `dest`. */
  copy(from: string, dest: string, mode?: number, uid = 0, gid = 0): this {
    const target = this.at(dest);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(from, target);
    chmodSync(target, mode ?? statSync(from).mode & 0o7777);
    chownSync(target, uid, gid);
    return this;
  }

  write(dest: string, content: string | Buffer, mode = 0o644, uid = 0, gid = 0): this {
    const target = this.at(dest);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, content);
    chmodSync(target, mode);
    chownSync(target, uid, gid);
    return this;
  }

  symlink(linkTarget: string, dest: string): this {
    const target = this.at(dest);
    mkdirSync(path.dirname(target), { recursive: true });
    symlinkSync(linkTarget, target);
    return this;
  }

  /** Copies a dynamically linked host binary and the shared libraries `ldd` lists, at their host paths. */
  copyWithLibs(from: string, dest: string, mode?: number): this {
    this.copy(from, dest, mode);
    const ldd = execFileSync('ldd', [from], { encoding: 'utf8' });
    for (const match of ldd.matchAll(/(\/\S+\.so[^\s]*)/g)) this.copy(match[1]!, match[1]!, 0o755);
    return this;
  }

  /** Gives `dest` file capabilities, e.g. `cap_setuid+ep` (kept in the layer as an xattr). */
  setcap(dest: string, caps: string): this {
    execFileSync('setcap', [caps, this.at(dest)]);
    return this;
  }
}

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/**
 * Writes `<archive>`: an OCI image layout tar with one uncompressed layer made from `rootfs`,
 * registered under each of `names` (full references, e.g. `docker.io/moby/buildkit:v0.34.2`).
 */
export function packImage(
  rootfs: Rootfs,
  config: ImageConfig,
  names: readonly string[],
  archive: string,
  keepLayout = false,
): string {
  const layout = `${archive}.layout`;
  rmSync(layout, { recursive: true, force: true });
  const blobs = path.join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer): { digest: string; size: number } => {
    const digest = sha256(data);
    writeFileSync(path.join(blobs, digest.slice('sha256:'.length)), data);
    return { digest, size: data.length };
  };
  const layerTar = path.join(layout, 'layer.tar');
  execFileSync('tar', [
    '--numeric-owner',
    '--xattrs',
    '--xattrs-include=security.capability',
    '-C',
    rootfs.dir,
    '-cf',
    layerTar,
    '.',
  ]);
  const layer = put(readFileSync(layerTar));
  rmSync(layerTar);
  const imageConfig = put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { ...config, Env: config.Env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
        history: [{ created_by: 'buildkit-step cluster test bed (test/cluster/oci-pack.ts)' }],
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...imageConfig },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: names.map((name) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...manifest,
        annotations: {
          'io.containerd.image.name': name,
          'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1),
        },
      })),
    }),
  );
  execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
  if (!keepLayout) rmSync(layout, { recursive: true, force: true });
  return layout;
}
