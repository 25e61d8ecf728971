// Runs an unpacked image the way a kubelet runs a Tekton step container: the image's
// entrypoint, env and user; the step's env; volumes bind-mounted; a fresh writable /tmp; an own
// network namespace with nothing in it (the step reaches the daemon by its socket only).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { probeDaemon } from '../../src/daemon/probe.js';
import type { Buildkitd } from '../bed/buildkitd.js';
import { startDaemon, waitUntil } from '../bed/process.js';
import type { Tools } from '../bed/tools.js';
import { exec } from './exec.js';
import type { ImageConfig } from './layout.js';

export type Mount = { destination: string; source: string; readonly?: boolean };

export type BundleOptions = {
  bundle: string;
  rootfs: string;
  image: ImageConfig;
  user: { uid: number; gid: number };
  env: Record<string, string>;
  mounts: Mount[];
  /** The command to run instead of the image's entrypoint and cmd (looked up on the image's PATH). */
  args?: string[];
};

/** The parts of runc's config.json (an OCI runtime spec) that writeBundle edits; the rest is kept as runc wrote it. */
type RuntimeSpec = {
  root: { path: string; readonly: boolean };
  hostname: string;
  process: { terminal: boolean; args: string[]; env: string[]; cwd: string; user: { uid: number; gid: number } };
  mounts: { destination: string; type: string; source: string; options: string[] }[];
};

/** `runc spec`, then edited into the container a Tekton step would get. */
export function writeBundle(runc: string, options: BundleOptions): void {
  mkdirSync(options.bundle, { recursive: true });
  const file = path.join(options.bundle, 'config.json');
  rmSync(file, { force: true }); // runc spec refuses to overwrite
  execFileSync(runc, ['spec', '--bundle', options.bundle]);
  const spec = JSON.parse(readFileSync(file, 'utf8')) as RuntimeSpec;
  const { Entrypoint = [], Cmd = [], Env = [], WorkingDir } = options.image.config;
  spec.root = { path: path.relative(options.bundle, options.rootfs) || options.rootfs, readonly: false };
  spec.hostname = 'step';
  spec.process.terminal = false;
  spec.process.args = options.args ?? [...Entrypoint, ...Cmd];
  spec.process.env = [...Env, ...Object.entries(options.env).map(([key, value]) => `${key}=${value}`)];
  spec.process.cwd = WorkingDir || '/';
  spec.process.user = { uid: options.user.uid, gid: options.user.gid };
  spec.mounts.push(
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=256m'] },
    ...options.mounts.map((mount) => ({
      destination: mount.destination,
      type: 'bind',
      source: mount.source,
      options: ['rbind', mount.readonly ? 'ro' : 'rw'],
    })),
  );
  // runc spec already gives the container its own (empty) network namespace: keep it.
  writeFileSync(file, JSON.stringify(spec, null, 2));
}

/** `runc run` to completion (killed after `timeoutMs`); the container's output goes to `logFile`. */
export async function runBundle(
  runc: string,
  stateRoot: string,
  bundle: string,
  id: string,
  logFile: string,
  timeoutMs: number,
): Promise<number | null> {
  mkdirSync(stateRoot, { recursive: true });
  try {
    const { exitCode } = await exec(runc, ['--root', stateRoot, 'run', '--bundle', bundle, id], {
      logFile,
      timeoutMs,
      onTimeout: () => execFileSync(runc, ['--root', stateRoot, 'kill', id, 'KILL'], { stdio: 'ignore' }),
    });
    return exitCode;
  } finally {
    try {
      execFileSync(runc, ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/**
 * A buildkitd whose socket is alone in `socketDir` (the volume the step mounts at /run/buildkit),
 * started with `--group <gid>` so the socket is root:<gid> 0660, as the Task's sidecar is told to.
 */
export async function startSocketBuildkitd(
  tools: Tools,
  socketDir: string,
  stateDir: string,
  gid: number,
  snapshotter: string,
): Promise<Buildkitd> {
  mkdirSync(socketDir, { recursive: true, mode: 0o755 });
  mkdirSync(stateDir, { recursive: true });
  const endpoint = `unix://${path.join(socketDir, 'buildkitd.sock')}`;
  const daemon = startDaemon(
    'buildkitd (step socket)',
    tools.buildkitd,
    [
      '--addr',
      endpoint,
      '--group',
      String(gid),
      '--root',
      path.join(stateDir, 'state'),
      '--oci-worker=true',
      `--oci-worker-snapshotter=${snapshotter}`,
      '--oci-worker-binary',
      tools.runc,
      '--containerd-worker=false',
    ],
    path.join(stateDir, 'buildkitd.log'),
  );
  try {
    await waitUntil(daemon, async () => (await probeDaemon(endpoint, undefined, 2000)).ok, 30_000);
  } catch (error) {
    await daemon.stop();
    throw error;
  }
  return { ...daemon, endpoint, snapshotter };
}
