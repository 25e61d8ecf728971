// The cluster's certificates, made with the openssl CLI: one CA signs the apiserver, the kubelet,
// an admin client (system:masters, used by every component and the tests) and the in-cluster
// registry; plus the service-account signing key.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Net } from './net.js';

export type Pki = {
  dir: string;
  ca: string;
  caKey: string;
  apiserver: { cert: string; key: string };
  kubelet: { cert: string; key: string };
  admin: { cert: string; key: string };
  registry: { cert: string; key: string };
  saKey: string;
  saPub: string;
};

const openssl = (args: readonly string[]): void => {
  execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
};

function leaf(
  dir: string,
  ca: { cert: string; key: string },
  name: string,
  subject: string,
  extensions: string[],
): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    `${['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', ...extensions].join('\n')}\n`,
  );
  openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    subject,
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    cert,
    '-extfile',
    ext,
  ]);
  return { cert, key };
}

export function makePki(dir: string, net: Net): Pki {
  mkdirSync(dir, { recursive: true });
  const ca = { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
    '-days',
    '2',
    '-subj',
    '/CN=buildkit-step cluster bed CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const apiserver = leaf(dir, ca, 'apiserver', '/CN=kube-apiserver', [
    'extendedKeyUsage=serverAuth',
    `subjectAltName=IP:${net.hostIp},IP:${net.apiServiceIp},IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local`,
  ]);
  const kubelet = leaf(dir, ca, 'kubelet', `/CN=${net.nodeName}`, [
    'extendedKeyUsage=serverAuth',
    `subjectAltName=IP:${net.hostIp},DNS:${net.nodeName}`,
  ]);
  const admin = leaf(dir, ca, 'admin', '/O=system:masters/CN=buildkit-step-admin', ['extendedKeyUsage=clientAuth']);
  const registry = leaf(dir, ca, 'registry', '/CN=registry', [
    'extendedKeyUsage=serverAuth',
    `subjectAltName=IP:${net.registryIp},DNS:registry.bks-registry.svc`,
  ]);
  const saKey = path.join(dir, 'sa.key');
  const saPub = path.join(dir, 'sa.pub');
  openssl(['genrsa', '-out', saKey, '2048']);
  openssl(['rsa', '-in', saKey, '-pubout', '-out', saPub]);
  return { dir, ca: ca.cert, caKey: ca.key, apiserver, kubelet, admin, registry, saKey, saPub };
}

/** A kubeconfig for the admin identity against `server`. */
export function writeKubeconfig(file: string, pki: Pki, server: string): string {
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: bed\n  cluster:\n    server: ${server}\n    certificate-authority: ${pki.ca}`,
      'users:',
      `- name: admin\n  user:\n    client-certificate: ${pki.admin.cert}\n    client-key: ${pki.admin.key}`,
      'contexts:',
      '- name: bed\n  context:\n    cluster: bed\n    user: admin',
      'current-context: bed',
      '',
    ].join('\n'),
  );
  return file;
}
