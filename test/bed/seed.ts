// Pushes a tiny busybox base image into the bed registry so Dockerfiles with RUN work offline.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Tools } from './tools.js';

/** Builds `FROM scratch` + busybox with one symlink per applet, pushes it, returns its reference. */
export function seedBusybox(tools: Tools, endpoint: string, registryHost: string, dir: string): string {
  const ref = `${registryHost}/bed/busybox:latest`;
  const rootfs = path.join(dir, 'rootfs');
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  mkdirSync(path.join(rootfs, 'tmp'), { recursive: true });
  copyFileSync(tools.busybox, path.join(rootfs, 'bin', 'busybox'));
  const applets = execFileSync(tools.busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) if (applet !== 'busybox') symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\n');
  return pushContext(tools, endpoint, dir, ref);
}

/** Builds `dir` (holding a Dockerfile) with buildctl, independent of the step under test, and pushes it as `ref`. */
export function pushContext(tools: Tools, endpoint: string, dir: string, ref: string): string {
  execFileSync(tools.buildctl, buildctlPushArgs(endpoint, dir, ref), { stdio: ['ignore', 'pipe', 'pipe'] });
  return ref;
}

/** buildctl's argv for building `dir` with the built-in Dockerfile frontend and pushing it as `ref`. */
export function buildctlPushArgs(endpoint: string, dir: string, ref: string): string[] {
  return [
    '--addr',
    endpoint,
    'build',
    '--frontend',
    'dockerfile.v0',
    '--local',
    `context=${dir}`,
    '--local',
    `dockerfile=${dir}`,
    '--output',
    `type=image,name=${ref},push=true`,
  ];
}
