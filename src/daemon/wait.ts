// Waits, with backoff and a deadline, until the daemon lists its workers.
import { setTimeout as sleep } from 'node:timers/promises';
import { StepError } from '../errors.js';
import { isTlsFailure, type ProbeResult, type TlsMaterial } from './probe.js';
import { SIDECAR_CONTAINERS } from './sidecar.js';

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
  /**
   * Pause while nothing listens yet (no socket file, connection refused): short and fixed, so a
   * sidecar that comes up late is noticed within this time. Such a try costs one failed connect.
   */
  absentPollMs?: number;
  /**
   * For how long a `tcp://` endpoint gets the short poll; after that, the backoff. A fleet
   * Service with no ready endpoint refuses connections for minutes, and many waiting steps should
   * not knock 50 times a second each all that time. A unix socket is a local file: always short.
   */
  absentPollTcpForMs?: number;
  /**
   * For how long after a unix socket first appears EACCES still means "starting": buildkitd
   * creates its socket, then chmods and chowns it (`--group`). After that, EACCES is final.
   */
  accessGraceMs?: number;
  /** Injectable pause (tests record the delays); must end early when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Ends the wait at once (SIGTERM), with INTERRUPTED. */
  signal?: AbortSignal;
};

/** Socket errors that mean nothing listens at the endpoint yet: the daemon is still starting. */
const NOT_LISTENING = new Set(['ENOENT', 'ECONNREFUSED']);

const realSleep = (ms: number, signal?: AbortSignal) => sleep(ms, undefined, { signal }).catch(() => {});

/** Resolves with the number of tries once the daemon answers; throws DAEMON_UNREACHABLE at the deadline. */
export async function waitForDaemon(options: WaitOptions): Promise<{ tries: number; workers: number }> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  let delay = options.initialDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 2000;
  const absentPoll = options.absentPollMs ?? 20;
  const shortPollUntil = options.endpoint.startsWith('unix://')
    ? Infinity
    : now() + (options.absentPollTcpForMs ?? 5000);
  const pause = options.sleep ?? realSleep;
  const unix = options.endpoint.startsWith('unix://');
  const accessGrace = options.accessGraceMs ?? 2000;
  let tries = 0;
  let lastReason = '';
  /** When the unix socket was first there (any answer but ENOENT). */
  let socketSeenAt: number | undefined;
  for (;;) {
    if (options.signal?.aborted)
      throw new StepError('INTERRUPTED', `interrupted while waiting for the BuildKit daemon at ${options.endpoint}`);
    tries++;
    const remaining = deadline - now();
    const result = await options.probe(options.endpoint, options.tls, Math.max(50, Math.min(remaining, 5000)));
    if (result.ok) return { tries, workers: result.workers };
    if (unix && result.code !== 'ENOENT') socketSeenAt ??= now();
    const settling = unix && result.code === 'EACCES' && now() - socketSeenAt! < accessGrace;
    if (!result.transient && !settling) {
      // Only a failed handshake is DAEMON_TLS: any other refusal is the daemon's, not the certificate's.
      const code = options.tls && isTlsFailure(result.code) ? 'DAEMON_TLS' : 'DAEMON_UNREACHABLE';
      throw new StepError(code, `BuildKit daemon at ${options.endpoint} cannot be reached: ${result.reason}`);
    }
    if (result.reason !== lastReason)
      options.log(`waiting for BuildKit daemon at ${options.endpoint}: ${result.reason}`);
    lastReason = result.reason;
    const left = deadline - now();
    if (left <= 0) {
      const hint = unix ? sidecarHint(result.code, socketSeenAt !== undefined) : '';
      throw new StepError(
        'DAEMON_UNREACHABLE',
        `BuildKit daemon at ${options.endpoint} did not answer within ${options.timeoutMs / 1000} s (${tries} tries; last: ${lastReason})${hint}`,
      );
    }
    if (((result.code !== undefined && NOT_LISTENING.has(result.code)) || settling) && now() < shortPollUntil) {
      await pause(Math.min(absentPoll, left), options.signal);
    } else {
      // Something listens but does not answer properly yet (no workers, gRPC unavailable): back off.
      await pause(Math.min(delay, left), options.signal);
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}

/**
 * For a unix socket that never appeared, vanished, or has no daemon behind it: the daemon is not
 * running, and why is in its own log, not the step's.
 */
function sidecarHint(code: string | undefined, seen: boolean): string {
  const state =
    code === 'ENOENT'
      ? seen
        ? 'the socket disappeared'
        : 'the socket never appeared'
      : code === 'ECONNREFUSED'
        ? 'nothing listens on the socket'
        : undefined;
  if (!state) return '';
  return `: ${state}, so the daemon is not running. See its log: with the shipped files, \`kubectl logs POD -c ${SIDECAR_CONTAINERS.tekton}\` (Tekton) or \`-c ${SIDECAR_CONTAINERS.argo}\` (Argo)`;
}
