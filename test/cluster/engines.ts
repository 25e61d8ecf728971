// Installs what runs in the cluster the way users install it: the in-cluster registry (a
// Deployment and a Service at a fixed ClusterIP, TLS from the bed CA), Tekton Pipelines from its
// release manifests (config/ of the module: namespace, RBAC, CRDs, config maps, controller,
// webhook with its admission and conversion webhooks, resolvers) and Argo Workflows from its
// cluster-install kustomization. Only the image references change: ko:// paths and `:latest`
// become the images made here, as a release's `ko resolve` / `kustomize edit set image` would.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { Cluster } from './cluster.js';
import { IMAGES, pinned } from './images.js';
import { until } from './kube.js';
import { registryGet } from './registry-tls.js';

/** Waits until each Deployment's current template is rolled out (new pods Ready, old ones gone from the set). */
export async function waitDeployments(
  cluster: Cluster,
  namespace: string,
  names: string[],
  timeoutMs = 120_000,
): Promise<void> {
  for (const name of names) {
    try {
      await until(
        `deployment ${namespace}/${name} exists`,
        () => cluster.kube.get('deployment', name, namespace),
        Boolean,
        30_000,
      );
      await cluster.kube.kubectl([
        'rollout',
        'status',
        '-n',
        namespace,
        `deployment/${name}`,
        `--timeout=${Math.round(timeoutMs / 1000)}s`,
      ]);
    } catch (error) {
      const pods = await cluster.kube.kubectl(['get', 'pods', '-n', namespace, '-o', 'wide']).catch(() => '');
      const events = await cluster.kube
        .kubectl(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp'])
        .catch(() => '');
      const logs = await cluster.kube
        .kubectl(['logs', '-n', namespace, `deployment/${name}`, '--all-containers', '--tail=30'])
        .catch((e: Error) => e.message);
      const previous = await cluster.kube
        .kubectl(['logs', '-n', namespace, `deployment/${name}`, '--all-containers', '--previous', '--tail=30'])
        .catch((e: Error) => e.message);
      throw new Error(
        `${(error as Error).message}\npods:\n${pods}\nevents:\n${events.split('\n').slice(-15).join('\n')}\nlogs:\n${logs}\nprevious logs:\n${previous}`,
        { cause: error },
      );
    }
  }
}

export const REGISTRY_NAMESPACE = 'bks-registry';

export async function installRegistry(cluster: Cluster): Promise<string> {
  const { net, pki } = cluster;
  const host = `${net.registryIp}:5000`;
  const config =
    'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n  delete:\n    enabled: true\nhttp:\n  addr: :5000\n  secret: bed-only\n  tls:\n    certificate: /certs/tls.crt\n    key: /certs/tls.key\n';
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: REGISTRY_NAMESPACE } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'registry-tls', namespace: REGISTRY_NAMESPACE },
      stringData: {
        'tls.crt': readFileSync(pki.registry.cert, 'utf8'),
        'tls.key': readFileSync(pki.registry.key, 'utf8'),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'registry-config', namespace: REGISTRY_NAMESPACE },
      data: { 'config.yml': config },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'registry', namespace: REGISTRY_NAMESPACE },
      spec: {
        selector: { matchLabels: { app: 'registry' } },
        template: {
          metadata: { labels: { app: 'registry' } },
          spec: {
            containers: [
              {
                name: 'registry',
                image: IMAGES.registry,
                ports: [{ containerPort: 5000 }],
                readinessProbe: { httpGet: { path: '/v2/', port: 5000, scheme: 'HTTPS' }, periodSeconds: 1 },
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/docker/registry' },
                  { name: 'tls', mountPath: '/certs', readOnly: true },
                  { name: 'storage', mountPath: '/var/lib/registry' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: 'registry-config' } },
              { name: 'tls', secret: { secretName: 'registry-tls' } },
              { name: 'storage', emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'registry', namespace: REGISTRY_NAMESPACE },
      spec: { clusterIP: net.registryIp, selector: { app: 'registry' }, ports: [{ port: 5000, targetPort: 5000 }] },
    },
  ];
  await cluster.kube.apply(objects.map((object) => YAML.stringify(object)).join('---\n'));
  await waitDeployments(cluster, REGISTRY_NAMESPACE, ['registry']);
  // The host (containerd's pulls, the tests) reaches it through the Service address too.
  await until(
    `registry answering at https://${host}/v2/`,
    () => registryGet(pki.ca, host, '/v2/').then((r) => r.status),
    (status) => status === 200,
    60_000,
  );
  return host;
}

/** The release's manifests in `ko resolve -f config/` order, with the images made here. */
export function tektonRelease(clusterBin: string, version: string, registryCa?: string): string {
  const config = path.join(clusterBin, `tekton-${version}`, 'config');
  const files: string[] = [];
  const yamlIn = (dir: string) =>
    readdirSync(dir)
      .filter((name) => name.endsWith('.yaml'))
      .sort()
      .map((name) => path.join(dir, name));
  files.push(...yamlIn(path.join(config, '100-namespace')));
  // The resolvers (Tekton ships them as their own release file) first: their config maps carry the
  // label the pipelines webhook validates, which refuses them while its own pod is not Ready yet.
  if (existsSync(path.join(config, 'resolvers'))) files.push(...yamlIn(path.join(config, 'resolvers')));
  // The events controller (CloudEvents sink) and the webhook's autoscaler are not part of what runs a TaskRun.
  files.push(
    ...yamlIn(config).filter((file) => !/\/(events|webhook-hpa|config-leader-election-events)\.yaml$/.test(file)),
  );
  files.push(...yamlIn(path.join(config, '300-crds')));
  const release = files
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n---\n')
    .replace(/ko:\/\/github\.com\/tektoncd\/pipeline\/cmd\/([a-z-]+)/g, (_, name: string) =>
      IMAGES.tekton(name, version),
    )
    .replace(/"cgr\.dev\/chainguard\/busybox@sha256:[a-f0-9]+"/g, `"${IMAGES.busybox}"`)
    .replace(/"mcr\.microsoft\.com\/powershell:nanoserver@sha256:[a-f0-9]+"/g, '"bks.local/none:windows"');
  if (!registryCa) return release;
  // Tekton's own way to trust a private registry CA (the controller's image lookups): set in the
  // release's config-registry-cert, since once the webhook runs it validates its config maps.
  return YAML.parseAllDocuments(release)
    .map((doc) => doc.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> } | null)
    .filter((object): object is NonNullable<typeof object> => Boolean(object?.kind))
    .map((object) =>
      YAML.stringify(
        object.kind === 'ConfigMap' && object.metadata?.name === 'config-registry-cert'
          ? { ...object, data: { ...object.data, cert: readFileSync(registryCa, 'utf8') } }
          : object,
      ),
    )
    .join('---\n');
}

/**
 * Installs Tekton `version`, or moves an installed Tekton to it the way an upgrade (or a
 * downgrade) is done: `kubectl apply` of that release, then every Deployment rolled out.
 */
export async function installTekton(cluster: Cluster, version: string): Promise<void> {
  // One stream, as `kubectl apply -f release.yaml`. Here the images are local, so the webhook can
  // register its config-map rule while the stream is still applying and refuse the resolvers'
  // config maps until its pod is Ready ("no endpoints available"): apply again, as a user would.
  const release = tektonRelease(cluster.bin, version, cluster.pki.ca);
  await until(
    'Tekton release applied',
    () =>
      cluster.kube.apply(release).then(
        () => '',
        (error: Error) => error.message,
      ),
    (outcome) => outcome === '',
    120_000,
  );
  await waitDeployments(cluster, 'tekton-pipelines', ['tekton-pipelines-webhook', 'tekton-pipelines-controller']);
  await waitDeployments(cluster, 'tekton-pipelines-resolvers', ['tekton-pipelines-remote-resolvers']);
  // Admission is live when the webhook rejects an invalid Task (a step without an image).
  await until(
    'Tekton webhook rejecting an invalid Task',
    () =>
      cluster.kube
        .kubectl(
          ['apply', '--dry-run=server', '-f', '-'],
          'apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: probe, namespace: default}\nspec:\n  steps:\n  - name: s\n    script: "true"\n',
        )
        .then(
          () => 'admitted',
          (error: Error) => error.message,
        ),
    (outcome) => /admission webhook .*tekton/.test(outcome),
    90_000,
  );
}

/** Argo's cluster install (CRDs, RBAC, config map, workflow-controller) without the UI server. */
export function argoRelease(clusterBin: string): string {
  const rendered = execFileSync(
    path.join(clusterBin, 'kubectl'),
    ['kustomize', path.join(clusterBin, 'argo-manifests', 'cluster-install')],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const version = pinned('ARGO_VERSION');
  return YAML.parseAllDocuments(rendered)
    .map((doc) => doc.toJS() as { kind?: string; metadata?: { name?: string } } | null)
    .filter((object): object is { kind: string; metadata: { name: string } } => Boolean(object?.kind))
    .filter(
      (object) => !(object.metadata.name.startsWith('argo-server') && ['Deployment', 'Service'].includes(object.kind)),
    )
    .map((object) => YAML.stringify(object).replace(/(quay\.io\/argoproj\/[a-z-]+):latest/g, `$1:${version}`))
    .join('---\n');
}

export async function installArgo(cluster: Cluster): Promise<void> {
  // Argo's install docs: create the namespace, then apply the install manifests into it.
  await cluster.kube.apply(YAML.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'argo' } }));
  await cluster.kube.apply(argoRelease(cluster.bin));
  await waitDeployments(cluster, 'argo', ['workflow-controller']);
}
