// How buildx reads its own argv, re-implemented for tests: which flags take a CSV record, how
// `--ssh` and `--platform` split, and Go's encoding/csv rules for the first record.

/** Flags whose value buildx parses with encoding/csv (one record). */
const CSV_FLAGS = new Set(['--output', '--secret', '--sbom', '--driver-opt', '--attest', '--add-host', '--allow']);

/**
 * The first record of `text` as Go's csv.Reader (default settings) returns it: `""` inside
 * quotes is `"`, a quote in an unquoted field is an error, and `\r\n` reads as `\n` (also
 * inside a quoted field).
 */
export function goCsvRecord(text: string): string[] {
  const input = text.replace(/\r\n/g, '\n');
  const fields: string[] = [];
  let index = 0;
  for (;;) {
    let field = '';
    if (input[index] === '"') {
      index++;
      for (;;) {
        if (index >= input.length) throw new Error('csv: extraneous or missing " in quoted-field');
        const char = input[index]!;
        if (char === '"') {
          if (input[index + 1] === '"') {
            field += '"';
            index += 2;
            continue;
          }
          index++;
          break;
        }
        field += char;
        index++;
      }
      if (index < input.length && input[index] !== ',' && input[index] !== '\n')
        throw new Error('csv: extraneous or missing " in quoted-field');
    } else {
      while (index < input.length && input[index] !== ',' && input[index] !== '\n') {
        if (input[index] === '"') throw new Error('csv: bare " in non-quoted-field');
        field += input[index];
        index++;
      }
    }
    fields.push(field);
    if (index >= input.length || input[index] === '\n') return fields;
    index++; // the comma
  }
}

/** What buildx makes of the value that follows `flag` (or of a positional, `flag` undefined). */
export function readFlagValue(flag: string | undefined, value: string): string[] {
  if (flag !== undefined && CSV_FLAGS.has(flag)) return goCsvRecord(value);
  if (flag === '--ssh') {
    const at = value.indexOf('=');
    return at < 0 ? [value] : [value.slice(0, at), ...value.slice(at + 1).split(',')];
  }
  if (flag === '--platform') return value.split(',');
  return [value];
}
