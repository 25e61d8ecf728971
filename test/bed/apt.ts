// Host commands the test bed takes from Debian packages: found on PATH, or apt-installed once.
import { spawnSync } from 'node:child_process';

/** The path of `name` on PATH, or undefined. */
export const which = (name: string): string | undefined => {
  const result = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
};

/** Returns the path of `command`, apt-installing `pkg` when it is missing (apt-get update first if that fails). */
export function ensureCommand(command: string, pkg: string): string {
  const found = which(command);
  if (found) return found;
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  let result = install();
  if (result.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'ignore' });
    result = install();
  }
  const installed = which(command);
  if (!installed)
    throw new Error(
      `test bed: ${command} is missing and apt-get install ${pkg} failed (${result.status}):\n${result.stderr ?? result.error?.message}`,
    );
  return installed;
}
