// Hides secret values in text before it is shown anywhere. Pure.

const MIN_LENGTH = 4;

/** Hides secrets in text; `cut` tells how much of an unfinished line can be shown safely. */
export type Masker = ((text: string) => string) & {
  /**
   * How many leading characters of `text` (the start of a line whose rest has not arrived yet)
   * can be masked and shown on their own: no secret can begin before that point and end after it.
   */
  cut: (text: string) => number;
  /** A masker of its own for one output stream of one run, when masking keeps state across lines. */
  forStream?: () => Masker;
};

/**
 * A function replacing every occurrence of each secret (and of each line of a multi-line one)
 * with `***`. Very short fragments are left alone: masking "a" would garble every log line.
 */
export function masker(secrets: readonly string[]): Masker {
  const fragments = [
    ...new Set(secrets.flatMap((secret) => [secret, ...secret.split(/\r?\n/)]).map((part) => part.trim())),
  ]
    .filter((part) => part.length >= MIN_LENGTH)
    .sort((a, b) => b.length - a.length);
  if (fragments.length === 0) return Object.assign((text: string) => text, { cut: (text: string) => text.length });
  // Plain substring replacement, longest first: one alternation regex of every secret fails to
  // compile ("regular expression too large") once secrets reach tens of KB (a PEM bundle, a key).
  const mask = (text: string) =>
    fragments.reduce((masked, part) => (masked.includes(part) ? masked.split(part).join('***') : masked), text);
  // `cut` sees the start of one line, so only fragments without a newline can occur in it. One
  // that starts within the last (longest - 1) characters may go on in text not read yet; one
  // that starts before the cut and ends after it moves the cut to its start.
  const inLine = fragments.filter((part) => !part.includes('\n'));
  const holdBack = Math.max(0, (inLine[0]?.length ?? 1) - 1);
  const straddling = (text: string, at: number): number => {
    let earliest = at;
    for (const part of inLine) {
      for (
        let index = text.indexOf(part, Math.max(0, at - part.length + 1));
        index !== -1 && index < at;
        index = text.indexOf(part, index + 1)
      ) {
        earliest = Math.min(earliest, index);
      }
    }
    return earliest;
  };
  const cut = (text: string): number => {
    let at = Math.max(0, text.length - holdBack);
    for (let moved = straddling(text, at); moved < at; moved = straddling(text, at)) at = moved;
    return at;
  };
  return Object.assign(mask, { cut });
}

type Pairs = Array<{ key: string; value: string }> | undefined;

/** The secret values given inline (`secrets`, `ssh`), for masking anything that might print one. */
export function inlineSecrets(params: { secrets?: Pairs; ssh?: Pairs }): string[] {
  return [...(params.secrets ?? []), ...(params.ssh ?? [])].map((pair) => pair.value);
}

/** A copy of the params with every inline secret value replaced by `***`, for printing. */
export function redactParams<T extends { secrets?: Pairs; ssh?: Pairs }>(params: T): T {
  const hide = (pairs: Pairs) => pairs?.map((pair) => ({ ...pair, value: '***' }));
  return {
    ...params,
    ...(params.secrets ? { secrets: hide(params.secrets) } : {}),
    ...(params.ssh ? { ssh: hide(params.ssh) } : {}),
  };
}

/** What docker's credential-helper client puts before a failed helper's output. */
const HELPER_OUTPUT = /error getting credentials - err: [^`]*?, out: `/;

/**
 * Wraps `inner` so a failed credential helper's output, which docker's client quotes in its
 * error (`..., out: \`<output>\``), is never shown: from `out: \`` to the closing backtick,
 * across lines, becomes `(hidden)`. A helper may print a token or its config on failure.
 */
export function hidingHelperOutput(inner: Masker): Masker {
  let hiding = false;
  const hideFrom = (text: string, start: number): string => {
    const end = text.indexOf('`', start);
    hiding = end < 0;
    return `${text.slice(0, start)}(hidden)${hiding ? '' : text.slice(end)}`;
  };
  const mask = (text: string): string => {
    let out = text;
    if (hiding) {
      const end = out.indexOf('`');
      if (end < 0) return '';
      hiding = false;
      out = out.slice(end);
    }
    const match = HELPER_OUTPUT.exec(out);
    if (match) out = hideFrom(out, match.index + match[0].length);
    return inner(out);
  };
  // A line that may turn into a helper error is held back whole until it ends.
  const cut = (text: string): number => (hiding || text.includes('error getting credentials') ? 0 : inner.cut(text));
  return Object.assign(mask, { cut, forStream: () => hidingHelperOutput(inner) });
}
