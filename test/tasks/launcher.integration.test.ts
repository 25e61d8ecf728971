// The sidecar launcher shipped in the Argo WorkflowTemplate, run for real with busybox sh (the
// shell of the moby/buildkit images) against a fake daemon that, like buildkitd, exits 1 on SIGTERM.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import YAML from 'yaml';
import { FILES, REPO_ROOT, sidecarLauncher } from '../../scripts/gen-tasks.js';
import type { Container, Manifest } from './manifests.js';

const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
const work = mkdtempSync(path.join(tmpdir(), 'buildkit-step-launcher-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The launcher command exactly as the shipped WorkflowTemplate gives it to its sidecar. */
function shippedSidecar(): Container {
  const template = YAML.parse(readFileSync(path.join(REPO_ROOT, FILES.argo), 'utf8'), { version: '1.1' }) as Manifest;
  const [sidecar] = template.spec.templates[0]?.sidecars ?? [];
  assert.ok(sidecar, 'the WorkflowTemplate has a sidecar');
  return sidecar;
}

/**
 * A stand-in for the image's entrypoint: records its pid and args, and on SIGTERM records it, takes
 * 300 ms to shut down, records that, and exits 1 (what buildkitd does). FAKE_EXIT makes it exit at once.
 */
function fakeDaemon(dir: string): string {
  const file = path.join(dir, 'fake-entrypoint');
  writeFileSync(
    file,
    [
      `#!${busybox} sh`,
      'if [ -n "$FAKE_EXIT" ]; then exit "$FAKE_EXIT"; fi',
      `trap 'echo TERM >> "$FAKE_DIR/events"; sleep 0.3; echo exited >> "$FAKE_DIR/events"; exit 1' TERM`,
      'echo "$*" > "$FAKE_DIR/args"',
      'echo $$ > "$FAKE_DIR/pid"',
      'while :; do sleep 0.05; done',
      '',
    ].join('\n'),
  );
  chmodSync(file, 0o755);
  return file;
}

type Run = { pid: number; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stderr: () => string };

/** Starts `argv` with FAKE_DIR=dir, in its own process group when `group`. */
function start(argv: string[], dir: string, env: Record<string, string> = {}, group = false): Run {
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { PATH: process.env.PATH ?? '', FAKE_DIR: dir, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: group,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'exit', not 'close': a daemon left behind would hold stderr open, and the test must fail, not hang.
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { pid: child.pid!, exit, stderr: () => stderr };
}

/** Waits until the fake daemon has written its pid file. */
async function daemonPid(dir: string): Promise<number> {
  const file = path.join(dir, 'pid');
  for (let i = 0; i < 200 && !existsSync(file); i++) await sleep(20);
  assert.ok(existsSync(file), 'the fake daemon started within 4 s');
  return Number(readFileSync(file, 'utf8').trim());
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function caseDir(name: string): string {
  const dir = path.join(work, name);
  mkdirSync(dir);
  return dir;
}

describe('sidecar launcher (busybox sh, fake daemon)', { timeout: 60_000 }, () => {
  test('busybox is installed (the moby/buildkit images run the launcher with it)', () => {
    assert.ok(busybox !== '', 'busybox not on PATH: install busybox (scripts/install-tools.sh does)');
  });

  test('the shipped sidecar runs the launcher from the generator, then the image entrypoint with the daemon args', () => {
    const sidecar = shippedSidecar();
    assert.deepEqual(sidecar.command, ['sh', '-c', sidecarLauncher(), 'buildkitd-launcher']);
    assert.equal(sidecar.args[0], '/usr/bin/buildkitd-entrypoint');
  });

  test('control: without the launcher the fake daemon exits 1 on SIGTERM, as buildkitd does', async () => {
    const dir = caseDir('control');
    const run = start([fakeDaemon(dir)], dir);
    await daemonPid(dir);
    process.kill(run.pid, 'SIGTERM');
    assert.deepEqual(await run.exit, { code: 1, signal: null });
  });

  test('SIGTERM to the launcher: the daemon gets SIGTERM, is waited for, and the launcher exits 143', async () => {
    const dir = caseDir('term');
    const sidecar = shippedSidecar();
    const [, , script, name] = sidecar.command;
    const run = start([busybox, 'sh', '-c', script!, name!, fakeDaemon(dir), ...sidecar.args.slice(1)], dir);
    const daemon = await daemonPid(dir);
    assert.equal(
      readFileSync(path.join(dir, 'args'), 'utf8').trim(),
      sidecar.args.slice(1).join(' '),
      'the daemon args reach the entrypoint',
    );
    process.kill(run.pid, 'SIGTERM'); // the launcher only: it must forward the signal itself
    const exit = await run.exit;
    // Read at the launcher's exit: "exited" is written 300 ms after the TERM reached the daemon.
    const events = readFileSync(path.join(dir, 'events'), 'utf8');
    assert.deepEqual(exit, { code: 143, signal: null }, run.stderr());
    assert.equal(events, 'TERM\nexited\n', 'the daemon got SIGTERM and finished before the launcher exited');
    assert.equal(alive(daemon), false, 'no daemon left behind');
  });

  test("SIGTERM to the whole process group (Argo's emissary signals the group): exit 143, daemon waited for", async () => {
    const dir = caseDir('group');
    const run = start([busybox, 'sh', '-c', sidecarLauncher(), 'buildkitd-launcher', fakeDaemon(dir)], dir, {}, true);
    const daemon = await daemonPid(dir);
    process.kill(-run.pid, 'SIGTERM');
    const exit = await run.exit;
    assert.deepEqual(exit, { code: 143, signal: null }, run.stderr());
    assert.match(readFileSync(path.join(dir, 'events'), 'utf8'), /^TERM\n(TERM\n)?exited\n/);
    assert.equal(alive(daemon), false);
  });

  test('SIGINT is passed on as SIGTERM (a background child of sh ignores SIGINT)', async () => {
    const dir = caseDir('int');
    const run = start([busybox, 'sh', '-c', sidecarLauncher(), 'buildkitd-launcher', fakeDaemon(dir)], dir);
    await daemonPid(dir);
    process.kill(run.pid, 'SIGINT');
    assert.deepEqual(await run.exit, { code: 143, signal: null }, run.stderr());
    assert.equal(readFileSync(path.join(dir, 'events'), 'utf8'), 'TERM\nexited\n');
  });

  test('a daemon that exits on its own keeps its exit code (a crash still fails the Workflow)', async () => {
    for (const code of [0, 3]) {
      const dir = caseDir(`own-${code}`);
      const run = start([busybox, 'sh', '-c', sidecarLauncher(), 'buildkitd-launcher', fakeDaemon(dir)], dir, {
        FAKE_EXIT: String(code),
      });
      assert.deepEqual(await run.exit, { code, signal: null }, run.stderr());
    }
  });
});
