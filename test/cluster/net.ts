// The cluster's network: a bridge the bed creates, with the host's address on it (the apiserver,
// kubelet and registry Service are reached there), a route for the Service range onto it, and
// rules that never let a packet from or to a pod leave through any other interface.
import { execFileSync } from 'node:child_process';

export type Net = {
  bridge: string;
  /** The host's address on the bridge: apiserver, kubelet and the pods' gateway. */
  hostIp: string;
  podCidr: string;
  serviceCidr: string;
  /** ClusterIP of the `kubernetes` Service (the first of the range). */
  apiServiceIp: string;
  /** Fixed ClusterIP of the in-cluster registry's Service. */
  registryIp: string;
  nodeName: string;
};

export const NET: Net = {
  bridge: 'bks0',
  hostIp: '10.244.0.1',
  podCidr: '10.244.0.0/24',
  serviceCidr: '10.96.0.0/24',
  apiServiceIp: '10.96.0.1',
  registryIp: '10.96.0.50',
  nodeName: 'bks-node',
};

export const ISOLATION_CHAIN = 'BKS-ISOLATE';

const run = (file: string, args: readonly string[]): string =>
  execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Refuses to start when the bridge, the pod range or the Service range is already in use here. */
export function checkNetFree(net: Net): void {
  const links = run('ip', ['-o', 'link', 'show']);
  if (new RegExp(`^\\d+: ${net.bridge}[:@]`, 'm').test(links))
    throw new Error(
      `cluster bed: a link named ${net.bridge} already exists (a previous run left it? remove it with: ip link del ${net.bridge})`,
    );
  const routes = run('ip', ['-4', 'route', 'show']);
  for (const cidr of [net.podCidr, net.serviceCidr]) {
    if (routes.split('\n').some((line) => line.startsWith(`${cidr} `)))
      throw new Error(`cluster bed: a route for ${cidr} already exists on this host`);
  }
}

/** Creates the bridge with the host address, the Service route, forwarding on the bridge only, and the isolation rules. */
export function setUpNet(net: Net): void {
  run('ip', ['link', 'add', net.bridge, 'type', 'bridge']);
  run('ip', ['addr', 'add', `${net.hostIp}/${net.podCidr.split('/')[1]}`, 'dev', net.bridge]);
  run('ip', ['link', 'set', net.bridge, 'up']);
  // ClusterIPs the Service proxy does not rewrite stay on the bridge instead of the default route.
  run('ip', ['route', 'add', net.serviceCidr, 'dev', net.bridge, 'src', net.hostIp]);
  // Routing between pods and Services needs forwarding on the bridge, and only there.
  run('sysctl', ['-q', '-w', `net.ipv4.conf.${net.bridge}.forwarding=1`]);
  // In mangle, before any rule Kubernetes adds to filter: nothing from or to a pod crosses to another interface.
  run('iptables', ['-w', '-t', 'mangle', '-N', ISOLATION_CHAIN]);
  const drops = [
    ['-s', net.podCidr, '!', '-o', net.bridge],
    ['-d', net.podCidr, '!', '-i', net.bridge],
    ['-d', net.serviceCidr, '!', '-o', net.bridge],
  ];
  for (const match of drops) run('iptables', ['-w', '-t', 'mangle', '-A', ISOLATION_CHAIN, ...match, '-j', 'DROP']);
  run('iptables', ['-w', '-t', 'mangle', '-I', 'FORWARD', '1', '-j', ISOLATION_CHAIN]);
}
