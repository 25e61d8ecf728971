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
  /** Replicas tried before it, and why they were passed over. */
  skipped: Array<{ endpoint: string; reason: string }>;
  workers: number;
  tries: number;
};

export type PickOptions = {
  endpoints: readonly string[];
  routingKey: string;
  waitMs: number;
  tls: TlsMaterial | undefined;
  probe: Probe;
  log: (line: string) => void;
  signal?: AbortSignal;
};

/** The first replica in the key's order that answers; DAEMON_UNREACHABLE when none does. */
export async function pickEndpoint(options: PickOptions): Promise<Picked> {
  const ranked = rankEndpoints(options.endpoints, options.routingKey);
  const skipped: Picked['skipped'] = [];
  for (const [rank, endpoint] of ranked.entries()) {
    try {
      const waited = await waitForDaemon({ endpoint, tls: options.tls, timeoutMs: options.waitMs, probe: options.probe, log: options.log, signal: options.signal });
      if (rank > 0) options.log(`fleet: building on ${endpoint}, choice ${rank + 1} for ${options.routingKey} (the cache of this key is on ${ranked[0]})`);
      return { endpoint, rank, skipped, ...waited };
    } catch (error) {
      // A TLS failure is the client's certificate or CA, the same for every replica: no use moving on.
      if (!(error instanceof StepError) || error.code !== 'DAEMON_UNREACHABLE') throw error;
      const reason = error.message;
      skipped.push({ endpoint, reason });
      const next = ranked[rank + 1];
      options.log(`fleet: ${endpoint} (choice ${rank + 1} for ${options.routingKey}) did not answer within ${options.waitMs / 1000} s${next ? `; moving on to ${next}` : ''}: ${reason}`);
    }
  }
  throw new StepError('DAEMON_UNREACHABLE', `none of the ${ranked.length} fleet endpoints answered within ${options.waitMs / 1000} s each: ${skipped.map((entry) => entry.endpoint).join(', ')}`);
}
