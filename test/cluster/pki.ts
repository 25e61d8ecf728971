// The cluster's certificates, made with the openssl CLI: one CA signs the apiserver, the kubelet,
// an admin client (system:masters, used by every component and the tests) and the in-cluster
// registry; plus the service-account signing key.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeCaFiles, signLeaf, type KeyPair } from '../bed/tls.js';
import type { Net } from './net.js';

export type Pki = {
  dir: string;
  ca: string;
  caKey: string;
  apiserver: KeyPair;
  kubelet: KeyPair;
  admin: KeyPair;
  registry: KeyPair;
  saKey: string;
  saPub: string;
};

const openssl = (args: readonly string[]): void => {
  execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
};

/** A leaf certificate `<dir>/<name>.crt` and key `<name>.key` signed by the cluster CA. */
const leaf = (dir: string, ca: KeyPair, name: string, subject: string, extensions: string[]): KeyPair =>
  signLeaf(ca, { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) }, subject, extensions);

export function makePki(dir: string, net: Net): Pki {
  mkdirSync(dir, { recursive: true });
  const ca = { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
  makeCaFiles(ca, '/CN=buildkit-step cluster bed CA');
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
