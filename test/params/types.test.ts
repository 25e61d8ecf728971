// The params' types come from the schema: a param added to the schema that the config does not
// take fails the type check. Compiles src/config.ts against a variant of the schema.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO } from '../helpers.js';

const run = promisify(execFile);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bks-types-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Type-checks a copy of src/ whose ParamsSchema is `schema`; returns tsc's exit code and output. */
async function typeCheck(name: string, schema: Record<string, unknown>): Promise<{ code: number; output: string }> {
  const dir = path.join(tmp, name);
  cpSync(path.join(REPO, 'src'), path.join(dir, 'src'), { recursive: true });
  cpSync(path.join(REPO, 'package.json'), path.join(dir, 'package.json'));
  writeFileSync(
    path.join(dir, 'src', 'params', 'schema.generated.ts'),
    `export type ParamsSchema = ${JSON.stringify(schema)};\n`,
  );
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(REPO, 'tsconfig.json'),
      compilerOptions: { noEmit: true, rootDir: '.', typeRoots: [path.join(REPO, 'node_modules', '@types')] },
      include: [],
      files: ['src/config.ts'],
    }),
  );
  const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    const { stdout } = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir });
    return { code: 0, output: stdout };
  } catch (error) {
    const { code, stdout } = error as { code: number; stdout: string };
    return { code, output: stdout };
  }
}

const schema = JSON.parse(readFileSync(path.join(REPO, 'schemas', 'params.schema.json'), 'utf8')) as {
  properties: Record<string, unknown>;
};

describe('Params from the schema', () => {
  test('a param added to the schema that the config does not take fails the type check, naming it', async () => {
    const variant = { ...schema, properties: { ...schema.properties, squash: { type: 'boolean' } } };
    const { code, output } = await typeCheck('unhandled', variant);
    assert.equal(code, 2);
    // The only error: everything else in src/ type-checks against the variant as it does against the schema.
    assert.deepEqual(
      output
        .split('\n')
        .filter((line) => / error TS\d+/.test(line))
        .map((line) => line.replace(/\(\d+,\d+\)/, '')),
      [
        "src/config.ts: error TS1360: Type '{ squash?: boolean | undefined; }' does not satisfy the expected type 'Record<string, never>'.",
      ],
    );
    assert.match(output, /Property 'squash' is incompatible with index signature/);
  });
});
