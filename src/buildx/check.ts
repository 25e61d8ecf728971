// Reads the findings of `buildx build --call=check` from its output lines. Pure.

/**
 * The number of findings buildx reported, from its closing line (`Check complete, N warnings
 * have been found!` / `Check complete, no warnings found.`), or from the `WARNING: Rule - url`
 * lines when that line is missing; undefined when the output shows no check result at all
 * (the check itself failed: a Dockerfile that does not parse, a lost daemon).
 */
export function countCheckFindings(lines: readonly string[]): number | undefined {
  for (const line of lines) {
    if (/Check complete, no warnings found/.test(line)) return 0;
    const count = /Check complete, (\d+) warnings? ha(?:s|ve) been found/.exec(line)?.[1];
    if (count !== undefined) return Number(count);
  }
  const findings = lines.filter((line) => /^WARNING: [A-Za-z]+ - /.test(line)).length;
  return findings > 0 ? findings : undefined;
}
