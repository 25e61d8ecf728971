// Waits, with backoff and a deadline, until the daemon lists its workers.
import { setTimeout as sleep } from 'node:timers/promises';
import { StepError } from '../errors.js';
import type { ProbeResult, TlsMaterial } from './probe.js';

export type Probe = (endpoint: string, tls: TlsMaterial | undefined, timeoutMs: number) => Promise<ProbeResult>;

export type WaitOptions = {
  endpoint: string;
  tls?: TlsMaterial;
  timeoutMs: number;
  probe: Probe;
  log: (line: string) => void;
  now?: () => number;
  /** First pause between tries; doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Ends the wait at once (SIGTERM), with INTERRUPTED. */
  signal?: AbortSignal;
};

/** Resolves with the number of tries once the daemon answers; throws DAEMON_UNREACHABLE at the deadline. */
export async function waitForDaemon(options: WaitOptions): Promise<{ tries: number; workers: number }> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  let delay = options.initialDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 2000;
  let tries = 0;
  let lastReason = '';
  for (;;) {
    if (options.signal?.aborted) throw new StepError('INTERRUPTED', `interrupted while waiting for the BuildKit daemon at ${options.endpoint}`);
    tries++;
    const remaining = deadline - now();
    const result = await options.probe(options.endpoint, options.tls, Math.max(50, Math.min(remaining, 5000)));
    if (result.ok) return { tries, workers: result.workers };
    if (!result.transient) {
      const code = options.tls ? 'DAEMON_TLS' : 'DAEMON_UNREACHABLE';
      throw new StepError(code, `BuildKit daemon at ${options.endpoint} cannot be reached: ${result.reason}`);
    }
    if (result.reason !== lastReason) options.log(`waiting for BuildKit daemon at ${options.endpoint}: ${result.reason}`);
    lastReason = result.reason;
    const left = deadline - now();
    if (left <= 0) {
      throw new StepError(
        'DAEMON_UNREACHABLE',
        `BuildKit daemon at ${options.endpoint} did not answer within ${options.timeoutMs / 1000} s (${tries} tries; last: ${lastReason})`,
      );
    }
    await sleep(Math.min(delay, left), undefined, { signal: options.signal }).catch(() => {});
    delay = Math.min(delay * 2, maxDelay);
  }
}
