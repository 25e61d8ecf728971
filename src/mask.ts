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
  const pattern = new RegExp(fragments.map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return (text) => text.replace(pattern, '***');
}
