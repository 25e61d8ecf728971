// kubectl (the one built with the cluster) against the bed's apiserver, and small waits on the API.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export type Kube = {
  kubectl: (args: readonly string[], input?: string) => Promise<string>;
  apply: (yaml: string, namespace?: string) => Promise<string>;
  get: <T = Record<string, unknown>>(kind: string, name: string, namespace?: string) => Promise<T | undefined>;
  list: <T = Record<string, unknown>>(kind: string, namespace?: string, selector?: string) => Promise<T[]>;
};

export function kubeClient(kubectlBin: string, kubeconfig: string): Kube {
  const kubectl = (args: readonly string[], input?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile(
        kubectlBin,
        ['--kubeconfig', kubeconfig, ...args],
        { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`kubectl ${args.join(' ').slice(0, 300)}: ${stderr.trim() || error.message}`));
          else resolve(stdout);
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  return {
    kubectl,
    apply: (yaml, namespace) => kubectl(['apply', ...(namespace ? ['-n', namespace] : []), '-f', '-'], yaml),
    get: async <T>(kind: string, name: string, namespace?: string) => {
      try {
        return JSON.parse(
          await kubectl(['get', kind, name, ...(namespace ? ['-n', namespace] : []), '-o', 'json']),
        ) as T;
      } catch (error) {
        if (/NotFound|not found/.test((error as Error).message)) return undefined;
        throw error;
      }
    },
    list: async <T>(kind: string, namespace?: string, selector?: string) =>
      (
        JSON.parse(
          await kubectl([
            'get',
            kind,
            ...(namespace ? ['-n', namespace] : ['-A']),
            ...(selector ? ['-l', selector] : []),
            '-o',
            'json',
          ]),
        ) as { items: T[] }
      ).items,
  };
}

/** Polls `read` until `done` says yes; the error names `what` and the last value seen. */
export async function until<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      last = await read();
      if (done(last)) return last;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await sleep(500);
  }
  throw new Error(
    `${what}: not after ${timeoutMs / 1000} s; last seen: ${JSON.stringify(last)?.slice(0, 1500) ?? lastError}`,
  );
}

type Condition = { type: string; status: string; reason?: string; message?: string };
export type Named = { metadata: { name: string; namespace?: string }; status?: { conditions?: Condition[] } };

export const condition = (object: Named | undefined, type: string): Condition | undefined =>
  object?.status?.conditions?.find((entry) => entry.type === type);
