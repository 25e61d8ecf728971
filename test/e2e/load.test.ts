// Load: many steps at once against one shared daemon (a fleet over TCP with mutual TLS), and a
// build log of hundreds of MB streamed through the step without its memory growing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { startBuildkitd, type Buildkitd } from '../bed/buildkitd.js';
import { blobPath, imageManifests, layoutIndex, readImageFile } from '../bed/oci.js';
import { freePort } from '../bed/registry.js';
import { manifestDigest } from '../bed/registry-client.js';
import { daemonTls, makeTlsFiles, type TlsFiles } from '../bed/tls.js';
import { CLI, readResults, REPO, writeContext } from '../helpers.js';
import { bedSuite, type StepRun } from './suite.js';

const suite = bedSuite('load');
const { work, check } = suite;

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** The fleet daemon: TCP with mutual TLS, and BuildKit's per-step log limits switched off; started on first use. */
let fleet: Promise<Buildkitd> | undefined;
let tls: TlsFiles;
function fleetDaemon(): Promise<Buildkitd> {
  fleet ??= (async () => {
    tls = makeTlsFiles(path.join(work, 'pki'));
    return startBuildkitd(suite.bed.tools, {
      dir: path.join(work, 'fleet'),
      tcpAddress: `tcp://127.0.0.1:${await freePort()}`,
      tls: daemonTls(tls),
      // BuildKit clips a RUN's output at 2 MiB and 200 KiB/s by default; -1 lifts each limit
      // (util/progress/logs in BuildKit reads these once per daemon).
      env: { BUILDKIT_STEP_LOG_MAX_SIZE: '-1', BUILDKIT_STEP_LOG_MAX_SPEED: '-1' },
    }).catch((error: Error) => {
      throw new Error(`the fleet buildkitd (TCP + mTLS) did not start: ${error.message}`, { cause: error });
    });
  })();
  return fleet;
}
after(async () => {
  await (await fleet?.catch(() => undefined))?.stop();
});

/** Params that point a step at the fleet daemon with its own copy of the client certificate Secret. */
async function fleetParams(dir: string): Promise<Record<string, unknown>> {
  const daemon = await fleetDaemon();
  const tlsDir = path.join(dir, 'tls');
  cpSync(tls.client.dir, tlsDir, { recursive: true });
  return { endpoint: daemon.endpoint, tls_dir: tlsDir, tls_server_name: tls.servername };
}

/** Every file under `dir` (recursively) but the named top-level entries. */
function filesUnder(dir: string, skip: string[] = []): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => !skip.includes(name.split(path.sep)[0]!))
    .map((name) => path.join(dir, name))
    .filter((file) => statSync(file).isFile());
}

describe('a fleet: 8 steps at once on one shared buildkitd over TCP with mutual TLS', () => {
  const COUNT = 8;
  const nonce = randomBytes(4).toString('hex');
  const secrets = Array.from({ length: COUNT }, (_, i) => `tok-${i}-${randomBytes(16).toString('hex')}`);
  const dockerfile = (name: string) =>
    [
      `FROM ${suite.bed.busybox}`,
      `RUN echo "${name} ${nonce}" > /id`,
      // The same secret id in every build; each RUN holds its secret mounted for a second so
      // all of them are mounted at the same time.
      'RUN --mount=type=secret,id=token,required=true sha256sum /run/secrets/token | cut -d" " -f1 > /secret.sum && ls -A /run/secrets > /secrets.list && sleep 1',
      'RUN (ls -A /run/secrets 2>&1 || true) > /after.list; env > /env.txt; head -c 1000000 /dev/urandom | sha256sum > /work.sum',
    ].join('\n');
  const stepParams = async (name: string, secret: string) => ({
    image: `${suite.bed.registry.host}/${name}`,
    tags: ['1'],
    push: true,
    oci_layout: path.join(work, name, 'layout'),
    secrets: [{ key: 'token', value: secret }],
    ...(await fleetParams(path.join(work, name))),
  });

  test("all succeed with their own image and digest; no step sees another one's secret or builder", async (t) => {
    // The first build pulls the base image into the daemon; the one timed alone comes after it.
    const solos: StepRun[] = [];
    for (const name of ['load-warm', 'load-solo'])
      solos.push(
        await suite.step(
          name,
          { Dockerfile: dockerfile(name) },
          await stepParams(name, `tok-${name}-${randomBytes(16).toString('hex')}`),
        ),
      );
    const solo = solos[1]!;
    check(() => solos.forEach((run) => assert.equal(run.exitCode, 0, run.stderr)));

    const params = await Promise.all(secrets.map((secret, i) => stepParams(`load${i}`, secret)));
    const started = Date.now();
    const runs: StepRun[] = await Promise.all(
      params.map((p, i) => suite.step(`load${i}`, { Dockerfile: dockerfile(`load${i}`) }, p)),
    );
    const parallelMs = Date.now() - started;

    const digests = runs.map((run) => run.results.IMAGE_DIGEST);
    const { endpoint } = await fleetDaemon();
    for (const [i, run] of runs.entries()) {
      const name = `load${i}`;
      const layout = path.join(run.dir, 'layout');
      const pushed = await manifestDigest(suite.bed.registry.host, name, '1');
      check(() => {
        assert.equal(run.exitCode, 0, `${name}: ${run.stderr}`);
        assert.match(run.results.IMAGE_DIGEST ?? '', /^sha256:[a-f0-9]{64}$/);
        assert.equal(pushed, run.results.IMAGE_DIGEST, `${name}: the registry has IMAGE_DIGEST for its tag`);
        assert.deepEqual(
          layoutIndex(layout).map((entry) => entry.digest),
          [run.results.IMAGE_DIGEST],
          `${name}: the OCI layout holds IMAGE_DIGEST`,
        );
        assert.equal(run.results.IMAGE_URL, `${suite.bed.registry.host}/${name}:1`);

        // The image: its own name, its own secret's hash, only its own secret mounted.
        const [image] = imageManifests(layout, run.results.IMAGE_DIGEST!);
        assert.ok(image, `${name}: an image manifest in the layout`);
        assert.equal(readImageFile(layout, image, '/id'), `${name} ${nonce}\n`);
        assert.equal(
          readImageFile(layout, image, '/secret.sum'),
          `${sha256(secrets[i]!)}\n`,
          `${name}: the RUN saw its own secret`,
        );
        assert.equal(readImageFile(layout, image, '/secrets.list'), 'token\n');
        assert.doesNotMatch(
          readImageFile(layout, image, '/after.list'),
          /token/,
          `${name}: no secret mounted in a RUN without the mount`,
        );
        // No secret value (its own or another's) in any layer of the image.
        for (const layer of image.layers ?? []) {
          const content = gunzipSync(readFileSync(blobPath(layout, layer.digest)));
          for (const secret of secrets)
            assert.ok(!content.includes(secret), `${name}: a secret value is in layer ${layer.digest}`);
        }

        // Nothing the step printed or left (results, metadata, buildx state, TMPDIR) holds any
        // secret value; its buildx state names only its own builder, endpoint and files.
        const places: Array<[string, string | Buffer]> = [
          ['stdout', run.stdout],
          ['stderr', run.stderr],
          ...Object.entries(run.results).map(([key, value]): [string, string] => [`result ${key}`, value]),
          ...filesUnder(run.dir, ['layout', 'src']).map((file): [string, Buffer] => [
            path.relative(run.dir, file),
            readFileSync(file),
          ]),
        ];
        for (const [where, text] of places) {
          for (const secret of secrets) assert.ok(!text.includes(secret), `${name}: a secret value is in ${where}`);
        }
        const state = filesUnder(path.join(run.dir, 'state', 'buildx'));
        const instances = state.filter((file) => path.basename(path.dirname(file)) === 'instances');
        assert.deepEqual(
          instances.map((file) => path.basename(file)),
          ['buildkit-step'],
          `${name}: one buildx builder in its own state dir`,
        );
        const instance = instances[0]!;
        const builder = JSON.parse(readFileSync(instance, 'utf8')) as {
          Name: string;
          Nodes: Array<{ Endpoint: string; DriverOpts?: Record<string, string> }>;
        };
        assert.equal(builder.Name, 'buildkit-step');
        assert.deepEqual(
          builder.Nodes.map((node) => node.Endpoint),
          [endpoint],
        );
        for (const file of ['cacert', 'cert', 'key'])
          assert.equal(
            path.dirname(builder.Nodes[0]?.DriverOpts?.[file] ?? ''),
            path.join(run.dir, 'tls'),
            `${name}: ${file}`,
          );
        for (const file of state) {
          const text = readFileSync(file, 'utf8');
          for (const other of runs.filter((_, j) => j !== i))
            assert.ok(!text.includes(other.dir), `${name}: ${path.relative(run.dir, file)} names ${other.dir}`);
        }
      });
    }
    check(() => assert.equal(new Set(digests).size, COUNT, `8 distinct digests: ${digests.join(' ')}`));
    t.diagnostic(
      `one step alone: ${solo.ms} ms; ${COUNT} steps at once: ${parallelMs} ms wall (${(parallelMs / solo.ms).toFixed(2)}x one alone); per step ${runs.map((run) => run.ms).join(', ')} ms`,
    );
  });
});

/** A build log as the step printed it, counted as it streams by; no line is held whole. */
type LogCount = {
  bytes: number;
  /** sha256 and size of the output without the step's own lines (those starting `buildkit-step`). */
  passedSha256: string;
  passedBytes: number;
  /** Ends of payload lines (each printed line's end, wherever buildx broke it). */
  payloadEnds: number;
  /** `Z` bytes: the long line's content. */
  zBytes: number;
  /** Lines ending with the long line's end marker. */
  longLineEnds: number;
  /** Lines ending with `secret: ***`. */
  maskedLines: number;
  secretSeen: boolean;
};

const LONG_END = ' END-OF-LONG-LINE';
const OWN_LINE = Buffer.from('buildkit-step');

/**
 * Counts the step's stderr without keeping it. buildx prints each RUN output line as
 * `#N SECONDS CONTENT`, but breaks a line in two when the RUN's log still streams in after its
 * vertex completed or while another vertex prints: it ends the start with a newline and prints
 * the rest later on a line of its own without the prefix (or the whole line again, prefixed). So
 * an end of `text` is counted once per line that ends with it, or that holds only the rest of
 * it (a bare line that `text` ends with).
 */
function logCounter(payload: string, secret: string): { take: (chunk: Buffer) => void; done: () => LogCount } {
  const count = {
    bytes: 0,
    passedBytes: 0,
    payloadEnds: 0,
    zBytes: 0,
    longLineEnds: 0,
    maskedLines: 0,
    secretSeen: false,
  };
  const hash = createHash('sha256');
  const ends = { payload: Buffer.from(payload), long: Buffer.from(LONG_END), masked: Buffer.from('secret: ***') };
  const keep = Math.max(...Object.values(ends).map((end) => end.length));
  const endsHere = (end: Buffer, last: Buffer, length: number, bare: boolean) =>
    last.subarray(-end.length).equals(end) ||
    (bare && length > 0 && length <= end.length && end.subarray(-length).equals(last.subarray(-length)));
  let last = Buffer.alloc(0); // the current line's last bytes
  let length = 0;
  let bare = true; // the current line does not start with `#`
  let start: Buffer[] = []; // the current line's first bytes while it may still be one of the step's own
  let startLength = 0;
  let own: boolean | undefined;
  let carry = Buffer.alloc(0);
  const pass = (bytes: Buffer) => {
    hash.update(bytes);
    count.passedBytes += bytes.length;
  };
  /** A part of the current line; `newline` when the line ends after it. */
  const part = (bytes: Buffer, newline: boolean) => {
    for (const byte of bytes) if (byte === 90) count.zBytes++;
    if (length === 0 && bytes.length > 0) bare = bytes[0] !== 35;
    length += bytes.length;
    last = Buffer.concat([last, bytes.subarray(Math.max(0, bytes.length - keep))]).subarray(-keep);
    if (own === undefined) {
      start.push(bytes);
      startLength += bytes.length;
      if (startLength >= OWN_LINE.length || newline) {
        const head = Buffer.concat(start);
        own = head.subarray(0, OWN_LINE.length).equals(OWN_LINE);
        if (!own) pass(head);
        start = [];
        startLength = 0;
      }
    } else if (!own) pass(bytes);
    if (newline) {
      if (!own) pass(Buffer.from('\n'));
      if (endsHere(ends.payload, last, length, bare)) count.payloadEnds++;
      if (endsHere(ends.long, last, length, bare)) count.longLineEnds++;
      if (endsHere(ends.masked, last, length, bare)) count.maskedLines++;
      last = Buffer.alloc(0);
      length = 0;
      bare = true;
      own = undefined;
    }
  };
  return {
    take(chunk) {
      count.bytes += chunk.length;
      const window = Buffer.concat([carry, chunk]);
      if (window.includes(secret)) count.secretSeen = true;
      carry = window.subarray(Math.max(0, window.length - secret.length + 1));
      let from = 0;
      for (let newline = chunk.indexOf(10, from); newline >= 0; newline = chunk.indexOf(10, from)) {
        part(chunk.subarray(from, newline), true);
        from = newline + 1;
      }
      if (from < chunk.length) part(chunk.subarray(from), false);
    },
    done: () => ({ ...count, passedSha256: hash.digest('hex') }),
  };
}

/** A stand-in buildx that runs the real one and records sha256 and size of what its `build` printed. */
function teeBuildx(dir: string): { bin: string; printed: () => { sha256: string; bytes: number } } {
  mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, 'buildx');
  const record = path.join(dir, 'printed.json');
  writeFileSync(
    bin,
    [
      `#!${process.execPath}`,
      "const { spawn } = require('node:child_process');",
      "const { createHash } = require('node:crypto');",
      "const { writeFileSync } = require('node:fs');",
      `const child = spawn(${JSON.stringify(suite.bed.tools.buildx)}, process.argv.slice(2), { stdio: ['ignore', 'inherit', 'pipe'] });`,
      "const hash = createHash('sha256'); let bytes = 0;",
      "child.stderr.on('data', (chunk) => { hash.update(chunk); bytes += chunk.length; });",
      'child.stderr.pipe(process.stderr);',
      "child.on('close', (code) => {",
      `  if (process.argv[2] === 'build') writeFileSync(${JSON.stringify(record)}, JSON.stringify({ sha256: hash.digest('hex'), bytes }));`,
      '  process.exitCode = code ?? 1;',
      '});',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return { bin, printed: () => JSON.parse(readFileSync(record, 'utf8')) as { sha256: string; bytes: number } };
}

/** Peak resident memory (VmHWM, KiB) and command name of a process; 0 once it is gone. */
function peak(pid: number): { kib: number; comm: string } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { kib: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0), comm: /Name:\s+(\S+)/.exec(status)?.[1] ?? '' };
  } catch {
    return { kib: 0, comm: '' };
  }
}

/** The process's children, grandchildren and so on. */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    // gone already
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

type Streamed = {
  exitCode: number | null;
  log: LogCount;
  results: Record<string, string>;
  ms: number;
  stepPeakMiB: number;
  buildxPeakMiB: number;
};

/**
 * Runs the step like `suite.step` but counts its stderr as it streams instead of keeping it, and
 * polls the peak memory of the step's node process and of the buildx processes under it.
 */
async function streamStep(
  name: string,
  files: Record<string, string>,
  params: Record<string, unknown>,
  counter: ReturnType<typeof logCounter>,
  buildx: string,
): Promise<Streamed> {
  const dir = path.join(work, name);
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...suite.env(),
    PATH: process.env.PATH,
    TMPDIR: tmp,
    BUILDKIT_STEP_BUILDX: buildx,
    BUILDKIT_STEP_STATE_DIR: path.join(dir, 'state'),
    BUILDKIT_STEP_RESULTS_DIR: path.join(dir, 'results'),
    PARAM_CONTEXT: writeContext(path.join(dir, 'src'), files),
  };
  for (const [key, value] of Object.entries(params))
    env[`PARAM_${key.toUpperCase()}`] = typeof value === 'string' ? value : JSON.stringify(value);
  const started = Date.now();
  const child = spawn(process.execPath, [CLI], { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stepPeak = 0;
  let buildxPeak = 0;
  const poll = () => {
    if (!child.pid) return;
    stepPeak = Math.max(stepPeak, peak(child.pid).kib);
    for (const pid of descendants(child.pid)) {
      const { kib, comm } = peak(pid);
      if (comm === 'buildx') buildxPeak = Math.max(buildxPeak, kib);
    }
  };
  const timer = setInterval(poll, 50);
  child.stderr.on('data', counter.take);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  clearInterval(timer);
  return {
    exitCode,
    log: counter.done(),
    results: readResults(path.join(dir, 'results')),
    ms: Date.now() - started,
    stepPeakMiB: stepPeak / 1024,
    buildxPeakMiB: buildxPeak / 1024,
  };
}

describe('a long build log', () => {
  // What the RUN prints: LINES lines of PAYLOAD (100 bytes with the newline), then one line of
  // LONG_LINE `Z`s (octal 132 in the command, so no Z in buildx's echo of it) and its end marker.
  const PAYLOAD = `load-log-line ${'0123456789'.repeat(8)}abcde`;
  const LINES = 3_000_000;
  const LONG_LINE = 10 * 1000 * 1000;
  const secret = `log-secret-${randomBytes(12).toString('hex')}`;
  const dockerfile = (lines: number, longLine: number, showSecret: boolean) =>
    [
      `FROM ${suite.bed.busybox}`,
      // `yes` ends by SIGPIPE once `head` has its lines; the RUN's status is that of its last command.
      `RUN --mount=type=secret,id=token yes '${PAYLOAD}' | head -n ${lines}; head -c ${longLine} /dev/zero | tr '\\0' '\\132'; echo '${LONG_END}'${showSecret ? '; echo "secret: $(cat /run/secrets/token)"' : ''}`,
    ].join('\n');
  const params = async (name: string) => ({
    image: `example.com/load/${name}`,
    tags: ['1'],
    secrets: [{ key: 'token', value: secret }],
    oci_layout: path.join(work, name, 'layout'),
    ...(await fleetParams(path.join(work, name))),
  });

  test(`${(LINES * 100) / 1e6} MB of lines and a ${LONG_LINE / 1e6} MB line pass through whole and masked; the step's memory does not grow with the log`, async (t) => {
    const tee = teeBuildx(path.join(work, 'tee-buildx'));
    // The small log shows the secret (masked); the big one does not, so what the step printed
    // can be compared byte for byte with what buildx printed. Masking runs on every line of both.
    const small = await streamStep(
      'log-small',
      { Dockerfile: dockerfile(10, 1000, true) },
      await params('log-small'),
      logCounter(PAYLOAD, secret),
      suite.bed.tools.buildx,
    );
    const big = await streamStep(
      'log-big',
      { Dockerfile: dockerfile(LINES, LONG_LINE, false) },
      await params('log-big'),
      logCounter(PAYLOAD, secret),
      tee.bin,
    );
    const printedMB = (LINES * (PAYLOAD.length + 1) + LONG_LINE + LONG_END.length + 1) / 1e6;
    check(() => {
      assert.equal(small.exitCode, 0, `small log: exit ${small.exitCode}, results ${JSON.stringify(small.results)}`);
      assert.equal(big.exitCode, 0, `big log: exit ${big.exitCode}, results ${JSON.stringify(big.results)}`);
      assert.match(big.results.IMAGE_DIGEST ?? '', /^sha256:[a-f0-9]{64}$/);
      assert.deepEqual(
        [small.log.payloadEnds, small.log.zBytes, small.log.longLineEnds, small.log.maskedLines],
        [10, 1000, 1, 1],
        JSON.stringify(small.log),
      );
      assert.equal(small.log.secretSeen, false, 'the secret value never shows');
      assert.equal(big.log.payloadEnds, LINES, 'every printed line came through');
      assert.equal(big.log.longLineEnds, 1, 'the long line came through to its end');
      assert.ok(
        big.log.zBytes >= LONG_LINE,
        `all of the long line came through (${big.log.zBytes} of ${LONG_LINE} bytes)`,
      );
      assert.deepEqual(
        { sha256: big.log.passedSha256, bytes: big.log.passedBytes },
        tee.printed(),
        'the step printed exactly what buildx printed',
      );
      assert.ok(
        big.stepPeakMiB - small.stepPeakMiB < 64,
        `the step's peak RSS grew from ${small.stepPeakMiB.toFixed(1)} MiB (small log) to ${big.stepPeakMiB.toFixed(1)} MiB with ${printedMB} MB of log`,
      );
    });
    t.diagnostic(
      `log printed by the RUN: ${printedMB.toFixed(1)} MB (${LINES} lines + one ${LONG_LINE / 1e6} MB line); through the step's stderr: ${(big.log.bytes / 1e6).toFixed(1)} MB in ${big.ms} ms = ${(big.log.bytes / 1e6 / (big.ms / 1000)).toFixed(1)} MB/s (small log: ${small.ms} ms)`,
    );
    t.diagnostic(
      `step (node) peak RSS: small log ${small.stepPeakMiB.toFixed(1)} MiB, big log ${big.stepPeakMiB.toFixed(1)} MiB; buildx peak RSS: small ${small.buildxPeakMiB.toFixed(1)} MiB, big ${big.buildxPeakMiB.toFixed(1)} MiB`,
    );
    t.diagnostic(
      `buildkitd peak RSS so far (it holds a RUN's log that its client has not read yet): ${(peak((await fleetDaemon()).pid).kib / 1024).toFixed(1)} MiB`,
    );
  });
});
