// Writing to a stream that is slower than we are.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { writeOrWait } from '../src/output.js';

/** A stream that takes one write at a time and finishes it only when told. */
function slowStream(): { stream: Writable; finish: () => void } {
  let pending: (() => void) | undefined;
  const stream = new Writable({ highWaterMark: 4, write: (_chunk, _encoding, callback) => void (pending = callback) });
  return { stream, finish: () => pending?.() };
}

test('returns nothing while the stream takes more, a promise once it is full, resolved when it drains', async () => {
  const { stream, finish } = slowStream();
  const write = writeOrWait(stream);
  assert.equal(write('ab'), undefined);
  const waiting = write('cdef');
  assert.ok(waiting instanceof Promise);
  let resolved = false;
  void waiting.then(() => (resolved = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(resolved, false, 'still full');
  finish();
  finish();
  await waiting;
  assert.equal(
    stream.listenerCount('drain') + stream.listenerCount('close') + stream.listenerCount('error'),
    0,
    'no listener left behind',
  );
});

test('a stream that closes instead of draining does not leave the writer waiting forever', async () => {
  const { stream } = slowStream();
  const waiting = writeOrWait(stream)('more than four bytes');
  stream.destroy();
  await waiting;
});

test('a stream already destroyed (its reader went away) never drains: nothing to wait for', () => {
  const { stream } = slowStream();
  stream.on('error', () => {});
  stream.destroy();
  const write = writeOrWait(stream);
  assert.equal(write('more text'), undefined);
  assert.equal(write('and more'), undefined);
});
