// Asks a BuildKit daemon over gRPC which workers it has: the daemon "really answers" when it
// lists at least one. Uses node:http2 directly, so no buildx or buildctl process is needed.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';

/** Client TLS material for a `tcp://` endpoint (PEM contents, not paths). */
export type TlsMaterial = { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string };

export type ProbeResult =
  | { ok: true; workers: number }
  | {
      ok: false;
      transient: boolean;
      reason: string;
      /** The socket error's code (ENOENT, ECONNREFUSED, ...), when there is one. */ code?: string;
    };

const LIST_WORKERS = '/moby.buildkit.v1.Control/ListWorkers';

/** One ListWorkers call, bounded by `timeoutMs`. Never throws. */
export function probeDaemon(
  endpoint: string,
  tlsMaterial: TlsMaterial | undefined,
  timeoutMs: number,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let session: http2.ClientHttp2Session | undefined;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session?.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, transient: true, reason: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );

    try {
      session = connect(endpoint, tlsMaterial);
    } catch (error) {
      finish({ ok: false, transient: false, reason: (error as Error).message });
      return;
    }
    session.on('error', (error: NodeJS.ErrnoException) => finish(classify(error)));

    const request = session.request({
      ':method': 'POST',
      ':path': LIST_WORKERS,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    request.on('response', (headers) => {
      if (headers[':status'] !== 200)
        finish({ ok: false, transient: true, reason: `HTTP/2 status ${headers[':status']}` });
      status = headers['grpc-status'] as string | undefined;
    });
    request.on('trailers', (trailers: http2.IncomingHttpHeaders) => {
      status = (trailers['grpc-status'] as string | undefined) ?? status;
      if (status !== '0') {
        const message = decodeURIComponent(String(trailers['grpc-message'] ?? ''));
        finish({ ok: false, transient: true, reason: `gRPC status ${status}${message ? `: ${message}` : ''}` });
      }
    });
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('error', (error: NodeJS.ErrnoException) => finish(classify(error)));
    request.on('end', () => {
      if (status !== '0') return finish({ ok: false, transient: true, reason: `gRPC status ${status ?? 'missing'}` });
      const workers = countWorkers(Buffer.concat(chunks));
      finish(
        workers > 0 ? { ok: true, workers } : { ok: false, transient: true, reason: 'the daemon has no workers yet' },
      );
    });
    // An empty ListWorkersRequest: uncompressed flag 0, length 0.
    request.end(Buffer.alloc(5));
  });
}

function connect(endpoint: string, material: TlsMaterial | undefined): http2.ClientHttp2Session {
  const url = new URL(endpoint);
  if (url.protocol === 'unix:') {
    return http2.connect('http://localhost', { createConnection: () => net.connect(url.pathname) });
  }
  if (url.protocol !== 'tcp:') throw new Error(`unsupported endpoint scheme ${url.protocol}`);
  const port = Number(url.port);
  if (!material) return http2.connect(`http://${url.hostname}:${port}`);
  return http2.connect(`https://${url.hostname}:${port}`, {
    createConnection: () =>
      tls.connect({
        host: url.hostname,
        port,
        ca: material.ca,
        cert: material.cert,
        key: material.key,
        servername: material.servername ?? (net.isIP(url.hostname) ? undefined : url.hostname),
        ALPNProtocols: ['h2'],
      }),
  });
}

/**
 * Codes of a failed TLS handshake: the server's certificate does not verify against the CA, names
 * another host, or the server refused the client's certificate. The same on every replica of a
 * fleet, so the only failures reported as DAEMON_TLS.
 */
export function isTlsFailure(code: string | undefined): boolean {
  if (!code) return false;
  return (
    /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_)/.test(code) ||
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'HOSTNAME_MISMATCH', 'EPROTO'].includes(code)
  );
}

/**
 * Socket-level failures that go away when the daemon comes up are transient; TLS ones are not. A
 * name that does not resolve is transient too: Kubernetes DNS publishes a StatefulSet pod's name
 * only while the pod is ready, so a restarting fleet replica gives ENOTFOUND for a while.
 */
function classify(thrown: NodeJS.ErrnoException): ProbeResult {
  // node:http2 reports a failed connect as a cancelled stream; the socket error is the cause.
  const error = (thrown.cause as NodeJS.ErrnoException | undefined) ?? thrown;
  const code = error.code ?? '';
  const transient = [
    'ENOENT',
    'ECONNREFUSED',
    'ECONNRESET',
    'EPIPE',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'EAI_AGAIN',
    'ENOTFOUND',
    'EADDRNOTAVAIL',
    'ECONNABORTED',
    'ERR_HTTP2_STREAM_CANCEL',
    'ERR_HTTP2_SESSION_ERROR',
    'ERR_HTTP2_GOAWAY_SESSION',
    'ERR_HTTP2_STREAM_ERROR',
  ].includes(code);
  return {
    ok: false,
    transient,
    reason: code ? `${code}: ${error.message}` : error.message,
    ...(code ? { code } : {}),
  };
}

/** Counts field-1 entries (WorkerRecord) in a gRPC-framed ListWorkersResponse. */
export function countWorkers(frame: Buffer): number {
  if (frame.length < 5) return 0;
  const message = frame.subarray(5, 5 + frame.readUInt32BE(1));
  let offset = 0;
  let count = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = message[offset++];
      if (byte === undefined) throw new RangeError('truncated varint');
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
  };
  try {
    while (offset < message.length) {
      const key = varint();
      const wireType = key & 7;
      if (wireType === 2) {
        const length = varint();
        offset += length;
        if (key >>> 3 === 1) count++;
      } else if (wireType === 0) varint();
      else if (wireType === 1) offset += 8;
      else if (wireType === 5) offset += 4;
      else return count;
    }
  } catch {
    return count;
  }
  return count;
}
