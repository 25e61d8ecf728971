// What a step may leave behind after it ended: processes of its own (found by a marker in their
// environment, which every child inherits) and secret files.
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const MARKER_NAME = 'BUILDKIT_STEP_TEST_MARKER';

/** A unique env var for one step run; pass `env` to the step, then ask `survivors` about it. */
export type Marker = { env: Record<string, string>; needle: string };

export function stepMarker(): Marker {
  const value = randomUUID();
  return { env: { [MARKER_NAME]: value }, needle: `${MARKER_NAME}=${value}` };
}

export type Survivor = { pid: number; command: string };

/** Every process (but this one) whose environment holds the marker. */
export function survivors(marker: Marker): Survivor[] {
  const found: Survivor[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue; // gone meanwhile, or a kernel thread
    }
    if (!environ.split('\0').includes(marker.needle)) continue;
    let command = '';
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').join(' ').trim();
    } catch {
      // gone meanwhile
    }
    found.push({ pid: Number(entry), command });
  }
  return found;
}

/**
 * Polls until no process with the marker whose command matches `which` is left; resolves with the
 * ms it took, or with the survivors when `timeoutMs` passed.
 */
export async function untilGone(
  marker: Marker,
  which: RegExp,
  timeoutMs: number,
): Promise<{ ms: number; left: Survivor[] }> {
  const started = Date.now();
  for (;;) {
    const left = survivors(marker).filter((survivor) => which.test(survivor.command));
    if (left.length === 0 || Date.now() - started > timeoutMs) return { ms: Date.now() - started, left };
    await sleep(10);
  }
}

/**
 * Everything under `dirs` that still holds a secret: a file whose content includes one of
 * `secrets`, or a private dir the step made for secret files (`private-*`).
 */
export function secretLeftovers(dirs: string[], secrets: string[]): string[] {
  const found: string[] = [];
  const visit = (file: string) => {
    let stats;
    try {
      stats = statSync(file);
    } catch {
      return;
    }
    if (stats.isDirectory()) {
      if (path.basename(file).startsWith('private-')) found.push(`${file} (private dir)`);
      for (const name of readdirSync(file)) visit(path.join(file, name));
      return;
    }
    if (!stats.isFile() || stats.size > 16 * 1024 * 1024) return;
    const content = readFileSync(file, 'latin1');
    if (secrets.some((secret) => content.includes(secret))) found.push(file);
  };
  for (const dir of dirs) if (existsSync(dir)) visit(dir);
  return found;
}
