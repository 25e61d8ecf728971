// A real single-node Kubernetes on this machine: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, containerd (runc from Debian), kubelet and kube-proxy as host processes, pods
// on a CNI bridge the bed creates. One per suite run, all state in a temp dir; `stop` ends every
// process by PID and undoes every host change (see host.ts), also from Ctrl-C or SIGTERM.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../bed/registry.js';
import { startHostDaemon, stopPid, waitFor, type HostDaemon } from './daemons.js';
import { hostLeftovers, recordBaseline, restoreHost, strayProcesses, type HostBaseline } from './host.js';
import { kubeClient, type Kube } from './kube.js';
import { checkNetFree, NET, setUpNet, type Net } from './net.js';
import { makePki, writeKubeconfig, type Pki } from './pki.js';

export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.1';

export type Cluster = {
  bin: string;
  dir: string;
  net: Net;
  pki: Pki;
  kubeconfig: string;
  kube: Kube;
  daemons: HostDaemon[];
  /** `ctr` against the cluster's containerd, namespace k8s.io. */
  ctr: (args: readonly string[]) => string;
  /** Imports an OCI archive into containerd for the kubelet. */
  importImage: (archive: string) => void;
  /** Dumps every daemon's log tail to stderr. */
  dumpLogs: () => void;
  /** Stops everything and restores the host; returns what was left behind (empty when clean). */
  stop: () => string[];
};

const k8sVersion = (bin: string): string =>
  execFileSync(path.join(bin, 'kubectl'), ['version', '--client', '-o', 'json'], { encoding: 'utf8' });

export async function startCluster(bin: string, say: (line: string) => void): Promise<Cluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bks-cluster-'));
  const st = (...parts: string[]) => path.join(dir, ...parts);
  for (const sub of [
    'logs',
    'etcd',
    'run',
    'containerd/root',
    'containerd/state',
    'kubelet',
    'pod-logs',
    'cni/net.d',
    'cni-ipam',
    'runc',
    'certs.d',
    'opt',
  ])
    mkdirSync(st(sub), { recursive: true });
  const net = NET;
  // Before anything is changed: a clash here must not make stop() undo someone else's bridge.
  checkNetFree(net);
  const baseline: HostBaseline = recordBaseline();
  const daemons: HostDaemon[] = [];
  const pidFile = st('pids');
  const ctrArgs = ['--address', st('run', 'containerd.sock'), '--namespace', 'k8s.io'];
  const ctr = (args: readonly string[]): string =>
    execFileSync(path.join(bin, 'ctr'), [...ctrArgs, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let stopped = false;
  let leftovers: string[] = [];

  const stop = (): string[] => {
    if (stopped) return leftovers;
    stopped = true;
    const byName = (name: string) => daemons.filter((daemon) => daemon.name === name);
    // The node side first, so nothing restarts containers, then the containers, then the rest.
    for (const name of ['kube-proxy', 'kube-controller-manager', 'kube-scheduler', 'kubelet'])
      for (const daemon of byName(name)) stopPid(daemon.pid, 5_000);
    if (byName('containerd').some((daemon) => daemon.isRunning())) {
      try {
        for (const id of ctr(['tasks', 'ls', '-q']).split('\n').filter(Boolean)) {
          try {
            ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
          } catch {
            // already stopped
          }
        }
        for (const id of ctr(['tasks', 'ls', '-q']).split('\n').filter(Boolean)) {
          try {
            ctr(['tasks', 'delete', '-f', id]);
          } catch {
            // gone
          }
        }
      } catch {
        // containerd not answering: the sweep below kills what is left
      }
    }
    for (const name of ['containerd', 'kube-apiserver', 'etcd'])
      for (const daemon of byName(name)) stopPid(daemon.pid, name === 'kube-apiserver' ? 5_000 : 10_000);
    // Shims and container processes (in kubepods cgroups), by PID.
    for (let round = 0; round < 3; round++) {
      const strays = strayProcesses(dir);
      if (strays.length === 0) break;
      for (const pid of strays) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    }
    leftovers = restoreHost(baseline, dir, net);
    const strays = strayProcesses(dir);
    if (strays.length > 0) leftovers.push(`processes ${strays.join(' ')}`);
    if (leftovers.length === 0 && !process.env.BUILDKIT_STEP_KEEP_CLUSTER_DIR)
      rmSync(dir, { recursive: true, force: true });
    return leftovers;
  };

  // Ctrl-C / SIGTERM of the test runner: stop and restore before exiting; an exit hook as a last resort.
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`cluster bed: ${signal}: stopping the cluster\n`);
    const left = stop();
    if (left.length > 0) process.stderr.write(`cluster bed: left behind: ${left.join('; ')}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => void stop());

  const dumpLogs = () => {
    for (const daemon of daemons)
      process.stderr.write(`--- ${daemon.name} (${daemon.logFile}) ---\n${daemon.logTail(25)}\n`);
  };
  const start = (name: string, file: string, args: readonly string[], env?: NodeJS.ProcessEnv) => {
    const daemon = startHostDaemon(name, file, args, st('logs', `${name}.log`), pidFile, env);
    daemons.push(daemon);
    return daemon;
  };

  try {
    setUpNet(net);
    const pki = makePki(st('pki'), net);
    const server = `https://${net.hostIp}:6443`;
    const kubeconfig = writeKubeconfig(st('admin.kubeconfig'), pki, server);
    const kube = kubeClient(path.join(bin, 'kubectl'), kubeconfig);
    say(
      `kubernetes ${(JSON.parse(k8sVersion(bin)) as { clientVersion: { gitVersion: string } }).clientVersion.gitVersion}, state in ${dir}`,
    );

    const [etcdClient, etcdPeer, etcdMetrics] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcd = start('etcd', path.join(bin, 'etcd'), [
      '--name',
      'bed',
      '--data-dir',
      st('etcd'),
      '--listen-client-urls',
      `http://127.0.0.1:${etcdClient}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${etcdClient}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${etcdPeer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster',
      `bed=http://127.0.0.1:${etcdPeer}`,
      '--listen-metrics-urls',
      `http://127.0.0.1:${etcdMetrics}`,
      '--unsafe-no-fsync',
      '--log-level',
      'warn',
    ]);
    await waitFor(etcd, 'etcd healthy', async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok, 30_000);

    const apiserver = start('kube-apiserver', path.join(bin, 'kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--bind-address=${net.hostIp}`,
      `--advertise-address=${net.hostIp}`,
      '--secure-port=6443',
      `--tls-cert-file=${pki.apiserver.cert}`,
      `--tls-private-key-file=${pki.apiserver.key}`,
      `--client-ca-file=${pki.ca}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      `--service-cluster-ip-range=${net.serviceCidr}`,
      '--authorization-mode=Node,RBAC',
      `--kubelet-client-certificate=${pki.admin.cert}`,
      `--kubelet-client-key=${pki.admin.key}`,
      `--kubelet-certificate-authority=${pki.ca}`,
      '--kubelet-preferred-address-types=InternalIP',
      // Webhooks (Tekton's admission and conversion) are called at their pods' addresses on the bridge.
      '--enable-aggregator-routing=true',
      '--allow-privileged=true',
      '--profiling=false',
    ]);
    await waitFor(
      apiserver,
      'kube-apiserver ready',
      async () => {
        await kube.kubectl(['get', '--raw', '/readyz']);
        return true;
      },
      90_000,
    );

    writeFileSync(st('containerd.toml'), containerdConfig(dir, pki));
    writeFileSync(st('cni', 'net.d', '10-bks.conflist'), cniConfig(dir, net));
    const containerd = start('containerd', path.join(bin, 'containerd'), ['--config', st('containerd.toml')], {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
    });
    await waitFor(
      containerd,
      'containerd answering',
      () => {
        if (!existsSync(st('run', 'containerd.sock'))) return false;
        ctr(['version']);
        return true;
      },
      30_000,
    );

    const importImage = (archive: string) => {
      execFileSync(path.join(bin, 'ctr'), [...ctrArgs, 'images', 'import', '--no-unpack', archive], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    };

    return {
      bin,
      dir,
      net,
      pki,
      kubeconfig,
      kube,
      daemons,
      ctr,
      importImage,
      dumpLogs,
      stop,
      // The node is started by startNode once the images are in (the kubelet pins the pause image).
    };
  } catch (error) {
    dumpLogs();
    const left = stop();
    throw new Error(
      `cluster bed failed to start: ${(error as Error).message}${left.length ? `\nleft behind: ${left.join('; ')}` : ''}`,
      { cause: error },
    );
  }
}

/** Starts kubelet, scheduler, controller-manager and kube-proxy, and waits for a Ready, schedulable node. */
export async function startNode(cluster: Cluster, say: (line: string) => void): Promise<void> {
  const { bin, dir, net, pki, kubeconfig, kube } = cluster;
  const st = (...parts: string[]) => path.join(dir, ...parts);
  const start = (name: string, args: readonly string[]) => {
    const daemon = startHostDaemon(name, path.join(bin, name), args, st('logs', `${name}.log`), st('pids'), {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
    });
    cluster.daemons.push(daemon);
    return daemon;
  };
  try {
    writeFileSync(st('kubelet.yaml'), kubeletConfig(dir, net, pki));
    const kubelet = start('kubelet', [
      '--config',
      st('kubelet.yaml'),
      '--kubeconfig',
      kubeconfig,
      '--root-dir',
      st('kubelet'),
      '--hostname-override',
      net.nodeName,
      `--node-ip=${net.hostIp}`,
      '--v=1',
    ]);
    const auth = [
      '--kubeconfig',
      kubeconfig,
      '--authentication-kubeconfig',
      kubeconfig,
      '--authorization-kubeconfig',
      kubeconfig,
      '--bind-address',
      '127.0.0.1',
      '--secure-port',
      '0',
      '--leader-elect=false',
    ];
    const scheduler = start('kube-scheduler', auth);
    const controllerManager = start('kube-controller-manager', [
      ...auth,
      // What Deployments, Services, namespaces and service accounts need, and the node's not-ready taint lifted.
      '--controllers=serviceaccount-controller,root-ca-certificate-publisher-controller,node-lifecycle-controller,namespace-controller,garbage-collector-controller,deployment-controller,replicaset-controller,endpoints-controller,endpointslice-controller,endpointslice-mirroring-controller,serviceaccount-token-controller,statefulset-controller,persistentvolume-binder-controller',
      `--root-ca-file=${pki.ca}`,
      `--service-account-private-key-file=${pki.saKey}`,
      '--use-service-account-credentials=false',
      `--cluster-cidr=${net.podCidr}`,
      `--service-cluster-ip-range=${net.serviceCidr}`,
    ]);
    const [health, metrics] = await Promise.all([freePort(), freePort()]);
    writeFileSync(st('kube-proxy.yaml'), kubeProxyConfig(kubeconfig, net, health, metrics));
    const proxy = start('kube-proxy', ['--config', st('kube-proxy.yaml')]);
    const started = Date.now();
    type Node = { spec?: { taints?: { key: string }[] }; status?: { conditions?: { type: string; status: string }[] } };
    await waitFor(
      kubelet,
      'node Ready without taints',
      async () => {
        for (const daemon of [scheduler, controllerManager, proxy]) {
          if (!daemon.isRunning())
            throw new Error(`${daemon.name} exited (${daemon.exitStatus()}):\n${daemon.logTail(30)}`);
        }
        const node = await kube.get<Node>('node', net.nodeName);
        return Boolean(
          node?.status?.conditions?.some((entry) => entry.type === 'Ready' && entry.status === 'True') &&
          !node.spec?.taints?.length,
        );
      },
      90_000,
    );
    await waitFor(
      controllerManager,
      'default service account',
      async () => Boolean(await kube.get('serviceaccount', 'default', 'default')),
      30_000,
    );
    say(`node ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    cluster.dumpLogs();
    throw error;
  }
}

function containerdConfig(dir: string, pki: Pki): string {
  const st = (...parts: string[]) => path.join(dir, ...parts);
  // The in-cluster registry's CA for the kubelet's pulls (hosts.toml per registry host).
  const certsDir = st('certs.d', `${NET.registryIp}:5000`);
  mkdirSync(certsDir, { recursive: true });
  writeFileSync(
    path.join(certsDir, 'hosts.toml'),
    `server = "https://${NET.registryIp}:5000"\n\n[host."https://${NET.registryIp}:5000"]\n  capabilities = ["pull", "resolve"]\n  ca = "${pki.ca}"\n`,
  );
  return `version = 3
root = "${st('containerd', 'root')}"
state = "${st('containerd', 'state')}"
[grpc]
  address = "${st('run', 'containerd.sock')}"
[ttrpc]
  address = "${st('run', 'containerd.ttrpc.sock')}"
[plugins.'io.containerd.nri.v1.nri']
  disable = true
[plugins.'io.containerd.internal.v1.opt']
  path = "${st('opt')}"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${PAUSE_IMAGE}"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "${st('certs.d')}"
[plugins.'io.containerd.cri.v1.runtime']
  # No CAP_SYS_RESOURCE here: never ask for an oom_score_adj below containerd's own.
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "${st('runc')}"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "${st('cni', 'net.d')}"
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

function cniConfig(dir: string, net: Net): string {
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: 'bks',
    plugins: [
      {
        type: 'bridge',
        bridge: net.bridge,
        isGateway: true,
        isDefaultGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: net.podCidr, rangeStart: net.podCidr.replace(/0\/24$/, '10'), gateway: net.hostIp }]],
          dataDir: path.join(dir, 'cni-ipam'),
        },
      },
    ],
  });
}

function kubeletConfig(dir: string, net: Net, pki: Pki): string {
  const st = (...parts: string[]) => path.join(dir, ...parts);
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This host runs cgroup v1; kubelet 1.37 refuses it unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${st('run', 'containerd.sock')}
address: ${net.hostIp}
port: 10250
readOnlyPort: 0
healthzPort: 0
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: ${pki.ca}}}
authorization: {mode: Webhook}
tlsCertFile: ${pki.kubelet.cert}
tlsPrivateKeyFile: ${pki.kubelet.key}
# No CAP_SYS_RESOURCE: the default -999 cannot be set.
oomScoreAdj: 0
podLogsDir: ${st('pod-logs')}
failSwapOn: false
serializeImagePulls: false
# Never garbage-collect the imported images.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
maxPods: 60
syncFrequency: 5s
fileCheckFrequency: 5s
`;
}

function kubeProxyConfig(kubeconfig: string, net: Net, health: number, metrics: number): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: ${kubeconfig}}
mode: iptables
hostnameOverride: ${net.nodeName}
clusterCIDR: ${net.podCidr}
bindAddress: ${net.hostIp}
healthzBindAddress: 127.0.0.1:${health}
metricsBindAddress: 127.0.0.1:${metrics}
nodePortAddresses: ["${net.hostIp}/32"]
iptables:
  localhostNodePorts: false
  masqueradeAll: false
  syncPeriod: 10s
  minSyncPeriod: 0s
# Leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`;
}

export { hostLeftovers };
