// Tells why buildx failed from its last output lines: a real build failure, an auth problem,
// a push problem, a lost daemon, or something transient worth another attempt. Pure.
import type { ErrorCode } from '../errors.js';

export type Failure = {
  code: ErrorCode;
  transient: boolean;
  detail: string;
  /** What to set, when the failure says it (a plain-HTTP or untrusted registry). */
  hint?: string;
  /** The registry host the failure names, when it names one. */
  registry?: string;
};

/** Failures of the build itself: retrying cannot help. */
const BUILD_ERROR = [
  /did not complete successfully: exit code/,
  /failed to compute cache key/,
  /failed to calculate checksum/,
  /dockerfile parse error|Dockerfile parse error|unknown instruction/i,
  /failed to read dockerfile|failed to parse (?:stage name|platform)/i,
  /target stage "[^"]*" could not be found/,
  /invalid reference format/,
];

/** The registry said no to the credentials: a 401/403 or its error codes. */
const AUTH_ERROR = [
  /\b401 Unauthorized/,
  /\b403 Forbidden/,
  /\bunauthorized:/i,
  /authentication required/,
  /insufficient_scope/,
  /push access denied/,
  /requested access to the resource is denied/,
  /no basic auth credentials/,
];

/** Network and server trouble that goes away: worth another attempt. */
const TRANSIENT = [
  /\b50[0234] (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)/,
  /\bstatus(?: code)?:? 50[0234]\b/,
  /\b429 Too Many Requests|toomanyrequests/i,
  // A registry's JSON error code for 503, which is all buildx keeps of it in the ERROR line.
  /: unavailable:/,
  /connection reset by peer|connection refused|connection timed out|broken pipe/,
  /i\/o timeout|TLS handshake timeout|context deadline exceeded/,
  /unexpected EOF|: EOF$/m,
  /GOAWAY|http2: server sent GOAWAY/,
  /server misbehaving|temporary failure in name resolution/i,
];

/** The daemon went away under the build (crash, restart, OOM kill). */
// gRPC's words for a connection that broke; buildx prints them as `code = Unavailable desc = ...`
// or, from the solve, as `Unavailable: error reading from server: ...` (both seen on a killed daemon).
const DAEMON_LOST = [/code = Unavailable/, /error reading from server: /, /transport is closing/];

/** A registry that speaks plain HTTP where BuildKit expected HTTPS. */
const PLAIN_HTTP = /server gave HTTP response to HTTPS client/;
/** A registry certificate the daemon cannot verify. */
const UNTRUSTED = /x509: |tls: failed to verify certificate/;
/** A credential helper from `credHelpers`/`credsStore` failed (docker's client words). */
export const HELPER_FAILED = /error getting credentials/;

const PUSH = [/failed to push/, /pushing (?:layers|manifest)/, /failed commit on ref/, /failed to do request.*\/v2\//];

/** The part of the output that explains the failure: from buildx's first `ERROR:` line on. */
export function errorSection(tail: readonly string[]): string[] {
  const lines = tail.map((line) => line.trimEnd()).filter(Boolean);
  const start = lines.findIndex((line) => /^(ERROR|error):/.test(line));
  return start >= 0 ? lines.slice(start) : lines.slice(-5);
}

export function classifyFailure(tail: readonly string[]): Failure {
  const section = errorSection(tail);
  const text = section.join('\n');
  const detail = section.slice(0, 12).join('\n');
  const entitlement = /granting entitlement ([a-z.]+) is not allowed|entitlement ([a-z.]+) is not allowed/.exec(text);
  if (entitlement) {
    const name = entitlement[1] ?? entitlement[2];
    return {
      code: 'ENTITLEMENT_REFUSED',
      transient: false,
      detail: `the BuildKit daemon does not grant ${name} (add insecure-entitlements = ["${name}"] to its buildkitd.toml, with the shipped files through the buildkitd-config workspace or ConfigMap, or start it with --allow-insecure-entitlement ${name}): ${detail}`,
    };
  }
  const matches = (patterns: RegExp[]) => patterns.some((pattern) => pattern.test(text));
  if (matches(BUILD_ERROR)) return { code: 'BUILD_FAILED', transient: false, detail };
  if (matches(DAEMON_LOST)) return { code: 'DAEMON_UNREACHABLE', transient: true, detail };
  const registry = /https?:\/\/([^/"\s]+)\//.exec(text)?.[1];
  const at = registry ?? 'the registry';
  if (PLAIN_HTTP.test(text)) {
    return {
      code: 'REGISTRY_TLS',
      transient: false,
      detail,
      registry,
      hint: `${at} answers plain HTTP: list it in registry_http (REGISTRY_HTTP)`,
    };
  }
  if (UNTRUSTED.test(text) && !/TLS handshake timeout/.test(text)) {
    const hint = `the certificate of ${at} is not trusted by the daemon: give its CA in registry_ca (REGISTRY_CA), or list it in registry_insecure to skip verification`;
    return { code: 'REGISTRY_TLS', transient: false, detail, registry, hint };
  }
  if (HELPER_FAILED.test(text)) return { code: 'REGISTRY_AUTH', transient: false, detail, registry };
  const transient = matches(TRANSIENT);
  // A token server that answers 503 or times out is an outage, not bad credentials.
  if (matches(AUTH_ERROR) && !transient) return { code: 'REGISTRY_AUTH', transient: false, detail };
  if (/failed to authorize|failed to fetch (?:oauth|anonymous) token/.test(text))
    return { code: 'REGISTRY_AUTH', transient, detail };
  if (matches(PUSH)) return { code: 'PUSH_FAILED', transient, detail };
  return { code: 'BUILD_FAILED', transient, detail };
}
