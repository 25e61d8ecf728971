// The buildx runner with stand-in executables: output passes through masked and whole however
// long its lines are, a stop reaches buildx's whole process group, and nothing buildx started
// outlives it.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runBuildx } from '../../src/buildx/run.js';
import { masker } from '../../src/mask.js';
import { scratchDir } from '../helpers.js';

const script = (body: string) => {
  const file = path.join(scratchDir('run'), 'buildx');
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
};

/** Running, as opposed to gone or a zombie (killed, waiting for whoever adopted it to reap it). */
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};

/** Waits a little for a killed process to die. */
const goneSoon = async (pid: number) => {
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(20);
  return !alive(pid);
};

describe('runBuildx', () => {
  test('an abort stops a wrapper that forwards no signal, and the buildx under it', async () => {
    // The "buildx" under the wrapper prints its PID, then runs until stopped.
    const bin = script(`sh -c 'echo child $$; exec sleep 30'\necho wrapper done`);
    const controller = new AbortController();
    let child = 0;
    const started = Date.now();
    const result = await runBuildx(bin, [], {
      env: { PATH: process.env.PATH },
      signal: controller.signal,
      write: () => {},
      onLine: (line) => {
        const match = /^child (\d+)$/.exec(line);
        if (match) {
          child = Number(match[1]);
          controller.abort();
        }
      },
    });
    assert.ok(child > 0, 'the child started');
    assert.ok(Date.now() - started < 4000, `stopped after ${Date.now() - started} ms, not after the 30 s sleep`);
    assert.notEqual(result.exitCode, 0);
    assert.ok(await goneSoon(child), 'the child under the wrapper is gone');
  });

  test('a buildx that ignores SIGTERM is killed 5 s after the stop', async () => {
    const bin = script(`trap '' TERM\necho ready\nwhile :; do sleep 0.2; done`);
    const controller = new AbortController();
    let stopped = 0;
    const result = await runBuildx(bin, [], {
      env: { PATH: process.env.PATH },
      signal: controller.signal,
      write: () => {},
      onLine: (line) => {
        if (line !== 'ready') return;
        stopped = Date.now();
        controller.abort();
      },
    });
    const took = Date.now() - stopped;
    assert.ok(stopped > 0, 'it started');
    assert.notEqual(result.exitCode, 0);
    assert.ok(took >= 4500 && took < 9000, `killed ${took} ms after the stop`);
  });

  // A leftover that still holds buildx's stdout would keep the pipes (and the step) open for its 30 s.
  const leftovers = [
    { name: "a leftover still holding buildx's stdout", body: 'sleep 30 &' },
    { name: 'a process buildx left running in the background', body: 'sleep 30 >/dev/null 2>&1 &' },
  ];
  for (const { name, body } of leftovers) {
    test(`${name} is stopped when buildx exits, and the run does not wait for it`, async () => {
      const bin = script(`${body}\necho background $!\nexit 0`);
      let background = 0;
      const started = Date.now();
      const result = await runBuildx(bin, [], {
        env: { PATH: process.env.PATH },
        write: () => {},
        onLine: (line) => {
          const match = /^background (\d+)$/.exec(line);
          if (match) background = Number(match[1]);
        },
      });
      assert.equal(result.exitCode, 0);
      assert.ok(background > 0);
      assert.ok(
        Date.now() - started < 10_000,
        `returned after ${Date.now() - started} ms, not after the leftover's 30 s`,
      );
      assert.ok(await goneSoon(background), 'the leftover is gone');
    });
  }
});

const SECRET = 'tok-3f9a-secret-value';

/** A stand-in buildx: a progress line, a 3 MB line with the secret in it written in odd-sized writes, an error. */
const SCRIPT = `
const line = Array.from({ length: 3000 }, (_, i) => 'chunk ' + i + ' ' + 'x'.repeat(990) + (i % 500 === 7 ? '${SECRET}' : '')).join('|');
process.stdout.write('out line\\n');
process.stderr.write('#1 [1/2] RUN print\\n#1 0.1 ');
for (let at = 0; at < line.length; at += 4093) process.stderr.write(line.slice(at, at + 4093));
process.stderr.write('\\nERROR: boom\\n', () => process.exit(3));
`;

test('a 3 MB line streams through in bounded pieces, masked across every cut; tail and onLine keep only line starts', async () => {
  const dir = scratchDir('run');
  try {
    const script = path.join(dir, 'buildx.cjs');
    writeFileSync(script, SCRIPT);
    const writes: string[] = [];
    const lines: string[] = [];
    const run = await runBuildx(process.execPath, [script], {
      env: {},
      mask: masker([SECRET]),
      write: (text) => void writes.push(text),
      onLine: (line) => lines.push(line),
    });
    const shown = writes.join('');
    const longLine = Array.from(
      { length: 3000 },
      (_, i) => `chunk ${i} ${'x'.repeat(990)}${i % 500 === 7 ? '***' : ''}`,
    ).join('|');
    assert.equal(run.exitCode, 3);
    assert.ok(!shown.includes(SECRET), 'the secret is masked wherever the line was cut');
    assert.equal(
      shown
        .split('\n')
        .filter((line) => line.startsWith('#1 0.1 '))
        .join(''),
      `#1 0.1 ${longLine}`,
      'the long line arrives whole',
    );
    assert.ok(shown.includes('out line\n') && shown.endsWith('ERROR: boom\n'));
    assert.ok(Math.max(...writes.map((text) => text.length)) < 200_000, 'no write holds the whole line');
    assert.deepEqual(
      lines.map((line) => line.slice(0, 10)).sort(),
      ['#1 0.1 chu', '#1 [1/2] R', 'ERROR: boo', 'out line'].sort(),
    );
    assert.ok(
      lines.every((line) => line.length < 200_000),
      'onLine sees the start of a long line, not all of it',
    );
    assert.ok(
      run.tail.every((line) => line.length <= 4096),
      'the tail keeps a bounded start of each line',
    );
    assert.equal(run.tail.at(-1), 'ERROR: boom');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('while the output is not taken (write returned a promise), buildx is not read: its log cannot pile up here', async () => {
  const dir = scratchDir('run');
  try {
    const script = path.join(dir, 'buildx.cjs');
    writeFileSync(
      script,
      "const line = 'z'.repeat(99) + '\\n'; let left = 20000; const more = () => { while (left > 0) { left--; if (!process.stderr.write(line)) return process.stderr.once('drain', more); } }; more();",
    );
    const writes: string[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const running = runBuildx(process.execPath, [script], {
      env: {},
      write: (text) => (writes.push(text) === 1 ? held : undefined),
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const whilePaused = writes.length;
    release();
    const run = await running;
    const shown = writes.join('');
    assert.equal(run.exitCode, 0);
    assert.ok(
      whilePaused <= 2,
      `${whilePaused} writes while the first was still queued (a second stream's chunk may already be in flight)`,
    );
    assert.equal(shown.length, 2_000_000, 'everything arrives once the writer takes more');
    assert.equal(shown.split('\n').length - 1, 20000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('runBuildx with a real child process', () => {
  test('streams both outputs line by line (masked), keeps the tail, and returns the exit code', async () => {
    const shown: string[] = [];
    const lines: string[] = [];
    const script = 'printf "one\\ntwo token-123"; printf "err token-123\\n" >&2; exit 3';
    const result = await runBuildx('/bin/sh', ['-c', script], {
      env: { PATH: process.env.PATH },
      mask: masker(['token-123']),
      write: (text) => void shown.push(text),
      onLine: (line) => lines.push(line),
    });
    assert.equal(result.exitCode, 3);
    assert.equal(result.spawnError, undefined);
    assert.deepEqual([...lines].sort(), ['err ***', 'one', 'two ***']);
    assert.deepEqual(shown.join('').split('\n').filter(Boolean).sort(), ['err ***', 'one', 'two ***']);
    assert.deepEqual([...result.tail].sort(), ['err ***', 'one', 'two ***']);
  });

  test("buildx's colour codes are dropped when the output is not a terminal, and kept when asked", async () => {
    // What buildx prints for a Dockerfile warning, whatever its output is.
    const script = 'printf "\\n \\033[33m1 warning found:\\n\\033[0m - FromAsCasing\\n" >&2';
    const run = async (colour?: boolean) => {
      const shown: string[] = [];
      const result = await runBuildx('/bin/sh', ['-c', script], {
        env: { PATH: process.env.PATH },
        write: (text) => void shown.push(text),
        ...(colour === undefined ? {} : { colour }),
      });
      return { shown: shown.join(''), tail: result.tail.join('\n') };
    };
    const plain = await run(false);
    assert.equal(plain.shown, '\n 1 warning found:\n - FromAsCasing\n');
    assert.ok(!plain.tail.includes('\x1b'));
    assert.ok((await run(true)).shown.includes('\x1b[33m1 warning found'));
    // The test's stderr is a pipe, as a pod's is: the default drops them.
    assert.ok(!(await run()).shown.includes('\x1b'));
  });

  test('passes only the given env to the child', async () => {
    const lines: string[] = [];
    await runBuildx('/bin/sh', ['-c', 'echo "[$ONLY_THIS][$HOME]"'], {
      env: { ONLY_THIS: 'yes' },
      write: () => {},
      onLine: (line) => lines.push(line),
    });
    assert.deepEqual(lines, ['[yes][]']);
  });

  test('a binary that does not exist is a spawn error, not an exit code', async () => {
    const result = await runBuildx('/nonexistent/buildx', ['version'], { env: {}, write: () => {} });
    assert.equal(result.spawnError?.code, 'ENOENT');
  });
});
