// Every image the cluster runs, made here and imported into containerd (nothing is pulled): the
// pause image from Kubernetes' own pause.c, a busybox, the Tekton and Argo images from the binaries
// built from their modules (laid out like their release images: ko's /ko-app/<name> and user
// 65532 for Tekton, /bin/<name> and user 8737 for Argo), the registry, and stand-ins for the
// buildkitd sidecar images laid out like moby/buildkit's (its entrypoint scripts from the BuildKit
// module, buildkit-runc) and its rootless variant (rootlesskit, newuidmap/newgidmap with file
// capabilities, user 1000). The bed's CA is in each image's trust store where the image talks to
// the in-cluster registry (buildkitd, Tekton's resolvers), the way an operator adds a private CA.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../helpers.js';
import { packImage, Rootfs, type ImageConfig } from './oci-pack.js';

export const pinned = (name: string): string => {
  const match = new RegExp(`^${name}=(\\S+)\\s*$`, 'm').exec(
    readFileSync(path.join(REPO, 'scripts', 'versions.env'), 'utf8'),
  );
  if (!match?.[1]) throw new Error(`scripts/versions.env has no ${name}`);
  return match[1];
};

export const IMAGES = {
  pause: 'registry.k8s.io/pause:3.10.1',
  busybox: 'bks.local/busybox:1',
  registry: 'bks.local/registry:1',
  tekton: (name: string, version: string) => `bks.local/tekton/${name}:${version}`,
  argoexec: `quay.io/argoproj/argoexec:${pinned('ARGO_VERSION')}`,
  workflowController: `quay.io/argoproj/workflow-controller:${pinned('ARGO_VERSION')}`,
  /** The names the shipped files use by default, so they run unmodified. */
  buildkit: `docker.io/moby/buildkit:${pinned('BUILDKIT_VERSION')}`,
  buildkitRootless: `docker.io/moby/buildkit:${pinned('BUILDKIT_VERSION')}-rootless`,
  step: 'ghcr.io/buildkit-step/buildkit-step:0.1.0',
};

export const TEKTON_COMPONENTS = [
  'controller',
  'webhook',
  'resolvers',
  'entrypoint',
  'nop',
  'workingdirinit',
  'sidecarlogresults',
];

const busyboxBin = (): string =>
  ['/bin/busybox', '/usr/bin/busybox'].find((file) => existsSync(file)) ?? '/bin/busybox';

/** Host CA bundle plus the bed CA: the trust store of images that reach the in-cluster registry. */
const trustStore = (ca: string): string =>
  `${readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8')}\n${readFileSync(ca, 'utf8')}`;

function base(dir: string, ca: string, users: string[] = []): Rootfs {
  return new Rootfs(dir)
    .mkdir('/tmp', 0o1777)
    .write(
      '/etc/passwd',
      ['root:x:0:0:root:/root:/bin/sh', ...users, 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin', ''].join(
        '\n',
      ),
    )
    .write(
      '/etc/group',
      [
        'root:x:0:',
        ...users.map((line) => {
          const [name, , uid] = line.split(':');
          return `${name}:x:${uid}:`;
        }),
        'nogroup:x:65534:',
        '',
      ].join('\n'),
    )
    .write('/etc/ssl/certs/ca-certificates.crt', trustStore(ca));
}

function withBusybox(root: Rootfs, dir = '/bin'): Rootfs {
  root.copy(busyboxBin(), `${dir}/busybox`, 0o755);
  const applets = execFileSync(busyboxBin(), ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) if (applet !== 'busybox') root.symlink('busybox', `${dir}/${applet}`);
  return root;
}

export type BuiltImage = { names: string[]; archive: string; layout: string };

/** Tekton's release images for `version`, ko-style: the binary at /ko-app/<name>, user 65532. */
export function buildTektonImages(clusterBin: string, ca: string, dir: string, version: string): BuiltImage[] {
  return TEKTON_COMPONENTS.map((name) => {
    const key = `tekton-${version}-${name}`;
    const root = base(path.join(dir, 'rootfs', key), ca, ['nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin'])
      .mkdir('/home/nonroot', 0o755, 65532, 65532)
      .mkdir('/var/run/ko', 0o755)
      .copy(path.join(clusterBin, `tekton-${version}`, name), `/ko-app/${name}`, 0o755);
    // The resolvers' release image is built on a tini base and its Deployment runs /sbin/tini.
    if (name === 'resolvers') root.copy('/usr/bin/tini-static', '/sbin/tini', 0o755);
    const archive = path.join(dir, `${key}.tar`);
    const layout = packImage(
      root,
      {
        Entrypoint: [`/ko-app/${name}`],
        User: '65532',
        Env: [
          'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/ko-app',
          'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
          'KO_DATA_PATH=/var/run/ko',
        ],
      },
      [IMAGES.tekton(name, version)],
      archive,
    );
    rmSync(root.dir, { recursive: true, force: true });
    return { names: [IMAGES.tekton(name, version)], archive, layout };
  });
}

export type ImageInputs = {
  clusterBin: string;
  /** buildkitd and buildctl (scripts/install-tools.sh). */
  toolsBin: string;
  ca: string;
  dir: string;
  tektonVersions: string[];
};

/** Builds every image archive under `dir`; returns them in import order. */
export function buildImages(inputs: ImageInputs): BuiltImage[] {
  const { clusterBin, toolsBin, ca, dir } = inputs;
  const out: BuiltImage[] = [];
  const make = (key: string, names: string[], root: Rootfs, config: ImageConfig) => {
    const archive = path.join(dir, `${key}.tar`);
    // The busybox layout is kept: it is also pushed to the in-cluster registry as the builds' base image.
    const layout = packImage(root, config, names, archive, key === 'busybox');
    rmSync(root.dir, { recursive: true, force: true });
    out.push({ names, archive, layout });
  };
  const stage = (key: string) => path.join(dir, 'rootfs', key);

  make('pause', [IMAGES.pause], new Rootfs(stage('pause')).copy(path.join(clusterBin, 'pause'), '/pause', 0o755), {
    Entrypoint: ['/pause'],
    User: '65535:65535',
  });
  make('busybox', [IMAGES.busybox], withBusybox(base(stage('busybox'), ca)), { Cmd: ['sh'], Env: ['PATH=/bin'] });

  for (const version of inputs.tektonVersions) out.push(...buildTektonImages(clusterBin, ca, dir, version));

  for (const [key, name, image] of [
    ['argoexec', 'argoexec', IMAGES.argoexec],
    ['workflow-controller', 'workflow-controller', IMAGES.workflowController],
  ] as const) {
    const root = base(stage(key), ca, ['argo:x:8737:8737:argo:/home/argo:/sbin/nologin']).copy(
      path.join(clusterBin, name),
      `/bin/${name}`,
      0o755,
    );
    make(key, [image], root, { Entrypoint: [name], User: '8737' });
  }

  const registry = base(stage('registry'), ca)
    .copyWithLibs('/usr/bin/docker-registry', '/usr/bin/docker-registry')
    .mkdir('/var/lib/registry');
  make('registry', [IMAGES.registry], registry, {
    Entrypoint: ['/usr/bin/docker-registry'],
    Cmd: ['serve', '/etc/docker/registry/config.yml'],
  });

  // moby/buildkit's `buildkit-linux` stage: binaries in /usr/bin, runc as buildkit-runc, its
  // entrypoint scripts, ENTRYPOINT buildkitd-entrypoint. Alpine's shell tools are busybox here.
  // `go mod download` rather than a path under GOMODCACHE: on a machine whose tools are cached but
  // whose module cache is empty, the module is not there until downloaded.
  const hack = path.join(moduleDir(`github.com/moby/buildkit@${pinned('BUILDKIT_VERSION')}`), 'hack');
  const buildkit = withBusybox(base(stage('buildkit'), ca))
    .copy(path.join(toolsBin, 'buildkitd'), '/usr/bin/buildkitd', 0o755)
    .copy(path.join(toolsBin, 'buildctl'), '/usr/bin/buildctl', 0o755)
    .copyWithLibs('/usr/sbin/runc', '/usr/bin/buildkit-runc')
    .copy(path.join(hack, 'buildkitd-entrypoint'), '/usr/bin/buildkitd-entrypoint', 0o755)
    .copy(path.join(hack, 'with-cgroupfs-remount'), '/usr/bin/with-cgroupfs-remount', 0o755)
    .symlink('/bin/busybox', '/usr/bin/unshare')
    .mkdir('/var/lib/buildkit');
  make('buildkit', [IMAGES.buildkit], buildkit, {
    Entrypoint: ['/usr/bin/buildkitd-entrypoint'],
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'BUILDKIT_SETUP_CGROUPV2_ROOT=1'],
  });

  // moby/buildkit's `rootless` stage: user 1000 with subordinate ids, rootlesskit, newuidmap and
  // newgidmap with file capabilities (Debian's uidmap instead of Alpine's shadow-uidmap).
  const rootless = withBusybox(base(stage('buildkit-rootless'), ca, ['user:x:1000:1000:user:/home/user:/bin/sh']))
    .copy(path.join(toolsBin, 'buildkitd'), '/usr/bin/buildkitd', 0o755)
    .copy(path.join(toolsBin, 'buildctl'), '/usr/bin/buildctl', 0o755)
    .copyWithLibs('/usr/sbin/runc', '/usr/bin/buildkit-runc')
    .copy(path.join(clusterBin, 'rootlesskit'), '/usr/bin/rootlesskit', 0o755)
    // Not setuid: file capabilities, as the rootless image needs them.
    .copyWithLibs('/usr/bin/newuidmap', '/usr/bin/newuidmap', 0o755)
    .copyWithLibs('/usr/bin/newgidmap', '/usr/bin/newgidmap', 0o755)
    .setcap('/usr/bin/newuidmap', 'cap_setuid=ep')
    .setcap('/usr/bin/newgidmap', 'cap_setgid=ep')
    .write('/etc/subuid', 'user:100000:65536\n')
    .write('/etc/subgid', 'user:100000:65536\n')
    .mkdir('/run/user/1000', 0o700, 1000, 1000)
    .mkdir('/home/user', 0o755, 1000, 1000)
    .mkdir('/home/user/.local', 0o755, 1000, 1000)
    .mkdir('/home/user/.local/tmp', 0o755, 1000, 1000)
    .mkdir('/home/user/.local/share', 0o755, 1000, 1000)
    .mkdir('/home/user/.local/share/buildkit', 0o755, 1000, 1000);
  make('buildkit-rootless', [IMAGES.buildkitRootless], rootless, {
    Entrypoint: ['rootlesskit', 'buildkitd'],
    User: '1000:1000',
    Env: [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/home/user',
      'USER=user',
      'XDG_RUNTIME_DIR=/run/user/1000',
      'TMPDIR=/home/user/.local/tmp',
      'BUILDKIT_HOST=unix:///run/user/1000/buildkit/buildkitd.sock',
    ],
  });
  return out;
}

/** The source directory of MODULE@VERSION in the Go module cache, downloading it when missing. */
function moduleDir(moduleAtVersion: string): string {
  const out = execFileSync('go', ['mod', 'download', '-json', moduleAtVersion], {
    encoding: 'utf8',
    cwd: os.tmpdir(),
  });
  const { Dir } = JSON.parse(out) as { Dir?: string };
  if (!Dir) throw new Error(`go mod download ${moduleAtVersion} gave no directory: ${out}`);
  return Dir;
}
