// Sticky routing over a fleet of BuildKit daemons: rendezvous (highest random weight) hashing.
// Pure: the same key and endpoint list give the same order on every machine.
import { createHash } from 'node:crypto';

/** A key's weight on one endpoint: the first 8 bytes of SHA-256(endpoint NUL key). */
function weight(endpoint: string, key: string): bigint {
  return createHash('sha256').update(endpoint).update('\0').update(key).digest().readBigUInt64BE(0);
}

/**
 * The endpoints in the order a build for `key` tries them: the first holds the key's cache.
 * Removing an endpoint moves only the keys that ranked it first, each to its own next one, so
 * the rest of the fleet keeps its caches; adding one takes about 1/n of the keys.
 */
export function rankEndpoints(endpoints: readonly string[], key: string): string[] {
  const unique = [...new Set(endpoints)];
  return unique
    .map((endpoint) => ({ endpoint, weight: weight(endpoint, key) }))
    .sort((a, b) => (a.weight === b.weight ? (a.endpoint < b.endpoint ? -1 : 1) : a.weight > b.weight ? -1 : 1))
    .map((entry) => entry.endpoint);
}
