// Text in params: what cannot reach buildx intact, and how values are shown in messages. Pure.

const LONE_SURROGATE = /[\ud800-\udfff]/u;

/**
 * One problem per string that holds a NUL (a command-line argument or file name cannot carry
 * one) or a lone UTF-16 surrogate (it would reach buildx or a secret file as U+FFFD, silently
 * changed). Secret values (`writeOnly` params) may hold NUL, since they only go to files, and
 * are never quoted.
 */
export function textProblems(values: Record<string, unknown>, secretParams: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  // Params nest three levels deep; anything deeper is already a schema error, and recursing
  // into a document of 100000 nested arrays would overflow the stack.
  const visit = (value: unknown, path: string, secret: boolean, depth = 0) => {
    if (depth > 8) return;
    if (typeof value === 'string') {
      if (!secret && value.includes('\0'))
        problems.push(`${path}: contains a NUL character, which a command-line argument or file name cannot carry`);
      if (LONE_SURROGATE.test(value))
        problems.push(
          `${path}: is not valid Unicode (it holds a lone UTF-16 surrogate, which would reach buildx changed)`,
        );
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => visit(item, `${path}[${index}]`, secret, depth + 1));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value))
        visit(item, `${path}.${printableKey(key)}`, secret && key !== 'key', depth + 1);
    }
  };
  for (const [key, value] of Object.entries(values)) visit(value, printableKey(key), secretParams.has(key));
  return problems;
}

/** A key as it can be shown: JSON-quoted when it holds anything unprintable. */
export function printableKey(key: string): string {
  return /^[\x20-\x7e]*$/.test(key) ? key : JSON.stringify(key);
}

/** `null`, `an array`, or `a string ("x")`: what a value is, for messages. */
export function kindOf(value: unknown, quote = true): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  // `--daemon-timeout=abc` reaches us as NaN, which JSON would show as null.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return quote ? `${article(typeof value)} (${JSON.stringify(truncate(value))})` : article(typeof value);
}

/** `a string`, `an array`: a type name with its article. */
export function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** A long string cut to 80 characters, for messages; anything else as it is. */
export function truncate(value: unknown): unknown {
  return typeof value === 'string' && value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
