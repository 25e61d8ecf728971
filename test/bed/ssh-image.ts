// A base image with busybox and the host's ssh-add, and throw-away SSH keys, for RUN --mount=type=ssh tests.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureCommand } from './apt.js';
import { pushContext } from './seed.js';
import type { Tools } from './tools.js';

export type SshKey = { privateKeyPath: string; publicKeyPath: string; fingerprint: string };

/** Returns the path of `command`, apt-installing openssh-client when it is missing. */
export const ensureOpensshClient = (command: 'ssh-add' | 'ssh-keygen' = 'ssh-add'): string =>
  ensureCommand(command, 'openssh-client');

/** A new unencrypted ed25519 key at `<dir>/<name>`, with its `SHA256:...` fingerprint. */
export function makeSshKey(dir: string, name: string): SshKey {
  const keygen = ensureOpensshClient('ssh-keygen');
  mkdirSync(dir, { recursive: true });
  const privateKeyPath = path.join(dir, name);
  rmSync(privateKeyPath, { force: true });
  rmSync(`${privateKeyPath}.pub`, { force: true });
  execFileSync(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', `bed-${name}`, '-f', privateKeyPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // "256 SHA256:abc... comment (ED25519)"
  const listing = execFileSync(keygen, ['-lf', privateKeyPath], { encoding: 'utf8' });
  const fingerprint = listing.split(/\s+/).find((field) => field.startsWith('SHA256:'));
  if (!fingerprint) throw new Error(`test bed: no SHA256 fingerprint in ssh-keygen -lf output: ${listing}`);
  return { privateKeyPath, publicKeyPath: `${privateKeyPath}.pub`, fingerprint };
}

/** The absolute paths of the shared libraries (and the loader) that `ldd` lists for `binary`. */
export function sharedLibraries(binary: string): string[] {
  const output = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = new Set<string>();
  for (const line of output.split('\n')) {
    const match = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match?.[1]) libs.add(match[1]);
  }
  return [...libs];
}

/** Builds `FROM scratch` + busybox + ssh-add and its libraries, pushes it to the bed registry, returns its reference. */
export function seedSshImage(tools: Tools, endpoint: string, registryHost: string, dir: string): string {
  const sshAdd = ensureOpensshClient('ssh-add');
  const ref = `${registryHost}/bed/ssh-add:latest`;
  const rootfs = path.join(dir, 'rootfs');
  rmSync(rootfs, { recursive: true, force: true });
  for (const sub of ['bin', 'usr/bin', 'tmp', 'etc', 'root']) mkdirSync(path.join(rootfs, sub), { recursive: true });
  copyFileSync(tools.busybox, path.join(rootfs, 'bin', 'busybox'));
  const applets = execFileSync(tools.busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) if (applet !== 'busybox') symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  copyFileSync(sshAdd, path.join(rootfs, 'usr', 'bin', 'ssh-add'));
  const libDirs = new Set<string>();
  for (const lib of sharedLibraries(sshAdd)) {
    const target = path.join(rootfs, lib);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(lib, target); // follows symlinks: the image gets the real file under the name the loader asks for
    libDirs.add(path.dirname(lib));
  }
  // ssh-add looks up the current user; glibc's built-in files NSS reads these.
  writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\n');
  writeFileSync(path.join(rootfs, 'etc', 'nsswitch.conf'), 'passwd: files\ngroup: files\n');
  writeFileSync(
    path.join(dir, 'Dockerfile'),
    `FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin:/usr/bin\nENV LD_LIBRARY_PATH=${[...libDirs].join(':')}\n`,
  );
  return pushContext(tools, endpoint, dir, ref);
}
