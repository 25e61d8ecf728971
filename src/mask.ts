// Hides secret values in text before it is shown anywhere. Pure.

const MIN_LENGTH = 4;

/**
 * A function replacing every occurrence of each secret (and of each line of a multi-line one)
 * with `***`. Very short fragments are left alone: masking "a" would garble every log line.
 */
export function masker(secrets: readonly string[]): (text: string) => string {
  const fragments = [...new Set(secrets.flatMap((secret) => [secret, ...secret.split(/\r?\n/)]).map((part) => part.trim()))]
    .filter((part) => part.length >= MIN_LENGTH)
    .sort((a, b) => b.length - a.length);
  if (fragments.length === 0) return (text) => text;
  // Plain substring replacement, longest first: one alternation regex of every secret fails to
  // compile ("regular expression too large") once secrets reach tens of KB (a PEM bundle, a key).
  return (text) => fragments.reduce((masked, part) => (masked.includes(part) ? masked.split(part).join('***') : masked), text);
}

type Pairs = Array<{ key: string; value: string }> | undefined;

/** The secret values given inline (`secrets`, `ssh`), for masking anything that might print one. */
export function inlineSecrets(params: { secrets?: Pairs; ssh?: Pairs }): string[] {
  return [...(params.secrets ?? []), ...(params.ssh ?? [])].map((pair) => pair.value);
}

/** A copy of the params with every inline secret value replaced by `***`, for printing. */
export function redactParams<T extends { secrets?: Pairs; ssh?: Pairs }>(params: T): T {
  const hide = (pairs: Pairs) => pairs?.map((pair) => ({ ...pair, value: '***' }));
  return { ...params, ...(params.secrets ? { secrets: hide(params.secrets) } : {}), ...(params.ssh ? { ssh: hide(params.ssh) } : {}) };
}
