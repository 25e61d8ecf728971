// A loopback HTTP reverse proxy in front of a bed registry that fails the first N matching requests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FlakyProxyOptions = {
  /** How many matching requests to answer with `status` before forwarding everything. */
  failFirst: number;
  /** The injected status; default 503. */
  status?: number;
  /** Which requests count; default: pushes (POST/PUT/PATCH to /v2/.../blobs/uploads/... or /v2/.../manifests/...). */
  match?: (req: http.IncomingMessage) => boolean;
  /** A plain-text body for the injected answer; default: a registry error JSON (`{"errors":[{"code":"UNAVAILABLE",...}]}`). */
  body?: string;
};

export type FlakyProxy = {
  /** `127.0.0.1:PORT` of the proxy. */
  host: string;
  /** Requests answered with the injected status so far. */
  failures: () => number;
  /** All requests received so far. */
  requests: () => number;
  /** Method and path of every request, with the status the client got (for diagnostics). */
  log: () => string[];
  close: () => Promise<void>;
};

/** Only `PUT /v2/<name>/manifests/<tag>`: the last, sequential request of a push (deterministic retry counts). */
export function isManifestPut(tag: string): (req: http.IncomingMessage) => boolean {
  return (req) =>
    req.method === 'PUT' && new URL(req.url ?? '/', 'http://proxy').pathname.endsWith(`/manifests/${tag}`);
}

/** Registry writes: starting or continuing a blob upload, or putting a manifest. */
export function isPush(req: http.IncomingMessage): boolean {
  if (!['POST', 'PUT', 'PATCH'].includes(req.method ?? '')) return false;
  const pathname = new URL(req.url ?? '/', 'http://proxy').pathname;
  return /^\/v2\/.+\/(blobs\/uploads\/.*|manifests\/[^/]+)$/.test(pathname);
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

const forwardable = (headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders =>
  Object.fromEntries(Object.entries(headers).filter(([name, value]) => value !== undefined && !HOP_BY_HOP.has(name)));

/** Starts the proxy on a free 127.0.0.1 port in this process, forwarding to `targetHost` (`127.0.0.1:PORT`). */
export function startFlakyProxy(targetHost: string, options: FlakyProxyOptions): Promise<FlakyProxy> {
  const status = options.status ?? 503;
  const match = options.match ?? isPush;
  let failures = 0;
  let requests = 0;
  const log: string[] = [];
  let proxyHost = '';

  const server = http.createServer((req, res) => {
    requests++;
    const line = `${req.method} ${req.url}`;
    if (failures < options.failFirst && match(req)) {
      failures++;
      log.push(`${line} -> ${status} (injected)`);
      // Read the whole body first so the client sees a clean response, not a reset.
      req.resume();
      req.on('end', () => {
        const json = options.body === undefined;
        const body = json
          ? JSON.stringify({
              errors: [{ code: 'UNAVAILABLE', message: `injected by flaky proxy (${failures}/${options.failFirst})` }],
            })
          : options.body!;
        res.writeHead(status, {
          'content-type': json ? 'application/json' : 'text/plain',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      });
      return;
    }
    const upstream = http.request(
      {
        host: targetHost.split(':')[0],
        port: Number(targetHost.split(':')[1]),
        method: req.method,
        path: req.url,
        headers: { ...forwardable(req.headers), host: targetHost },
      },
      (answer) => {
        const headers = forwardable(answer.headers);
        const location = answer.headers.location;
        if (location) headers.location = location.replace(`//${targetHost}/`, `//${proxyHost}/`);
        log.push(`${line} -> ${answer.statusCode}`);
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      log.push(`${line} -> 502 (${error.message})`);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`flaky proxy: upstream error: ${error.message}`);
    });
    req.pipe(upstream);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      proxyHost = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve({
        host: proxyHost,
        failures: () => failures,
        requests: () => requests,
        log: () => [...log],
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
