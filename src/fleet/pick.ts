// Picks the fleet replica for a build: the routing key's first choice if it answers within
// `waitMs`, else the next in its rendezvous order. Talks to the daemons (through `probe`).
import type { TlsMaterial } from '../daemon/probe.js';
import { waitForDaemon, type Probe } from '../daemon/wait.js';
import { StepError } from '../errors.js';
import { rankEndpoints } from './route.js';

export type Picked = {
  endpoint: string;
  /** Position of `endpoint` in the key's order (0: the replica that holds the key's cache). */
  rank: number;
  /** Replicas that did not answer when tried (in the key's order, the one that built left out), and why. */
  skipped: Array<{ endpoint: string; reason: string }>;
  workers: number;
  tries: number;
};

export type PickOptions = {
  endpoints: readonly string[];
  routingKey: string;
  /** How long each replica gets to answer before the next one is tried. */
  waitMs: number;
  /** How long to go round the fleet in all (daemon_timeout): a fleet that is restarting may need more than one pass. */
  timeoutMs: number;
  tls: TlsMaterial | undefined;
  probe: Probe;
  log: (line: string) => void;
  signal?: AbortSignal;
  now?: () => number;
};

/** The first replica in the key's order that answers, going round again until `timeoutMs`; DAEMON_UNREACHABLE when none does. */
export async function pickEndpoint(options: PickOptions): Promise<Picked> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  const ranked = rankEndpoints(options.endpoints, options.routingKey);
  const skipped: Picked['skipped'] = [];
  for (let pass = 1; ; pass++) {
    for (const [rank, endpoint] of ranked.entries()) {
      const left = deadline - now();
      try {
        const waited = await waitForDaemon({
          endpoint,
          tls: options.tls,
          timeoutMs: Math.max(1, Math.min(options.waitMs, left)),
          probe: options.probe,
          log: options.log,
          signal: options.signal,
        });
        if (rank > 0)
          options.log(
            `fleet: building on ${endpoint}, choice ${rank + 1} for ${options.routingKey} (the cache of this key is on ${ranked[0]})`,
          );
        return { endpoint, rank, skipped: skipped.filter((entry) => entry.endpoint !== endpoint), ...waited };
      } catch (error) {
        // A TLS failure is the client's certificate or CA, the same for every replica: no use moving
        // on. So is an interruption. Anything else (a name that does not resolve, a refusal, a
        // daemon that answers wrongly) is this replica's, and the next one is tried.
        if (!(error instanceof StepError) || error.code === 'DAEMON_TLS' || error.code === 'INTERRUPTED') throw error;
        if (pass === 1) skipped.push({ endpoint, reason: error.message });
        const next = ranked[rank + 1] ?? ranked[0];
        const more = now() < deadline;
        options.log(
          `fleet: ${endpoint} (choice ${rank + 1} for ${options.routingKey}) did not answer within ${options.waitMs / 1000} s${more ? `; moving on to ${next}` : ''}: ${error.message}`,
        );
        if (!more) {
          throw new StepError(
            'DAEMON_UNREACHABLE',
            `none of the ${ranked.length} fleet endpoints answered within ${options.timeoutMs / 1000} s (${pass} ${pass === 1 ? 'pass' : 'passes'}, ${options.waitMs / 1000} s each): ${ranked.join(', ')}`,
          );
        }
      }
    }
  }
}
