// Materializes the inputs that live on disk: ConfigMap/Secret dirs, secret values as private
// files, the registry config and TLS files. Touches the filesystem; `cleanup` undoes it.
import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BuildInputs, TlsFiles } from './buildx/argv.js';
import type { BuildConfig, Pair } from './config.js';
import type { TlsMaterial } from './daemon/probe.js';
import { StepError } from './errors.js';
import { checkRegistryCa } from './registry-ca.js';
import { paramsSchema } from './params/schema.js';

export type Materialized = {
  inputs: Omit<BuildInputs, 'progress'>;
  /** A private DOCKER_CONFIG dir for buildx, when `docker_config` was given. */
  dockerConfigDir: string | undefined;
  /** Credential helpers named by `docker_config` (`credHelpers` by registry host, and `credsStore`), to name them in errors. */
  credentialHelpers: CredentialHelpers;
  tls: { files: TlsFiles; material: TlsMaterial } | undefined;
  /** Every secret value (inline or from a mounted file), for masking output. */
  secretTexts: string[];
  /** Removes every file written here. Safe to call twice. */
  cleanup: () => Promise<void>;
};

export type CredentialHelpers = { byHost: Record<string, string>; store: string | undefined };

const ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const BUILD_ARG = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads dirs and writes secret values to a 0700 dir of 0600 files under `stateDir`. With
 * `dryRun` nothing is written: the paths are what a real run would use (for print-argv).
 */
export async function materialize(
  config: BuildConfig,
  stateDir: string,
  options: { dryRun?: boolean } = {},
): Promise<Materialized> {
  const dryRun = options.dryRun ?? false;
  let privateDir = path.join(stateDir, 'private-XXXXXX');
  if (!dryRun) {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    privateDir = await mkdtemp(path.join(stateDir, 'private-'));
    await chmod(privateDir, 0o700);
  }
  const cleanup = async () => {
    if (!dryRun) await rm(privateDir, { recursive: true, force: true });
  };
  try {
    const writePrivate = async (name: string, content: string) => {
      const file = path.join(privateDir, name);
      if (!dryRun) await writeFile(file, content, { mode: 0o600, flag: 'wx' });
      return file;
    };
    const buildArgs = mergePairs(
      await namedFiles(config.buildArgsDir, 'build_args_dir', BUILD_ARG, readBuildArg),
      config.buildArgs,
    );

    const secretFiles = await namedFiles(config.secretsDir, 'secrets_dir', ID, (file) => Promise.resolve(file));
    const secretTexts = [...config.secrets.map((pair) => pair.value), ...config.ssh.map((pair) => pair.value)];
    const secretValues = await Promise.all(
      config.secrets.map(async (pair, index) => ({
        key: pair.key,
        value: await writePrivate(`secret-${index}`, pair.value),
      })),
    );
    const secrets = mergePairs(secretFiles, secretValues).map((pair) => ({ id: pair.key, src: pair.value }));

    const sshFromDir = (await namedFiles(config.sshDir, 'ssh_dir', ID, (file) => Promise.resolve(file), isNotAKey)).map(
      (pair) => ({
        key: sshIdOf(pair.key),
        value: pair.value,
      }),
    );
    await Promise.all(config.sshKeyFiles.map((pair) => mustRead(pair.value, 'ssh_key_files')));
    checkSshPaths('ssh_dir', sshFromDir);
    checkSshPaths('ssh_key_files', config.sshKeyFiles);
    if (config.ssh.length > 0)
      checkSshPaths('ssh (its keys go to BUILDKIT_STEP_STATE_DIR)', [{ key: '', value: privateDir }]);
    const sshValues = await Promise.all(
      config.ssh.map(async (pair, index) => ({ key: pair.key, value: await writePrivate(`ssh-${index}`, pair.value) })),
    );
    const ssh = groupById([...sshFromDir, ...config.sshKeyFiles, ...sshValues]);
    if (!dryRun) {
      const mountedFiles = [...secretFiles, ...sshFromDir, ...config.sshKeyFiles].map((pair) => pair.value);
      secretTexts.push(...(await Promise.all(mountedFiles.map(readForMasking))));
    }

    const dockerConfig = config.dockerConfig
      ? await copyDockerConfig(config.dockerConfig, privateDir, dryRun)
      : undefined;
    const tls = config.tlsDir ? await readTls(config.tlsDir, config.tlsServerName) : undefined;
    await checkRegistryCa(config.registries.ca);
    const credentialHelpers = dockerConfig?.helpers ?? { byHost: {}, store: undefined };
    return {
      inputs: { buildArgs, secrets, ssh },
      dockerConfigDir: dockerConfig?.dir,
      credentialHelpers,
      tls,
      secretTexts,
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * buildx splits `--ssh id=path,path` at every comma and has no quoting: a key path with a comma
 * (a relative path resolved in a dir with one, too) would forward two wrong paths.
 */
function checkSshPaths(param: string, pairs: readonly Pair[]): void {
  const bad = pairs.find((pair) => pair.value.includes(','));
  if (bad)
    throw new StepError(
      'PARAMS_INVALID',
      `${param}: the key path ${JSON.stringify(bad.value)} contains ",", which buildx --ssh cannot carry (it splits key paths at commas)`,
    );
}

/** Fails with PARAMS_UNREADABLE naming the param when `file` cannot be read (before buildx fails obscurely). */
async function mustRead(file: string, param: string): Promise<void> {
  try {
    await access(file, constants.R_OK);
  } catch (error) {
    throw new StepError(
      'PARAMS_UNREADABLE',
      `${param}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`,
      { cause: error },
    );
  }
}

/** A mounted secret's content, to mask it in logs; buildx takes files up to 500 KB, so larger ones are not read. */
async function readForMasking(file: string): Promise<string> {
  try {
    return (await stat(file)).size <= 512 * 1024 ? await readFile(file, 'utf8') : '';
  } catch {
    return '';
  }
}

/** Later pairs win by key; order: first appearance. */
function mergePairs(base: Pair[], overrides: Pair[]): Pair[] {
  const keys = new Set(overrides.map((pair) => pair.key));
  return [...base.filter((pair) => !keys.has(pair.key)), ...overrides];
}

function groupById(pairs: Pair[]): Array<{ id: string; paths: string[] }> {
  const byId = new Map<string, string[]>();
  for (const pair of pairs) byId.set(pair.key, [...(byId.get(pair.key) ?? []), pair.value]);
  return [...byId].map(([id, paths]) => ({ id, paths }));
}

/**
 * The SSH id a key file in `ssh_dir` is forwarded as: `ssh-privatekey` (a kubernetes.io/ssh-auth
 * Secret) and OpenSSH's own names (`id_rsa`, `id_ed25519`, ... as a git-clone style Secret holds
 * them) become `default`, the id a bare `RUN --mount=type=ssh` uses; other files keep their name.
 */
export function sshIdOf(fileName: string): string {
  return fileName === 'ssh-privatekey' || /^id_[a-z0-9_]+$/.test(fileName) ? 'default' : fileName;
}

/** Public keys, known_hosts and ssh config often sit in the same Secret: they are not keys to forward. */
function isNotAKey(name: string): boolean {
  return name.endsWith('.pub') || ['ssh-publickey', 'known_hosts', 'config'].includes(name);
}

/** The schema's limit on one build argument value, in characters (code points, as the schema counts). */
const buildArgValueMax = (): number =>
  (paramsSchema().$defs?.build_arg?.properties?.value?.maxLength as number | undefined) ?? 16_384;

/**
 * A build_args_dir file's content, held to the limit a `build_args` value has: a ConfigMap of
 * many keys must say which one is too big. A file too large in bytes is not read at all.
 */
async function readBuildArg(file: string): Promise<string> {
  const max = buildArgValueMax();
  const tooBig = (size: string) =>
    new StepError(
      'PARAMS_INVALID',
      `build_args_dir: file "${path.basename(file)}" holds ${size}, over the ${max}-character limit for a build argument value`,
    );
  const { size } = await stat(file);
  if (size > max * 4) throw tooBig(`${size} bytes`);
  const value = await readFile(file, 'utf8');
  const chars = [...value].length;
  if (chars > max) throw tooBig(`${chars} characters`);
  // One trailing newline is the file's, not the value's: `kubectl create configmap --from-file`
  // and most editors write one, and `VERSION=1.4.2\n` would reach the build.
  return value.replace(/\r?\n$/, '');
}

/**
 * Each regular, non-hidden file of `dir` as a pair (file name, `value(file)`). A mounted
 * ConfigMap or Secret also holds `..data` links and timestamped dirs: skipped.
 */
async function namedFiles(
  dir: string | undefined,
  param: string,
  namePattern: RegExp,
  value: (file: string) => Promise<string>,
  skip: (name: string) => boolean = () => false,
): Promise<Pair[]> {
  if (!dir) return [];
  const unreadable = (target: string, error: unknown) =>
    new StepError(
      'PARAMS_UNREADABLE',
      `${param}: cannot read ${target}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      { cause: error },
    );
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => !name.startsWith('.') && !skip(name)).sort();
  } catch (error) {
    throw unreadable(dir, error);
  }
  const pairs: Pair[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if (!(await stat(file)).isFile()) continue;
      if (!namePattern.test(name)) {
        throw new StepError(
          'PARAMS_INVALID',
          `${param}: file name "${name}" is not a valid name (${namePattern.source})`,
        );
      }
      pairs.push({ key: name, value: await value(file) });
    } catch (error) {
      throw error instanceof StepError ? error : unreadable(file, error);
    }
  }
  return pairs;
}

/** Copies `config.json` or `.dockerconfigjson` into a private DOCKER_CONFIG dir, checking its shape only. */
async function copyDockerConfig(
  dir: string,
  privateDir: string,
  dryRun: boolean,
): Promise<{ dir: string; helpers: CredentialHelpers }> {
  let text: string | undefined;
  let found = '';
  for (const name of ['config.json', '.dockerconfigjson']) {
    try {
      text = await readFile(path.join(dir, name), 'utf8');
      found = name;
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EISDIR') {
        throw new StepError(
          'PARAMS_UNREADABLE',
          `docker_config: cannot read ${path.join(dir, name)}: ${code} (is the Secret mounted readable for this user?)`,
          { cause: error },
        );
      }
    }
  }
  if (text === undefined)
    throw new StepError('PARAMS_UNREADABLE', `docker_config: ${dir} holds neither config.json nor .dockerconfigjson`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The content is credentials: say where, never what.
    throw new StepError('PARAMS_INVALID', `docker_config: ${path.join(dir, found)} is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new StepError('PARAMS_INVALID', `docker_config: ${path.join(dir, found)} must be a JSON object with "auths"`);
  }
  const target = path.join(privateDir, 'docker');
  const helpers = credentialHelpersOf(parsed as Record<string, unknown>);
  if (dryRun) return { dir: target, helpers };
  await mkdir(target, { mode: 0o700 });
  await writeFile(path.join(target, 'config.json'), text, { mode: 0o600 });
  return { dir: target, helpers };
}

/** `credHelpers` and `credsStore` of a docker config (helper names only: no credentials). */
function credentialHelpersOf(config: Record<string, unknown>): CredentialHelpers {
  const named = (value: unknown): value is string => typeof value === 'string' && /^[A-Za-z0-9._-]+$/.test(value);
  const helpers = config.credHelpers;
  const byHost =
    helpers !== null && typeof helpers === 'object'
      ? Object.fromEntries(Object.entries(helpers).filter((entry): entry is [string, string] => named(entry[1])))
      : {};
  return { byHost, store: named(config.credsStore) ? config.credsStore : undefined };
}

/** Client TLS files by the names a Secret commonly uses. */
async function readTls(
  dir: string,
  servername: string | undefined,
): Promise<{ files: TlsFiles; material: TlsMaterial }> {
  const pick = async (names: string[]): Promise<{ file: string; content: Buffer }> => {
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        return { file, content: await readFile(file) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new StepError(
            'PARAMS_UNREADABLE',
            `tls_dir: cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`,
            { cause: error },
          );
        }
      }
    }
    throw new StepError('PARAMS_UNREADABLE', `tls_dir: ${dir} has none of ${names.join(', ')}`);
  };
  const ca = await pick(['ca.pem', 'ca.crt']);
  const cert = await pick(['cert.pem', 'tls.crt']);
  const key = await pick(['key.pem', 'tls.key']);
  return {
    files: { ca: ca.file, cert: cert.file, key: key.file },
    material: { ca: ca.content, cert: cert.content, key: key.content, ...(servername ? { servername } : {}) },
  };
}
