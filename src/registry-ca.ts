// Checks the CA files of `registry_ca` before anything runs: each must hold PEM certificates only.
// Touches the filesystem (reads the files).
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { StepError } from './errors.js';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/**
 * Throws PARAMS_UNREADABLE for a file that cannot be read and PARAMS_INVALID for one that is not
 * a bundle of PEM certificates, naming `registry_ca`, the registry and the file (never its content).
 */
export async function checkRegistryCa(ca: Record<string, string[]>): Promise<void> {
  for (const [host, files] of Object.entries(ca)) {
    for (const file of files) {
      const where = `registry_ca: ${file} (for ${host})`;
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new StepError(
          'PARAMS_UNREADABLE',
          `${where}: cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
          { cause: error },
        );
      }
      const problem = pemProblem(text);
      if (problem) throw new StepError('PARAMS_INVALID', `${where}: ${problem}`);
    }
  }
}

/** Why `text` is not a PEM certificate bundle, or undefined when it is one. Pure. */
export function pemProblem(text: string): string | undefined {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) return 'is not PEM: no -----BEGIN CERTIFICATE----- block';
  const other = blocks.find((block) => block[1] !== 'CERTIFICATE');
  if (other) return `holds a PEM "${other[1]}" block: give only CA certificates`;
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block[0]);
    } catch {
      return `certificate ${index + 1} of ${blocks.length} does not parse as X.509`;
    }
  }
  return undefined;
}
