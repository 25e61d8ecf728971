// What a cluster changes on the host outside its state dir, recorded before it starts and undone
// after it stops: mounts, kubepods cgroups (every v1 hierarchy and the unified one), the bridge,
// iptables chains of kubelet and kube-proxy and the bed's own, sysctls kubelet rewrites, and the
// hard-coded dirs containerd and CNI use. Everything here is synchronous, so it also runs from a
// signal handler or an exit hook.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ISOLATION_CHAIN, type Net } from './net.js';

/** Host sysctls kubelet and kube-proxy are known to write. */
const SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/ipv4/conf/all/route_localnet',
  'net/ipv4/ip_forward',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'net/netfilter/nf_conntrack_max',
  'net/netfilter/nf_conntrack_tcp_timeout_established',
  'net/netfilter/nf_conntrack_tcp_timeout_close_wait',
  'net/netfilter/nf_conntrack_tcp_be_liberal',
];

/** Dirs with hard-coded paths that containerd, CNI and kubelet use whatever they are told. */
/** In /run/netns only the CRI's `cni-*` entries are ours (other programs may add their own meanwhile). */
const ours = (dir: string, entry: string): boolean => dir !== '/run/netns' || entry.startsWith('cni-');

const HARD_CODED_DIRS = [
  '/var/lib/cni',
  '/run/containerd',
  '/run/netns',
  '/var/lib/kubelet',
  '/var/log/pods',
  '/var/log/containers',
  '/etc/cni',
  '/opt/cni',
];

export type HostBaseline = {
  sysctls: Record<string, string>;
  /** Entries of each hard-coded dir that existed before (null: the dir did not exist). */
  dirs: Record<string, string[] | null>;
  mounts: Set<string>;
};

const readSysctl = (name: string): string | undefined => {
  try {
    return readFileSync(path.join('/proc/sys', name), 'utf8').trim();
  } catch {
    return undefined;
  }
};

const mountPoints = (): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4]!.replace(/\\040/g, ' '));

/** Links enslaved to the bridge (the host ends of the pods' veth pairs). */
const bridgePorts = (net: Net): string[] =>
  quiet('ip', ['-o', 'link', 'show', 'master', net.bridge])
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1])
    .filter((name): name is string => Boolean(name));

const linkNames = (): string[] =>
  execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1])
    .filter((name): name is string => Boolean(name));

export function recordBaseline(): HostBaseline {
  const sysctls: Record<string, string> = {};
  for (const name of SYSCTLS) {
    const value = readSysctl(name);
    if (value !== undefined) sysctls[name] = value;
  }
  const dirs: Record<string, string[] | null> = {};
  for (const dir of HARD_CODED_DIRS) dirs[dir] = existsSync(dir) ? readdirSync(dir) : null;
  return { sysctls, dirs, mounts: new Set(mountPoints()) };
}

const quiet = (file: string, args: readonly string[]): string => {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return '';
  }
};

/** Mounts made since the baseline under the state dir or the hard-coded dirs, deepest first. */
function newMounts(baseline: HostBaseline, stateDir: string): string[] {
  const roots = [stateDir, ...HARD_CODED_DIRS];
  return mountPoints()
    .filter(
      (point) => !baseline.mounts.has(point) && roots.some((root) => point === root || point.startsWith(`${root}/`)),
    )
    .filter((point) => !point.startsWith('/run/netns/') || point.startsWith('/run/netns/cni-'))
    .sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
}

/** Every kubepods cgroup dir in every hierarchy, deepest first. */
function kubepodsCgroups(): string[] {
  const found: string[] = [];
  const visit = (dir: string, inside: boolean) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of entries) {
      const child = path.join(dir, name);
      let isDir: boolean;
      try {
        isDir = statSync(child).isDirectory();
      } catch {
        continue;
      }
      if (!isDir) continue;
      const match = inside || name.startsWith('kubepods');
      if (match) visit(child, true);
      if (match) found.push(child);
    }
  };
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) visit(path.join('/sys/fs/cgroup', hierarchy), false);
  return found.sort((a, b) => b.split('/').length - a.split('/').length);
}

/** KUBE-* chains (kubelet, kube-proxy) and the bed's isolation chain, per iptables family and table. */
function ourChains(binary: string, table: string): string[] {
  return quiet(binary, ['-w', '-t', table, '-S'])
    .split('\n')
    .map((line) => /^-N (\S+)/.exec(line)?.[1])
    .filter((chain): chain is string => Boolean(chain) && (chain!.startsWith('KUBE-') || chain === ISOLATION_CHAIN));
}

function removeChains(): void {
  for (const binary of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle', 'raw']) {
      const chains = ourChains(binary, table);
      if (chains.length === 0) continue;
      // Rules in any chain that jump to ours, then our chains themselves.
      for (const line of quiet(binary, ['-w', '-t', table, '-S']).split('\n')) {
        const rule = /^-A (\S+) (.*)$/.exec(line);
        if (!rule || !chains.some((chain) => new RegExp(`-j ${chain}( |$)`).test(rule[2]!))) continue;
        if (chains.includes(rule[1]!)) continue;
        quiet('sh', ['-c', `${binary} -w -t ${table} -D ${rule[1]} ${rule[2]}`]);
      }
      for (const chain of chains) quiet(binary, ['-w', '-t', table, '-F', chain]);
      for (const chain of chains) quiet(binary, ['-w', '-t', table, '-X', chain]);
    }
  }
}

const sleepSync = (ms: number): void =>
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms) as unknown as void;

/** Undoes every host change the cluster made; returns what could not be undone. */
export function restoreHost(baseline: HostBaseline, stateDir: string, net: Net): string[] {
  const problems: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    for (const point of newMounts(baseline, stateDir)) {
      if (quiet('umount', [point]) === '' && mountPoints().includes(point)) quiet('umount', ['-l', point]);
    }
    if (newMounts(baseline, stateDir).length === 0) break;
    sleepSync(200);
  }
  for (let attempt = 0; attempt < 10; attempt++) {
    for (const dir of kubepodsCgroups()) quiet('rmdir', [dir]);
    if (kubepodsCgroups().length === 0) break;
    sleepSync(300);
  }
  // Only the bridge and the pods' veths on it: other programs on this machine may add links meanwhile.
  const podLinks = bridgePorts(net);
  for (const link of podLinks) quiet('ip', ['link', 'del', link]);
  quiet('ip', ['link', 'del', net.bridge]);
  removeChains();
  quiet('conntrack', ['-D', '-s', net.podCidr]);
  quiet('conntrack', ['-D', '-d', net.podCidr]);
  for (const [name, value] of Object.entries(baseline.sysctls)) {
    if (readSysctl(name) === value) continue;
    try {
      writeFileSync(path.join('/proc/sys', name), value);
    } catch (error) {
      problems.push(`sysctl ${name}: cannot restore ${value}: ${(error as Error).message}`);
    }
  }
  for (const [dir, before] of Object.entries(baseline.dirs)) {
    if (!existsSync(dir)) continue;
    if (before === null) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    for (const entry of readdirSync(dir)) {
      if (before.includes(entry) || !ours(dir, entry)) continue;
      const target = path.join(dir, entry);
      quiet('umount', ['-l', target]);
      try {
        rmSync(target, { recursive: true, force: true });
      } catch (error) {
        problems.push(`cannot remove ${target}: ${(error as Error).message}`);
      }
    }
  }
  return [...problems, ...hostLeftovers(baseline, stateDir, net)];
}

/** What differs from the baseline: the leftovers check after stop. */
export function hostLeftovers(baseline: HostBaseline, stateDir: string, net: Net): string[] {
  const found: string[] = [];
  for (const point of newMounts(baseline, stateDir)) found.push(`mount ${point}`);
  for (const dir of kubepodsCgroups()) found.push(`cgroup ${dir}`);
  if (linkNames().includes(net.bridge)) found.push(`link ${net.bridge}`);
  for (const binary of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle', 'raw'])
      for (const chain of ourChains(binary, table)) found.push(`${binary} -t ${table} chain ${chain}`);
  }
  if (quiet('ip', ['-4', 'route', 'show', net.serviceCidr]).trim()) found.push(`route ${net.serviceCidr}`);
  for (const [name, value] of Object.entries(baseline.sysctls)) {
    const now = readSysctl(name);
    if (now !== value) found.push(`sysctl ${name} is ${now}, was ${value}`);
  }
  for (const [dir, before] of Object.entries(baseline.dirs)) {
    if (!existsSync(dir)) continue;
    if (before === null) found.push(`dir ${dir}`);
    else
      for (const entry of readdirSync(dir))
        if (!before.includes(entry) && ours(dir, entry)) found.push(`${dir}/${entry}`);
  }
  return found;
}

/** PIDs of processes in a kubepods cgroup (containers left running), or whose command line names `stateDir`. */
export function strayProcesses(stateDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue; // a zombie is already dead
      const cgroup = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      if (cgroup.includes('/kubepods') || cmdline.includes(stateDir)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
