// Splits one output stream into masked lines, holding at most a bounded part of any line: a RUN
// that prints hundreds of MB without a newline must not make the step hold it all.
import { StringDecoder } from 'node:string_decoder';
import type { Masker } from '../mask.js';

/** Characters of an unfinished line held before its start is shown. */
export const MAX_PENDING = 64 * 1024;

/** Some masked text of one line; a line longer than MAX_PENDING comes in several pieces. */
export type Piece = {
  text: string;
  /** The first piece of its line: the line's start, for progress parsing and the tail. */
  first: boolean;
  /** The line ends after this piece (a newline follows when shown). */
  last: boolean;
};

/**
 * Feed it the stream's chunks; each `take` returns the pieces that are ready, `end` the rest.
 * Bytes of a UTF-8 character split between chunks are joined before decoding.
 */
export function lineSplitter(
  mask: Masker,
  maxPending = MAX_PENDING,
): { take: (chunk: Buffer) => Piece[]; end: () => Piece[] } {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let first = true;
  const add = (text: string): Piece[] => {
    const pieces: Piece[] = [];
    let from = 0;
    for (let newline = text.indexOf('\n', from); newline >= 0; newline = text.indexOf('\n', from)) {
      pieces.push({ text: mask(pending + text.slice(from, newline)), first, last: true });
      pending = '';
      first = true;
      from = newline + 1;
    }
    pending += text.slice(from);
    if (pending.length > maxPending) {
      const cut = mask.cut(pending);
      if (cut > 0) {
        pieces.push({ text: mask(pending.slice(0, cut)), first, last: false });
        pending = pending.slice(cut);
        first = false;
      }
    }
    return pieces;
  };
  return {
    take: (chunk) => add(decoder.write(chunk)),
    end: () => {
      const pieces = add(decoder.end());
      if (pending || !first) pieces.push({ text: mask(pending), first, last: true });
      pending = '';
      first = true;
      return pieces;
    },
  };
}
