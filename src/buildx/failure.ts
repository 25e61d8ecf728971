// Tells why buildx failed from its last output lines: a real build failure, an auth problem,
// a push problem, or something transient worth another attempt. Pure.
import type { ErrorCode } from '../errors.js';

export type Failure = { code: ErrorCode; transient: boolean; detail: string };

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

const AUTH_ERROR = [/401 Unauthorized/, /403 Forbidden/, /\bunauthorized\b/i, /failed to authorize/, /authentication required/, /insufficient_scope/, /push access denied/, /requested access to the resource is denied/];

const TRANSIENT = [
  /\b50[0234]\b/,
  /Service Unavailable|Bad Gateway|Gateway Timeout|Internal Server Error/,
  /connection reset by peer/,
  /connection refused/,
  /i\/o timeout/,
  /TLS handshake timeout/,
  /unexpected EOF/,
  /context deadline exceeded/,
  /broken pipe/,
  /server misbehaving|temporary failure in name resolution/i,
  /too many requests|toomanyrequests|\b429\b/i,
  // A registry's JSON error code for 503, which is all buildx keeps of it in the ERROR line.
  /: unavailable:/,
];

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
  const matches = (patterns: RegExp[]) => patterns.some((pattern) => pattern.test(text));
  if (matches(BUILD_ERROR)) return { code: 'BUILD_FAILED', transient: false, detail };
  if (matches(AUTH_ERROR)) return { code: 'REGISTRY_AUTH', transient: false, detail };
  const transient = matches(TRANSIENT);
  if (matches(PUSH)) return { code: 'PUSH_FAILED', transient, detail };
  return { code: 'BUILD_FAILED', transient, detail };
}
