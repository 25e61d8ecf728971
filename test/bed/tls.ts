// Generates a throw-away CA, server and client certificates (plus an unrelated CA) with the openssl CLI.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TlsMaterial } from '../../src/daemon/probe.js';
import type { BuildkitdOptions } from './buildkitd.js';

/** Client material laid out as a mounted Kubernetes Secret: `<dir>/ca.pem`, `cert.pem`, `key.pem`. */
export type TlsSecretDir = { dir: string; ca: string; cert: string; key: string };

export type TlsFiles = {
  /** The client side: the right CA and a client certificate signed by it. */
  client: TlsSecretDir;
  /** The server side (for buildkitd `--tlscacert/--tlscert/--tlskey`): CA, certificate for 127.0.0.1 and localhost, key. */
  server: TlsSecretDir;
  /** Like `client`, but `ca.pem` is the unrelated CA, so the server certificate cannot be verified. */
  wrongCa: TlsSecretDir;
  /** The server name its certificate is valid for as a DNS name (for `servername=`). */
  servername: string;
};

const openssl = (args: readonly string[]): void => {
  execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
};

export type KeyPair = { cert: string; key: string };

/** openssl req's arguments for a new unencrypted P-256 key. */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A new P-256 key and a self-signed CA certificate for `subject` (openssl's -subj form, /CN=...). */
export function makeCaFiles(ca: KeyPair, subject: string): KeyPair {
  openssl([
    'req',
    '-x509',
    ...NEW_KEY,
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
    '-days',
    '2',
    '-subj',
    subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return ca;
}

/**
 * A new P-256 key and a leaf certificate for `subject` signed by `ca` (not a CA, for signatures and
 * key exchange) with the X.509v3 `extensions` lines added (extended key usage, subject names).
 */
export function signLeaf(ca: KeyPair, leaf: KeyPair, subject: string, extensions: string[]): KeyPair {
  const csr = `${leaf.cert}.csr`;
  const ext = `${leaf.cert}.ext`;
  const lines = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment'];
  writeFileSync(ext, `${[...lines, ...extensions].join('\n')}\n`);
  openssl(['req', '-new', ...NEW_KEY, '-keyout', leaf.key, '-out', csr, '-subj', subject]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-set_serial',
    `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6)}`,
    '-days',
    '2',
    '-out',
    leaf.cert,
    '-extfile',
    ext,
  ]);
  return leaf;
}

/** A CA in `dir` (ca.pem, ca-key.pem). */
function makeCa(dir: string, name: string): KeyPair {
  mkdirSync(dir, { recursive: true });
  return makeCaFiles({ cert: path.join(dir, 'ca.pem'), key: path.join(dir, 'ca-key.pem') }, `/CN=${name}`);
}

/** Writes CA, server, client and wrong-CA PEM files under `dir` and returns their paths. */
export function makeTlsFiles(dir: string): TlsFiles {
  const ca = makeCa(path.join(dir, 'ca'), 'buildkit-step bed CA');
  const otherCa = makeCa(path.join(dir, 'other-ca'), 'buildkit-step unrelated CA');
  const secret = (name: string, caFile: string): TlsSecretDir => {
    const secretDir = path.join(dir, name);
    mkdirSync(secretDir, { recursive: true });
    const files = {
      dir: secretDir,
      ca: path.join(secretDir, 'ca.pem'),
      cert: path.join(secretDir, 'cert.pem'),
      key: path.join(secretDir, 'key.pem'),
    };
    writeFileSync(files.ca, readFileSync(caFile));
    return files;
  };
  const server = secret('server', ca.cert);
  signLeaf(ca, server, '/CN=127.0.0.1', ['extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
  const client = secret('client', ca.cert);
  signLeaf(ca, client, '/CN=buildkit-step bed client', ['extendedKeyUsage=clientAuth']);
  const wrongCa = secret('wrong-ca', otherCa.cert);
  writeFileSync(wrongCa.cert, readFileSync(client.cert));
  writeFileSync(wrongCa.key, readFileSync(client.key));
  return { client, server, wrongCa, servername: 'localhost' };
}

/** The PEM contents of a Secret-style dir, as `probeDaemon` and `startBuildkitd` take them. */
/** buildkitd's `tls` option for a TCP listener made from `files`: the server's files, and the client material to probe it with. */
export function daemonTls(files: TlsFiles): NonNullable<BuildkitdOptions['tls']> {
  return {
    serverCa: files.server.ca,
    serverCert: files.server.cert,
    serverKey: files.server.key,
    client: tlsMaterial(files.client),
  };
}

export function tlsMaterial(files: TlsSecretDir, servername?: string): TlsMaterial {
  return {
    ca: readFileSync(files.ca),
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    ...(servername ? { servername } : {}),
  };
}

/** A new CA and a server certificate it signs for `address` (an IP): for an HTTPS bed registry. `ca` is the CA's PEM file. */
export function makeRegistryTls(dir: string, address: string): { ca: string; cert: string; key: string } {
  const ca = makeCa(path.join(dir, 'ca'), 'buildkit-step bed registry CA');
  const leaf = { cert: path.join(dir, 'registry-cert.pem'), key: path.join(dir, 'registry-key.pem') };
  signLeaf(ca, leaf, `/CN=${address}`, ['extendedKeyUsage=serverAuth', `subjectAltName=IP:${address}`]);
  return { ca: ca.cert, ...leaf };
}
