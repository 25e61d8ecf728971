// A real buildkitd on a unix socket (or TLS on loopback TCP) with its own state dir.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { probeDaemon, type TlsMaterial } from '../../src/daemon/probe.js';
import { startDaemon, waitUntil, type Daemon } from './process.js';
import type { Tools } from './tools.js';

export type Buildkitd = Daemon & { endpoint: string; snapshotter: string };

export type BuildkitdOptions = {
  /** Directory for the socket, state and log; created if missing. */
  dir: string;
  /** `tcp://127.0.0.1:PORT` to listen on TCP instead of a unix socket. */
  tcpAddress?: string;
  /** Server TLS files for a TCP listener, and the client material to probe it with. */
  tls?: { serverCa: string; serverCert: string; serverKey: string; client: TlsMaterial };
  /** Don't wait for the daemon to answer (for tests that start the step first). */
  noWait?: boolean;
  /**
   * A command buildkitd runs under, which must exec it (so the PID is buildkitd's), e.g.
   * `unshare --mount --propagation private`: the mounts of a daemon that gets killed die with it.
   */
  wrap?: string[];
  /** A buildkitd.toml for `--config` (registry settings are read from it at start only). */
  config?: string;
  /** Extra environment for the daemon (e.g. BUILDKIT_STEP_LOG_MAX_SIZE), on top of ours. */
  env?: NodeJS.ProcessEnv;
  /** Extra buildkitd flags, e.g. `--oci-worker-platform linux/arm64` or `--allow-insecure-entitlement network.host`. */
  args?: string[];
};

/** Starts buildkitd with the overlayfs snapshotter, falling back to native where overlayfs won't mount. */
export async function startBuildkitd(tools: Tools, options: BuildkitdOptions): Promise<Buildkitd> {
  mkdirSync(options.dir, { recursive: true });
  const endpoint = options.tcpAddress ?? `unix://${path.join(options.dir, 'buildkitd.sock')}`;
  const failures: string[] = [];
  for (const snapshotter of ['overlayfs', 'native']) {
    const args = [
      '--addr',
      endpoint,
      '--root',
      path.join(options.dir, `state-${snapshotter}`),
      '--oci-worker=true',
      `--oci-worker-snapshotter=${snapshotter}`,
      '--oci-worker-binary',
      tools.runc,
      '--containerd-worker=false',
      ...(options.config ? ['--config', options.config] : []),
      ...(options.args ?? []),
      ...(options.tls
        ? ['--tlscacert', options.tls.serverCa, '--tlscert', options.tls.serverCert, '--tlskey', options.tls.serverKey]
        : []),
      ...(options.args ?? []),
    ];
    const command = [...(options.wrap ?? []), tools.buildkitd, ...args];
    const daemon = startDaemon(
      `buildkitd (${snapshotter})`,
      command[0]!,
      command.slice(1),
      path.join(options.dir, `buildkitd-${snapshotter}.log`),
      options.env && { ...process.env, ...options.env },
    );
    const bed = { ...daemon, endpoint, snapshotter };
    if (options.noWait) return bed;
    try {
      await waitUntil(daemon, async () => (await probeDaemon(endpoint, options.tls?.client, 2000)).ok, 30_000);
      return bed;
    } catch (error) {
      failures.push((error as Error).message);
      await daemon.stop();
    }
  }
  throw new Error(`test bed: buildkitd did not start:\n${failures.join('\n---\n')}`);
}
