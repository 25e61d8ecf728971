// The registry cache's refs: a stable key (not the image tags), fallbacks read after it, a
// suffix per target and single platform, all made safe as tag names. Pure.
import { createHash } from 'node:crypto';

/** Longest tag a registry takes (distribution's reference grammar). */
export const MAX_TAG_LENGTH = 128;

/** Hex characters of the original key's SHA-256 kept at the end of a shortened key. */
const HASH_CHARS = 12;

/**
 * A key (e.g. a branch name) as a tag: every character outside `A-Za-z0-9_.-` becomes `-`, and
 * leading `.` and `-` go (`feature/x` → `feature-x`, `.hidden` → `hidden`). Undefined when
 * nothing is left. Longer than `room`: cut, and ended with `-` and 12 hex characters of the
 * original key's SHA-256, so two long names that share a beginning keep apart.
 */
export function keyAsTag(key: string, room = MAX_TAG_LENGTH): string | undefined {
  const safe = key.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[.-]+/, '');
  if (safe === '') return undefined;
  if (safe.length <= room) return safe;
  const hash = createHash('sha256').update(key).digest('hex').slice(0, HASH_CHARS);
  return `${safe.slice(0, room - HASH_CHARS - 1)}-${hash}`;
}

/** Longest suffix; the rest of the 128 characters is the key's. */
const MAX_SUFFIX_LENGTH = 64;

/**
 * What keeps the caches of different outputs of one repository apart: `-<target>` when a target
 * is set, `-<os>-<arch>[-<variant>]` when exactly one platform is (several platforms share one
 * cache, which holds them all). Empty otherwise. At most 64 characters (shortened like a key).
 */
export function cacheSuffix(target: string | undefined, platforms: readonly string[]): string {
  const parts = [...(target ? [target] : []), ...(platforms.length === 1 ? [platforms[0]!] : [])];
  if (parts.length === 0) return '';
  return `-${keyAsTag(parts.join('-'), MAX_SUFFIX_LENGTH - 1)}`;
}

/** A key with the suffix, as a tag; the key is shortened (never the suffix) when both do not fit. */
export function cacheTag(key: string, suffix: string): string | undefined {
  const tag = keyAsTag(key, MAX_TAG_LENGTH - suffix.length);
  return tag === undefined ? undefined : `${tag}${suffix}`;
}

export type CacheSettings = {
  repo: string | undefined;
  key: string;
  fallbackKeys: readonly string[];
  write: boolean;
  target: string | undefined;
  platforms: readonly string[];
};

/** The refs to import (the key, then the fallbacks, each once) and the one ref to export to. */
export function cacheRefs(settings: CacheSettings): { from: string[]; to: string | undefined } {
  if (!settings.repo) return { from: [], to: undefined };
  const suffix = cacheSuffix(settings.target, settings.platforms);
  const tags = [settings.key, ...settings.fallbackKeys]
    .map((key) => cacheTag(key, suffix))
    .filter((tag): tag is string => tag !== undefined);
  const refs = [...new Set(tags)].map((tag) => `${settings.repo}:${tag}`);
  return { from: refs, to: settings.write ? refs[0] : undefined };
}

/** Keys that leave nothing usable as a tag, as problems naming their param. */
export function unusableKeys(key: string, fallbackKeys: readonly string[]): string[] {
  const bad = (value: string) => keyAsTag(value) === undefined;
  return [
    ...(bad(key)
      ? [`cache_key: ${JSON.stringify(key)} has no character usable in a tag (A-Za-z0-9_.-, not starting with . or -)`]
      : []),
    ...fallbackKeys.flatMap((value, index) =>
      bad(value)
        ? [
            `cache_fallback_keys/${index}: ${JSON.stringify(value)} has no character usable in a tag (A-Za-z0-9_.-, not starting with . or -)`,
          ]
        : [],
    ),
  ];
}
