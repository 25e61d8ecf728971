// A network namespace joined to this one by a veth pair, so bed registries get addresses that are
// not loopback (BuildKit treats all of 127.0.0.0/8 as plain-HTTP localhost). Only the two veth ends
// carry 10.213.N.0/24; nothing is routed off the machine. Removed on `remove` and at process exit.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

export type Netns = {
  name: string;
  /** The host side's address (10.213.N.1). */
  hostAddress: string;
  /** Addresses inside the namespace (10.213.N.2, .3, ...), one per service. */
  addresses: string[];
  /** Prefix that runs a command inside the namespace (`ip netns exec NAME`); it execs, so PIDs stay the command's. */
  exec: string[];
  remove: () => void;
};

const ip = (...args: string[]): string =>
  execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const live = new Set<() => void>();

/** `ip netns add` bind-mounts /run/netns onto itself the first time; that mount is ours to undo. */
const NETNS_DIR = '/run/netns';
const isMountPoint = (dir: string): boolean =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === dir);
let netnsDirMountedBefore: boolean | undefined;

/** Once the last namespace of ours is gone, undoes the /run/netns mount if ip made it for us and nothing else uses it. */
function unmountNetnsDir(): void {
  if (live.size > 0 || netnsDirMountedBefore !== false || !isMountPoint(NETNS_DIR)) return;
  if (readdirSync(NETNS_DIR).length === 0) spawnSync('umount', [NETNS_DIR], { stdio: 'ignore' });
}
process.on('exit', () => {
  for (const remove of live) remove();
});

/** Creates the namespace with `count` addresses; throws (having removed what it made) with ip's error. */
export function createNetns(count: number): Netns {
  const used = new Set([...ip('-o', '-4', 'addr').matchAll(/10\.213\.(\d+)\./g)].map((match) => Number(match[1])));
  const free = Array.from({ length: 254 }, (_, index) => index + 1).filter((n) => !used.has(n));
  const subnet = free[Math.floor(Math.random() * free.length)];
  if (subnet === undefined) throw new Error('test bed: no free 10.213.N.0/24 subnet for a network namespace');
  const id = randomBytes(3).toString('hex');
  const name = `bks-${id}`;
  const hostIf = `bksh${id}`;
  const nsIf = `bksn${id}`;
  const hostAddress = `10.213.${subnet}.1`;
  const addresses = Array.from({ length: count }, (_, index) => `10.213.${subnet}.${index + 2}`);
  const remove = () => {
    live.delete(remove);
    // Deleting the namespace deletes its veth end, and with it the pair; the link delete is for a half-made bed.
    spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
    unmountNetnsDir();
  };
  netnsDirMountedBefore ??= isMountPoint(NETNS_DIR);
  live.add(remove);
  try {
    ip('netns', 'add', name);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', name);
    ip('addr', 'add', `${hostAddress}/24`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
    for (const address of addresses) ip('-n', name, 'addr', 'add', `${address}/24`, 'dev', nsIf);
    ip('-n', name, 'link', 'set', nsIf, 'up');
  } catch (error) {
    remove();
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(
      `test bed: cannot create network namespace ${name} (needs root and iproute2): ${(error as Error).message} ${stderr}`,
      { cause: error },
    );
  }
  return { name, hostAddress, addresses, exec: ['ip', 'netns', 'exec', name], remove };
}

/** Whether a namespace of this name still exists (for tests that check the bed cleans up). */
export function netnsExists(name: string): boolean {
  return ip('netns', 'list')
    .split('\n')
    .some((line) => line.split(' ')[0] === name);
}
