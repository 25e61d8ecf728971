// Runs the built CLI as a child process, the way a workflow engine runs the step.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI as it ships: the one-file bundle `npm run build` makes (scripts/bundle.ts), named by package.json `bin`. */
export const CLI = path.join(
  REPO,
  (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin[
    'buildkit-step'
  ]!,
);

export type CliRun = {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  results: Record<string, string>;
  ms: number;
};

export type CliOptions = {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  resultsDir: string;
  cwd?: string;
  /** Sees stderr as it arrives (all of it so far), with the child: for tests that signal it mid-build. */
  onStderr?: (stderr: string, child: ChildProcess) => void;
  /** A command the CLI runs under (`setpriv ...`, `unshare ... sh -c ...`): spawned as `wrap... node cli.js args...`. */
  wrap?: string[];
};

/** Runs the bundled CLI (`node dist/buildkit-step.mjs ...`) with a clean env plus `env`; collects output and result files. */
export function runCli(options: CliOptions): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const command = [...(options.wrap ?? []), process.execPath, CLI, ...(options.args ?? [])];
    const child = spawn(command[0]!, command.slice(1), {
      cwd: options.cwd ?? REPO,
      env: {
        PATH: process.env.PATH,
        TMPDIR: process.env.TMPDIR,
        BUILDKIT_STEP_RESULTS_DIR: options.resultsDir,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (exitCode) => {
      resolve({ exitCode, stdout, stderr, results: readResults(options.resultsDir), ms: Date.now() - started });
    });
  });
}

/** Every file in a results dir, by name. */
export function readResults(dir: string): Record<string, string> {
  if (!existsSync(dir)) return {};
  return Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(path.join(dir, name), 'utf8')]));
}

/** Writes a small build context: files by relative path. */
export function writeContext(dir: string, files: Record<string, string>): string {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** A stand-in buildx that records its argv (one line a run) and environment; for tests that must prove what buildx got. */
export function fakeBuildx(dir: string): { bin: string; ran: () => boolean; calls: () => string[]; env: () => string } {
  mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, 'buildx');
  const marker = path.join(dir, 'ran');
  const envFile = path.join(dir, 'env');
  writeFileSync(bin, `#!/bin/sh\necho "$@" >> '${marker}'\nenv >> '${envFile}'\nexit 0\n`, { mode: 0o755 });
  return {
    bin,
    ran: () => existsSync(marker),
    /** Each run's argv, joined by spaces. */
    calls: () => (existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter(Boolean) : []),
    env: () => (existsSync(envFile) ? readFileSync(envFile, 'utf8') : ''),
  };
}

const scratchDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp dir (`bks-<prefix>-…`) that is removed when the test process exits, pass or fail. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `bks-${prefix}-`));
  scratchDirs.add(dir);
  return dir;
}
