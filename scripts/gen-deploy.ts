// Generates deploy/buildkitd-fleet/: a shared BuildKit fleet for Kubernetes (a StatefulSet of
// rootless buildkitd with a volume per replica, a headless Service, mutual TLS from Secrets) and
// the script that makes its certificates. One source for every name, port and path, so the
// manifests, the certificates' DNS names and the step's `endpoints` cannot disagree.
//
//   npm run gen-tasks         # write the files (after gen-tasks)
//   npm run gen-tasks:check   # exit 1 listing drifted files
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import YAML from 'yaml';
import {
  DAEMON_CONFIG_DIR,
  DAEMON_SOCKET_DIR,
  DAEMON_STATE_DIR,
  ROOTLESS_DAEMON_UID,
  socketAddress,
} from './pod-layout.js';

/** Names, port and size of the fleet; change them here and regenerate. */
export const FLEET = {
  name: 'buildkitd',
  namespace: 'buildkit',
  replicas: 3,
  port: 1234,
  image: 'docker.io/moby/buildkit:v0.34.2-rootless',
  /** Per-replica state (the build cache): its size is the cache a replica keeps. */
  storage: '50Gi',
  serverSecret: 'buildkitd-server-tls',
  clientSecret: 'buildkit-client-tls',
  dir: 'deploy/buildkitd-fleet',
} as const;

/** `tcp://<sts>-<n>.<svc>.<ns>.svc:<port>`: each replica's stable address, as the step's `endpoints` takes it. */
export function fleetEndpoints(fleet = FLEET): string[] {
  return Array.from({ length: fleet.replicas }, (_, n) => `tcp://${replicaHost(fleet, n)}:${fleet.port}`);
}

/** A replica's stable DNS name through the headless Service. */
export const replicaHost = (fleet: typeof FLEET, n: number): string =>
  `${fleet.name}-${n}.${fleet.name}.${fleet.namespace}.svc`;

const CERT_DIR = `${DAEMON_CONFIG_DIR.rootless}/certs`;
const STATE_DIR = DAEMON_STATE_DIR.rootless;
const SOCKET = socketAddress(DAEMON_SOCKET_DIR.rootless);

/** The Service and StatefulSet, as manifests. */
export function fleetManifests(fleet = FLEET): Array<Record<string, unknown>> {
  // A new object per use: a shared one would come out as a YAML anchor and alias.
  const labels = () => ({ 'app.kubernetes.io/name': fleet.name, 'app.kubernetes.io/component': 'buildkit-fleet' });
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: fleet.name, namespace: fleet.namespace, labels: labels() },
    spec: {
      // Headless: a DNS name per replica, so each build can go to the one that holds its cache.
      clusterIP: 'None',
      // Keep each replica's name in DNS while its pod is not ready (restarting, rolling): a step
      // then gets a refused connection, which it waits out or moves past, instead of ENOTFOUND.
      publishNotReadyAddresses: true,
      selector: labels(),
      ports: [{ name: 'buildkitd', port: fleet.port, targetPort: fleet.port, protocol: 'TCP' }],
    },
  };
  const probe = () => ({ exec: { command: ['buildctl', '--addr', SOCKET, 'debug', 'workers'] } });
  const statefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: fleet.name, namespace: fleet.namespace, labels: labels() },
    spec: {
      serviceName: fleet.name,
      replicas: fleet.replicas,
      // Replicas are independent: start and replace them all at once.
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: labels() },
      template: {
        metadata: { labels: labels() },
        spec: {
          containers: [
            {
              name: 'buildkitd',
              image: fleet.image,
              // The rootless image's entrypoint is `rootlesskit buildkitd`: flags only.
              args: [
                '--addr',
                SOCKET,
                '--addr',
                `tcp://0.0.0.0:${fleet.port}`,
                '--tlscacert',
                `${CERT_DIR}/ca.pem`,
                '--tlscert',
                `${CERT_DIR}/cert.pem`,
                '--tlskey',
                `${CERT_DIR}/key.pem`,
                '--oci-worker-no-process-sandbox',
              ],
              ports: [{ name: 'buildkitd', containerPort: fleet.port, protocol: 'TCP' }],
              // A busy daemon answers slowly: give the probes time, and restart (which kills every
              // build on the replica) only after minutes of silence.
              readinessProbe: { ...probe(), initialDelaySeconds: 2, periodSeconds: 5, timeoutSeconds: 5 },
              livenessProbe: {
                ...probe(),
                initialDelaySeconds: 10,
                periodSeconds: 30,
                timeoutSeconds: 10,
                failureThreshold: 6,
              },
              securityContext: {
                runAsUser: ROOTLESS_DAEMON_UID,
                runAsGroup: ROOTLESS_DAEMON_UID,
                // rootlesskit needs user namespaces and mounts that the default profiles block.
                seccompProfile: { type: 'Unconfined' },
                appArmorProfile: { type: 'Unconfined' },
              },
              resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '8Gi' } },
              volumeMounts: [
                { name: 'certs', mountPath: CERT_DIR, readOnly: true },
                { name: 'state', mountPath: STATE_DIR },
              ],
            },
          ],
          // 0440 and fsGroup: the files are root and the rootless user's group, readable by it and nobody else.
          volumes: [{ name: 'certs', secret: { secretName: fleet.serverSecret, defaultMode: 0o440 } }],
          // OnRootMismatch: without it the kubelet re-owns and chmods every file of the warm cache
          // volume at each pod start (minutes for a large cache, and cached snapshots' modes change).
          securityContext: { fsGroup: ROOTLESS_DAEMON_UID, fsGroupChangePolicy: 'OnRootMismatch' },
          // Builds in flight get time to finish when a replica is stopped (rollout, node drain).
          terminationGracePeriodSeconds: 600,
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'state', labels: labels() },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: fleet.storage } } },
        },
      ],
    },
  };
  return [service, statefulSet];
}

/** A shell script (openssl only) that makes the CA, the server certificate and a client certificate, and the two Secrets. */
export function certScript(fleet = FLEET): string {
  const sans = [
    ...Array.from({ length: fleet.replicas }, (_, n) => `DNS:${replicaHost(fleet, n)}`),
    `DNS:${fleet.name}.${fleet.namespace}.svc`,
    `DNS:*.${fleet.name}.${fleet.namespace}.svc`,
  ].join(',');
  const secret = (name: string, files: Array<[string, string]>) =>
    [
      `{`,
      `  echo "apiVersion: v1"`,
      `  echo "kind: Secret"`,
      `  echo "metadata:"`,
      `  echo "  name: ${name}"`,
      `  echo "  namespace: \${NAMESPACE}"`,
      `  echo "type: Opaque"`,
      `  echo "data:"`,
      ...files.map(([key, file]) => `  echo "  ${key}: $(base64 -w0 "${file}")"`),
      `} > "$out/${name}.yaml"`,
    ].join('\n');
  return `#!/usr/bin/env bash
# Makes the mutual-TLS material of the BuildKit fleet with openssl, into DIR (default ./fleet-certs):
#   ca.pem ca-key.pem          the fleet's own CA (keep ca-key.pem offline)
#   server/{ca,cert,key}.pem   buildkitd's certificate, valid for every replica's DNS name
#   client/{ca,cert,key}.pem   the builds' client certificate (the step's tls_dir)
#   ${fleet.serverSecret}.yaml, ${fleet.clientSecret}.yaml   the Secrets to apply
#
#   bash ${fleet.dir}/make-certs.sh [DIR]      then: kubectl apply -f DIR/${fleet.serverSecret}.yaml -f DIR/${fleet.clientSecret}.yaml
#
# Env: NAMESPACE (${fleet.namespace}; the Secrets' namespace, and the one in the DNS names:
# regenerate the manifests for another), DAYS (365). The client Secret must live in the
# namespace of the builds: apply it there too. Generated by scripts/gen-deploy.ts.
set -euo pipefail
out="\${1:-fleet-certs}"
NAMESPACE="\${NAMESPACE:-${fleet.namespace}}"
DAYS="\${DAYS:-365}"
mkdir -p "$out/server" "$out/client"
umask 077
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

key "$out/ca-key.pem"
openssl req -x509 -new -key "$out/ca-key.pem" -out "$out/ca.pem" -days "$DAYS" -subj "/CN=${fleet.name} fleet CA" \\
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

leaf() { # dir cn extensions
  key "$1/key.pem"
  openssl req -new -key "$1/key.pem" -out "$1/req.csr" -subj "/CN=$2"
  printf '%s\\n' "$3" > "$1/ext.cnf"
  openssl x509 -req -in "$1/req.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" -CAcreateserial -days "$DAYS" -out "$1/cert.pem" -extfile "$1/ext.cnf"
  rm -f "$1/req.csr" "$1/ext.cnf"
  cp "$out/ca.pem" "$1/ca.pem"
}
# Every replica's stable name (<sts>-<n>.<svc>.<ns>.svc), the Service, and a wildcard for replicas added later.
leaf "$out/server" "${fleet.name}" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=${sans.replaceAll(`.${fleet.namespace}.svc`, '.${NAMESPACE}.svc')}"
leaf "$out/client" "buildkit-step" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

${secret(fleet.serverSecret, [
  ['ca.pem', '$out/server/ca.pem'],
  ['cert.pem', '$out/server/cert.pem'],
  ['key.pem', '$out/server/key.pem'],
])}
${secret(fleet.clientSecret, [
  ['ca.pem', '$out/client/ca.pem'],
  ['cert.pem', '$out/client/cert.pem'],
  ['key.pem', '$out/client/key.pem'],
])}
echo "wrote $out (Secrets: $out/${fleet.serverSecret}.yaml, $out/${fleet.clientSecret}.yaml)"
`;
}

const HEADER = ' Generated by scripts/gen-deploy.ts (npm run gen-tasks). Do not edit.';

/** Every generated file's content, by repository-relative path. */
export function deployFiles(fleet = FLEET): Map<string, string> {
  const yaml = (manifest: Record<string, unknown>) => {
    const doc = new YAML.Document(manifest, { version: '1.1' });
    doc.commentBefore = `${HEADER}\n Needs the Secret ${fleet.serverSecret} (make-certs.sh). Pin the image by digest.`;
    return doc.toString({ lineWidth: 0, indentSeq: true });
  };
  return new Map([
    [`${fleet.dir}/buildkitd-fleet.yaml`, fleetManifests(fleet).map(yaml).join('---\n')],
    [`${fleet.dir}/make-certs.sh`, certScript(fleet)],
  ]);
}

/** Writes the files under `root`, or with `check` only lists those that would change. */
export function runDeploy(root: string, options: { check: boolean }): { changed: string[] } {
  const changed: string[] = [];
  for (const [file, content] of deployFiles()) {
    const target = path.join(root, file);
    if (existsSync(target) && readFileSync(target, 'utf8') === content) continue;
    changed.push(file);
    if (!options.check) {
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, content, { mode: file.endsWith('.sh') ? 0o755 : 0o644 });
    }
  }
  return { changed };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const check = process.argv.includes('--check');
  const { changed } = runDeploy(root, { check });
  if (check && changed.length > 0) {
    process.stderr.write(`gen-deploy: out of date (npm run gen-tasks):\n${changed.map((f) => `  ${f}\n`).join('')}`);
    process.exitCode = 1;
  } else {
    process.stdout.write(
      changed.length > 0 ? changed.map((f) => `${check ? 'ok' : 'wrote'} ${f}\n`).join('') : 'gen-deploy: up to date\n',
    );
  }
}
