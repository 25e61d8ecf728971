// Reads facts from buildx's plain progress output: steps, cache hits, pushes, cache export errors. Pure.

export type StepCounts = { steps: number; cached: number };

export type ProgressFacts = StepCounts & {
  /** `ref -> digest` from "pushing manifest for REF@DIGEST" lines. */
  pushed: Record<string, string>;
  /** The first error of a cache export vertex (`#N exporting cache to ...` then `#N ERROR: ...`). */
  cacheExportError: string | undefined;
  /** Cache refs imported (`#N importing cache manifest from REF`), in the order buildx tried them. */
  cacheFound: string[];
  /** Cache refs whose import failed (`#N ERROR: REF: not found`, or any other error of that vertex). */
  cacheMissing: string[];
  /** Whether a cache export vertex finished (`#N DONE`) without an error. */
  cacheExported: boolean;
};

/**
 * Feed it every output line; `facts()` tells how many build steps ran, how many came from
 * cache, which digests were pushed, and whether a cache export failed.
 */
export function readProgress(): { line: (line: string) => void; facts: () => ProgressFacts } {
  const steps = new Set<string>();
  const cached = new Set<string>();
  const pushed: Record<string, string> = {};
  const cacheExports = new Set<string>();
  let cacheExportError: string | undefined;
  const imports = new Map<string, string>();
  const failedImports = new Set<string>();
  const exportsDone = new Set<string>();
  const failedExports = new Set<string>();
  return {
    line(line) {
      // `#7 [build 2/4] RUN make` or `#7 [2/4] COPY . .`: a Dockerfile instruction.
      const step = /^#(\d+) \[(?:[^\]]* )?\d+\/\d+\]/.exec(line);
      if (step?.[1]) steps.add(step[1]);
      const hit = /^#(\d+) CACHED$/.exec(line);
      if (hit?.[1]) cached.add(hit[1]);
      const push = /^#\d+ pushing manifest for (\S+)@(sha256:[a-f0-9]{64})/.exec(line);
      if (push?.[1] && push[2]) pushed[push[1]] = push[2];
      const exporting = /^#(\d+) exporting cache to /.exec(line);
      if (exporting?.[1]) cacheExports.add(exporting[1]);
      const importing = /^#(\d+) importing cache manifest from (\S+)/.exec(line);
      if (importing?.[1] && importing[2] && !imports.has(importing[1])) imports.set(importing[1], importing[2]);
      const done = /^#(\d+) DONE\b/.exec(line);
      if (done?.[1] && cacheExports.has(done[1])) exportsDone.add(done[1]);
      const error = /^#(\d+) ERROR: (.*)$/.exec(line);
      if (error?.[1] && cacheExports.has(error[1])) {
        cacheExportError ??= error[2];
        failedExports.add(error[1]);
      }
      if (error?.[1] && imports.has(error[1])) failedImports.add(error[1]);
    },
    facts: () => ({
      steps: steps.size,
      cached: [...cached].filter((id) => steps.has(id)).length,
      pushed,
      cacheExportError,
      cacheFound: [...imports].filter(([id]) => !failedImports.has(id)).map(([, ref]) => ref),
      cacheMissing: [...imports].filter(([id]) => failedImports.has(id)).map(([, ref]) => ref),
      cacheExported: [...exportsDone].some((id) => !failedExports.has(id)),
    }),
  };
}
