// Runs the engines' own validation (tools/validate-manifests/run.sh) on manifest files.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/gen-tasks.js';

export type Validation = { code: number | null; lines: string[]; stderr: string };

/** Validates `files`; builds the Go tool on first use (minutes when cold, cached after). */
export function validate(files: string[]): Promise<Validation> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(REPO_ROOT, 'tools', 'validate-manifests', 'run.sh'), ...files], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lines: stdout.split('\n').filter((line) => line !== ''), stderr }));
  });
}
