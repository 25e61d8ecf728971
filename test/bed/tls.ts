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

/** A new P-256 key and self-signed CA certificate. */
function makeCa(dir: string, name: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const cert = path.join(dir, 'ca.pem');
  const key = path.join(dir, 'ca-key.pem');
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

/** A new key and a certificate for it signed by `ca`, with the given X.509v3 extensions. */
function makeLeaf(ca: { cert: string; key: string }, cert: string, key: string, cn: string, extensions: string): void {
  const csr = `${cert}.csr`;
  const ext = `${cert}.ext`;
  writeFileSync(ext, extensions);
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
    `/CN=${cn}`,
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
    '-set_serial',
    `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6)}`,
    '-days',
    '2',
    '-out',
    cert,
    '-extfile',
    ext,
  ]);
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
  makeLeaf(
    ca,
    server.cert,
    server.key,
    '127.0.0.1',
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '',
    ].join('\n'),
  );
  const client = secret('client', ca.cert);
  makeLeaf(
    ca,
    client.cert,
    client.key,
    'buildkit-step bed client',
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=clientAuth',
      '',
    ].join('\n'),
  );
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
  const cert = path.join(dir, 'registry-cert.pem');
  const key = path.join(dir, 'registry-key.pem');
  makeLeaf(
    ca,
    cert,
    key,
    address,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=IP:${address}`,
      '',
    ].join('\n'),
  );
  return { ca: ca.cert, cert, key };
}
