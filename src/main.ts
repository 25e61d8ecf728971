#!/usr/bin/env node
// The `buildkit-step` executable: real process I/O around `main`, plus signal handling.
import { main } from './cli.js';
import { writeOrWait } from './output.js';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => controller.abort(new Error(signal)));
}

process.exitCode = await main({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  // A pipe to stderr is written asynchronously: without waiting for 'drain' a fast build log
  // would pile up in our memory when the reader is slower than buildx.
  stderr: writeOrWait(process.stderr),
  isTty: Boolean(process.stderr.isTTY),
  signal: controller.signal,
});
