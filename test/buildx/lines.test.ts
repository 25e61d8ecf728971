// Splitting buildx output into masked lines with a bound on how much of one line is held.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineSplitter, type Piece } from '../../src/buildx/lines.js';
import { masker } from '../../src/mask.js';

/** Feeds `bytes` in chunks of `size` bytes; returns every piece, `end` included. */
function split(bytes: Buffer, size: number, secrets: string[] = [], maxPending?: number): Piece[] {
  const splitter = lineSplitter(masker(secrets), maxPending);
  const pieces: Piece[] = [];
  for (let at = 0; at < bytes.length; at += size) pieces.push(...splitter.take(bytes.subarray(at, at + size)));
  return [...pieces, ...splitter.end()];
}

/** What a reader sees: pieces joined, a newline after each line's last. */
const shown = (pieces: Piece[]) => pieces.map((piece) => (piece.last ? `${piece.text}\n` : piece.text)).join('');

test('joins lines split between chunks and splits chunks holding several lines', () => {
  const pieces = split(Buffer.from('#1 one\n#2 two\n#3 three'), 4);
  assert.deepEqual(pieces, [
    { text: '#1 one', first: true, last: true },
    { text: '#2 two', first: true, last: true },
    { text: '#3 three', first: true, last: true },
  ]);
});

test('a UTF-8 character split between two chunks comes out whole', () => {
  const text = 'größe ✓ 💾\n';
  for (const size of [1, 2, 3, 5]) assert.equal(shown(split(Buffer.from(text), size)), text, `chunks of ${size} bytes`);
});

test('a line longer than the bound comes out in pieces no bigger than the bound plus a chunk, and whole when joined', () => {
  const line = 'y'.repeat(10_000);
  const pieces = split(Buffer.from(`${line}\nnext\n`), 100, [], 1000);
  assert.ok(pieces.length > 9, `${pieces.length} pieces`);
  assert.ok(
    pieces.every((piece) => piece.text.length <= 1100),
    `longest piece ${Math.max(...pieces.map((piece) => piece.text.length))}`,
  );
  assert.equal(shown(pieces), `${line}\nnext\n`);
  assert.deepEqual(
    pieces.filter((piece) => piece.first).map((piece) => piece.text.slice(0, 4)),
    ['yyyy', 'next'],
    'only line starts are marked first',
  );
  assert.deepEqual(
    pieces.filter((piece) => piece.last).map((piece) => piece.text.slice(-4)),
    ['yyyy', 'next'],
  );
});

test('a secret across any cut point of a long line is still masked', () => {
  const secrets = ['s3cret-token-value', 'other-one'];
  const expected = masker(secrets);
  for (const size of [1, 3, 7, 16]) {
    for (let offset = 0; offset < 40; offset++) {
      const line = `${'x'.repeat(offset)}s3cret-token-value${'y'.repeat(37)}other-one${'z'.repeat(offset)}`;
      const text = shown(split(Buffer.from(`${line}\n`), size, secrets, 20));
      assert.equal(text, `${expected(line)}\n`, `chunks of ${size}, offset ${offset}`);
      assert.ok(!text.includes('s3cret') && !text.includes('other-one'));
    }
  }
});

test('the last line without a newline, and a long line ended by the stream, still end', () => {
  assert.equal(shown(split(Buffer.from('a\nb'), 10)), 'a\nb\n');
  const long = split(Buffer.from('q'.repeat(50)), 50, [], 10);
  assert.equal(shown(long), `${'q'.repeat(50)}\n`);
  assert.equal(long.at(-1)?.last, true);
  assert.deepEqual(split(Buffer.alloc(0), 1), []);
});
