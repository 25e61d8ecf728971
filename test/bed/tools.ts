// Locates the pinned BuildKit tools that scripts/install-tools.sh built.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export type Tools = {
  buildkitd: string;
  buildctl: string;
  buildx: string;
  registry: string;
  runc: string;
  busybox: string;
};

/** Finds each tool in BUILDKIT_STEP_TOOLS_BIN, then on PATH; throws naming what is missing and how to get it. */
export function findTools(env: NodeJS.ProcessEnv = process.env): Tools {
  const dirs = [
    env.BUILDKIT_STEP_TOOLS_BIN,
    ...(env.PATH ?? '').split(path.delimiter),
    '/usr/sbin',
    '/usr/bin',
    '/bin',
  ].filter((dir): dir is string => Boolean(dir));
  const missing: string[] = [];
  const find = (name: string): string => {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // try the next directory
      }
    }
    missing.push(name);
    return '';
  };
  const tools = {
    buildkitd: find('buildkitd'),
    buildctl: find('buildctl'),
    buildx: find('buildx'),
    registry: find('docker-registry'),
    runc: find('runc'),
    busybox: find('busybox'),
  };
  if (missing.length > 0) {
    throw new Error(
      `test bed: missing ${missing.join(', ')}; run scripts/install-tools.sh (npm test does) and put its output dir in BUILDKIT_STEP_TOOLS_BIN`,
    );
  }
  return tools;
}
