// A corpus of invalid and adversarial params documents, each with the outcome it must have:
// rejected with PARAMS_INVALID naming a parameter, or legal and confined to its own argv
// element / CSV field. Hand-written cases plus generated ones (slot x hostile token, wrong
// types, sizes). The expectations are the params contract, stated here per slot.
/* eslint-disable no-control-regex -- the corpus states which control characters each slot refuses: its patterns match them on purpose */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type Doc = Record<string, unknown>;
/** How the document reaches the step. */
export type Via = 'env-json' | 'file' | 'param-env' | 'flags' | 'tekton-arrays';

export type Expect =
  /** PARAMS_INVALID (exit 2) with a message that names `param`; buildx never starts. */
  | { rejected: string }
  /**
   * Accepted; `print-argv` equals the baseline's argv except where the baseline holds
   * PLAIN, and there buildx reads exactly the baseline's fields with PLAIN replaced by `value`.
   */
  | { legal: string };

export type Case = {
  name: string;
  origin: 'hand' | 'generated';
  via: Via;
  doc: Doc;
  /** The same document with PLAIN where `doc` has the hostile value (legal cases). */
  baseline?: Doc;
  expect: Expect;
  /** Extra env (e.g. a state dir), applied to both the case and its baseline. */
  env?: NodeJS.ProcessEnv;
  /** Raw CLI args after the command, instead of deriving them from `doc` (via 'flags'). */
  args?: string[];
  /** Raw text for BUILDKIT_STEP_PARAMS / the params file, instead of JSON.stringify(doc). */
  text?: string;
  /** Creates the files a legal path names; called for the case and for its baseline. */
  setup?: (value: string) => void;
};

/** The stand-in for a hostile value in a baseline document. Lowercase alphanumerics: legal everywhere. */
export const PLAIN = 'zqplainqz';
/** Marks secret values: it must never appear in any output. */
export const SECRET_MARK = 'S3CRETMARK';
export const CANARY = `${SECRET_MARK}-canary-${process.pid}`;

/** Dirs and files the documents point at. */
export type Fixture = { root: string; cwd: string; state: string; tmp: string; keyFile: string; secretsDir: string };

export function makeFixture(root: string): Fixture {
  const cwd = path.join(root, 'cwd');
  const secretsDir = path.join(root, 'mounted-secrets');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(secretsDir, { recursive: true });
  mkdirSync(path.join(root, 'tmp'), { recursive: true });
  writeFileSync(path.join(secretsDir, 'dirsecret'), `${SECRET_MARK}-from-dir`);
  const keyFile = path.join(root, 'deploy-key');
  writeFileSync(keyFile, 'not a real key\n');
  return { root, cwd, state: path.join(root, 'state'), tmp: path.join(root, 'tmp'), keyFile, secretsDir };
}

/** A document that uses every flag-shaping parameter once, so a hostile value has neighbours to disturb. */
export function baseDoc(f: Fixture): Doc {
  return {
    image: 'registry.example.com/team/app',
    tags: ['v1'],
    context: 'ctx',
    build_args: [{ key: 'A', value: '1' }],
    labels: [{ key: 'l', value: '1' }],
    annotations: [{ key: 'a', value: '1' }],
    secrets: [{ key: 'canary', value: CANARY }],
    secrets_dir: f.secretsDir,
    ssh_key_files: [{ key: 'deploy', value: f.keyFile }],
    target: 't',
    platforms: ['linux/amd64'],
    cache_from: ['type=registry,ref=registry.example.com/team/cache:1'],
    oci_layout: path.join(f.root, 'layout'),
    metadata_file: path.join(f.root, 'meta.json'),
    sbom: true,
    sbom_generator: 'registry.example.com/tools/scanner:1',
    build_contexts: [{ key: 'ctx2', value: 'ctx2' }],
    network: 'none',
    add_hosts: ['db.internal=10.0.0.1'],
    allow: ['security.insecure'],
    ulimits: ['nofile=1024:2048'],
    shm_size: '64m',
    compression: 'zstd',
    compression_level: 3,
    force_compression: true,
    local_export_dir: path.join(f.root, 'exported'),
    local_export_target: 'reports',
    git_url: 'https://git.example.com/team/app.git',
    git_commit: 'a'.repeat(40),
  };
}

/** Hostile fragments: CSV and flag breakers, control characters, odd Unicode. */
export const TOKENS: Record<string, string> = {
  comma: ',',
  newline: '\n',
  cr: '\r',
  crlf: '\r\n',
  quote: '"',
  equals: '=',
  'output-flag': '--output=/tmp/x',
  'short-flag': '-o',
  space: ' ',
  nul: '\0',
  dotdot: '..',
  tab: '\t',
  'ansi-escape': '\u001b[31m',
  'line-separator': '\u2028',
  'rtl-override': '\u202e',
  bom: '\ufeff',
  accent: 'é',
  emoji: '😀',
  'lone-surrogate': '\ud800',
};
/** Tokens also tried as the whole value, not only embedded. */
const WHOLE = ['comma', 'equals', 'output-flag', 'short-flag', 'space', 'dotdot'];

const hasNul = (v: string) => v.includes('\0');
const loneSurrogate = (v: string) => /[\ud800-\udfff]/u.test(v);
const control = (v: string) => /[\u0000-\u001f\u007f]/.test(v);
/** Any text an argv element can carry unchanged. */
const argvText = (v: string) => !hasNul(v) && !loneSurrogate(v);
/** A path: no control characters (Go's CSV reader turns \r\n into \n in --output/--secret fields). */
const pathText = (v: string) => argvText(v) && !control(v);
/** The Docker reference grammar for a repository, a tag, an id (secret/ssh), a platform. */
const REPOSITORY =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** `host[:port]` of registry_http, registry_insecure and the keys of registry_mirrors / registry_ca. */
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]{1,5})?$/;
const MIRROR =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** Where a hostile string can go, what the contract says about it, and how to make it real on disk. */
type Slot = {
  /** The parameter path the rejection message must name. */
  param: string;
  set: (doc: Doc, value: string, f: Fixture) => void;
  /** The contract: is `value` legal here? */
  legal: (value: string) => boolean;
  /** How a token becomes a value: embedded between letters by default. */
  embed?: (token: string) => string;
  /** Longest legal value, to try max and max + 1. */
  max?: number;
  /** Values are paths that must exist (dirs read, key files checked). */
  setup?: (f: Fixture) => (value: string) => void;
  /** Only through JSON sources (the value is no plain string for PARAM_* / flags). */
  jsonOnly?: boolean;
  /** A path: `..` as the whole value is left out, since resolving it is meant to normalise it away. */
  path?: boolean;
};

const pair = (key: string, value: string) => [{ key, value }];
const resolved = (f: Fixture, value: string) => path.resolve(f.cwd, value);

function slots(): Slot[] {
  return [
    { param: 'build_args[0].value', set: (d, v) => (d.build_args = pair('A', v)), legal: argvText, max: 16384 },
    {
      param: 'build_args[0].key',
      set: (d, v) => (d.build_args = pair(v, '1')),
      legal: (v) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(v),
      max: 255,
    },
    { param: 'labels[0].value', set: (d, v) => (d.labels = pair('l', v)), legal: argvText, max: 16384 },
    {
      param: 'labels[0].key',
      set: (d, v) => (d.labels = pair(v, '1')),
      legal: (v) => argvText(v) && /^[^=\s\u0000-\u001f\u007f]+$/.test(v),
      max: 1024,
    },
    { param: 'annotations[0].value', set: (d, v) => (d.annotations = pair('a', v)), legal: argvText, max: 16384 },
    {
      param: 'annotations[0].key',
      set: (d, v) => (d.annotations = pair(v, '1')),
      legal: (v) => argvText(v) && /^[^=\s,\u0000-\u001f\u007f]+$/.test(v),
      max: 1024,
    },
    { param: 'tags[0]', set: (d, v) => (d.tags = [v]), legal: (v) => TAG.test(v), max: 128 },
    {
      param: 'image',
      set: (d, v) => (d.image = `registry.example.com/team/${v}`),
      legal: (v) => REPOSITORY.test(`registry.example.com/team/${v}`) && v.length <= 229,
      max: 229,
    },
    { param: 'target', set: (d, v) => (d.target = v), legal: (v) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v) },
    { param: 'secrets[0].key', set: (d, v) => (d.secrets = pair(v, CANARY)), legal: (v) => ID.test(v), max: 255 },
    {
      param: 'secrets[0].value',
      set: (d, v) => (d.secrets = pair('canary', v)),
      legal: (v) => !loneSurrogate(v),
      embed: (t) => `${SECRET_MARK}${t}v`,
      max: 512000,
    },
    { param: 'ssh[0].key', set: (d, v) => (d.ssh = pair(v, 'key material')), legal: (v) => ID.test(v), max: 255 },
    {
      param: 'ssh[0].value',
      set: (d, v) => (d.ssh = pair('default', v)),
      legal: (v) => !loneSurrogate(v),
      embed: (t) => `${SECRET_MARK}${t}v`,
      max: 65536,
    },
    {
      param: 'ssh_key_files[0].value',
      set: (d, v) => (d.ssh_key_files = pair('deploy', `keys/${v}`)),
      legal: (v) => pathText(v) && !v.includes(','),
      max: 4091,
      path: true,
      setup: (f) => (v) => touch(resolved(f, `keys/${v}`)),
    },
    { param: 'context', set: (d, v) => (d.context = v), legal: pathText, max: 4096, path: true },
    { param: 'dockerfile', set: (d, v) => (d.dockerfile = v), legal: pathText, max: 4096, path: true },
    { param: 'oci_layout', set: (d, v) => (d.oci_layout = v), legal: pathText, max: 4096, path: true },
    { param: 'metadata_file', set: (d, v) => (d.metadata_file = v), legal: pathText, max: 4096, path: true },
    {
      param: 'secrets_dir',
      set: (d, v) => (d.secrets_dir = `sdir/${v}`),
      legal: pathText,
      path: true,
      setup: (f) => (v) => touch(path.join(resolved(f, `sdir/${v}`), 'dirsecret')),
    },
    {
      param: 'ssh_dir',
      set: (d, v) => (d.ssh_dir = `shdir/${v}`),
      legal: (v) => pathText(v) && !v.includes(','),
      path: true,
      setup: (f) => (v) => touch(path.join(resolved(f, `shdir/${v}`), 'ssh-privatekey')),
    },
    {
      param: 'docker_config',
      set: (d, v) => (d.docker_config = `dc/${v}`),
      legal: pathText,
      path: true,
      setup: (f) => (v) => touch(path.join(resolved(f, `dc/${v}`), 'config.json'), '{"auths":{}}'),
    },
    {
      param: 'result_paths.IMAGE_URL',
      set: (d, v) => (d.result_paths = { IMAGE_URL: v }),
      legal: pathText,
      max: 4096,
      jsonOnly: true,
      path: true,
    },
    {
      param: 'sbom_generator',
      set: (d, v) => (d.sbom_generator = `registry.example.com/tools/${v}:1`),
      legal: (v) => REPOSITORY.test(`registry.example.com/tools/${v}`),
    },
    {
      param: 'cache_from[0]',
      set: (d, v) => (d.cache_from = [`type=registry,ref=r.example.com/c:${v}`]),
      legal: (v) => argvText(v) && !/[\n\r\u2028\u2029]/.test(v),
    },
    {
      param: 'endpoint',
      set: (d, v) => (d.endpoint = `unix:///run/${v}.sock`),
      legal: (v) => argvText(v) && !/[\s\u0000-\u001f\u007f]/.test(v),
    },
    // Registry settings: hosts reach the daemon's buildkitd.toml (and the sidecar's shell), so only host[:port] passes.
    {
      param: 'registry_http[0]',
      set: (d, v) => (d.registry_http = [`r${v}.example.com:5000`]),
      legal: (v) => HOST.test(`r${v}.example.com:5000`),
    },
    {
      param: 'registry_mirrors',
      set: (d, v) => (d.registry_mirrors = { [`m${v}.example.com`]: ['mirror.example.com'] }),
      legal: (v) => HOST.test(`m${v}.example.com`),
      jsonOnly: true,
    },
    {
      param: 'registry_mirrors.docker.io[0]',
      set: (d, v) => (d.registry_mirrors = { 'docker.io': [`mirror.example.com/${v}`] }),
      legal: (v) => MIRROR.test(`mirror.example.com/${v}`),
      jsonOnly: true,
    },
    {
      param: 'https_proxy',
      set: (d, v) => (d.https_proxy = `http://proxy-${v}.example.com:3128`),
      legal: (v) =>
        argvText(v) &&
        /^(https?|socks5):\/\/[^\s/?#]+\/?$/.test(`http://proxy-${v}.example.com:3128`) &&
        `http://proxy-${v}.example.com:3128`.length <= 2048,
    },
    { param: 'platforms[0]', set: (d, v) => (d.platforms = [`linux/${v}`]), legal: (v) => /^[a-z0-9_]+$/.test(v) },
    {
      param: 'build_contexts[0].key',
      set: (d, v) => (d.build_contexts = pair(v, 'ctx2')),
      legal: (v) => /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/.test(v),
      max: 255,
    },
    {
      param: 'build_contexts[0].value',
      set: (d, v) => (d.build_contexts = pair('ctx2', v)),
      legal: (v) => pathText(v) && !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(v),
      max: 4096,
      path: true,
    },
    {
      param: 'build_contexts[0].value',
      set: (d, v) => (d.build_contexts = pair('ctx2', `docker-image://registry.example.com/${v}:1`)),
      legal: (v) => /^[A-Za-z0-9._:/@-]*$/.test(v),
    },
    {
      param: 'build_contexts[0].value',
      set: (d, v) => (d.build_contexts = pair('ctx2', `oci-layout:///layouts/${v}@sha256:${'b'.repeat(64)}`)),
      legal: pathText,
    },
    {
      param: 'add_hosts[0]',
      set: (d, v) => (d.add_hosts = [`h${v}h=10.0.0.1`]),
      legal: (v) => /^h(?:[A-Za-z0-9.-]*)h$/.test(`h${v}h`),
      max: 244,
    },
    {
      param: 'add_hosts[0]',
      set: (d, v) => (d.add_hosts = [`db:fd00::${v}`]),
      legal: (v) => /^[0-9A-Fa-f]{0,4}$/.test(v),
    },
    {
      param: 'ulimits[0]',
      set: (d, v) => (d.ulimits = [`nofile=${v}`]),
      legal: (v) => /^-?[0-9]{1,18}(?::-?[0-9]{1,18})?$/.test(v),
    },
    { param: 'shm_size', set: (d, v) => (d.shm_size = v), legal: (v) => /^[1-9][0-9]{0,12}[kmg]?$/.test(v) },
    { param: 'local_export_dir', set: (d, v) => (d.local_export_dir = v), legal: pathText, max: 4096, path: true },
    {
      param: 'local_export_target',
      set: (d, v) => (d.local_export_target = v),
      legal: (v) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v),
    },
    {
      param: 'git_url',
      set: (d, v) => (d.git_url = `https://git.example.com/${v}`),
      legal: (v) => !/[\s\u0000-\u001f\u007f@]/u.test(v) && !loneSurrogate(v),
      max: 2024,
    },
    {
      param: 'git_commit',
      set: (d, v) => (d.git_commit = `${'a'.repeat(20)}${v}`),
      legal: (v) => /^[0-9a-f]{20}$|^[0-9a-f]{44}$/.test(v),
    },
  ];
}

function touch(file: string, content = 'x\n'): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/** A top-level parameter's JSON kind, for wrong-type documents. */
export type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object';

const SAMPLES: Array<[string, unknown, Kind[]]> = [
  // [name, value, kinds it is legal for]
  ['number', 42, ['number', 'integer']],
  ['fraction', 1.5, ['number']],
  ['negative', -1, []],
  ['true', true, ['boolean']],
  ['null', null, []],
  ['string', 'a-string', ['string']],
  ['object', { polluted: 'yes' }, ['object']],
  ['array of numbers', [42], []],
  ['array of null', [null], []],
];

/** Every case, numbered sources spread over env JSON, files, PARAM_* and flags. */
export function corpus(f: Fixture, kinds: Record<string, Kind>): Case[] {
  const cases: Case[] = [...handWritten(f)];
  let turn = 0;
  const viaFor = (value: string | undefined, jsonOnly = false): Via => {
    // A KEY=VALUE array element cannot carry a key with `=`: values with one skip the Tekton route.
    const argvRoutes: Via[] = value?.includes('=') ? ['param-env', 'flags'] : ['param-env', 'flags', 'tekton-arrays'];
    const all: Via[] =
      value !== undefined && !hasNul(value) && !jsonOnly ? ['env-json', 'file', ...argvRoutes] : ['env-json', 'file'];
    return all[turn++ % all.length]!;
  };
  for (const slot of slots()) {
    const values: Array<[string, string]> = [];
    for (const [name, token] of Object.entries(TOKENS)) {
      values.push([`${name} inside`, slot.embed ? slot.embed(token) : `v${token}v`]);
      if (WHOLE.includes(name) && !(slot.path && name === 'dotdot')) values.push([`${name} as the whole value`, token]);
    }
    if (slot.max !== undefined) {
      values.push([`${slot.max + 1} characters`, 'x'.repeat(slot.max + 1)]);
      if (!slot.setup) values.push([`${slot.max} characters`, 'x'.repeat(slot.max)]);
    }
    for (const [what, value] of values) {
      const doc = baseDoc(f);
      slot.set(doc, value, f);
      const legal = slot.legal(value) && (slot.max === undefined || value.length <= slot.max);
      const via = viaFor(value, slot.jsonOnly || value.length > 1000);
      const kase: Case = {
        name: `${slot.param}: ${what}`,
        origin: 'generated',
        via,
        doc,
        expect: legal ? { legal: value } : { rejected: slot.param },
      };
      if (legal) {
        kase.baseline = baseDoc(f);
        slot.set(kase.baseline, PLAIN, f);
        if (slot.setup) kase.setup = slot.setup(f);
      }
      cases.push(kase);
    }
  }
  for (const [param, kind] of Object.entries(kinds)) {
    for (const [name, value, legalFor] of SAMPLES) {
      if (legalFor.includes(kind)) continue;
      const doc = baseDoc(f);
      doc[param] =
        name === 'string' && ['secrets', 'ssh'].includes(param) ? `${SECRET_MARK}-as-string` : structuredClone(value);
      cases.push({
        name: `${param}: ${name} instead of ${kind}`,
        origin: 'generated',
        via: viaFor(undefined),
        doc,
        expect: { rejected: param },
      });
    }
  }
  for (const [param] of Object.entries(kinds).filter(([, kind]) => kind === 'array')) {
    for (const [name, item] of [
      ['an empty object item', {}],
      ['an item with an extra field', { key: 'K', value: 'v', extra: 1 }],
      ['an item with a numeric value', { key: 'K', value: 42 }],
    ] as const) {
      if (['tags', 'platforms', 'cache_from', 'cache_to'].includes(param)) continue;
      const doc = baseDoc(f);
      doc[param] = [structuredClone(item)];
      cases.push({
        name: `${param}: ${name}`,
        origin: 'generated',
        via: viaFor(undefined),
        doc,
        expect: { rejected: `${param}[0]` },
      });
    }
  }
  return cases;
}

/** Cases a person thought of: prototype keys, option-looking values, sizes, broken sources. */
function handWritten(f: Fixture): Case[] {
  const hand = (
    name: string,
    via: Via,
    change: (doc: Doc) => void,
    expect: Expect,
    extra: Partial<Case> = {},
  ): Case => {
    const doc = baseDoc(f);
    change(doc);
    return { name, origin: 'hand', via, doc, expect, ...extra };
  };
  /** A legal case whose baseline sets PLAIN where `change` sets the hostile value. */
  const legal = (
    name: string,
    via: Via,
    change: (doc: Doc, value: string) => void,
    value: string,
    extra: Partial<Case> = {},
  ): Case => {
    const baseline = baseDoc(f);
    change(baseline, PLAIN);
    return hand(name, via, (doc) => change(doc, value), { legal: value }, { baseline, ...extra });
  };
  const raw = (name: string, text: string, param: string, via: Via = 'env-json'): Case => ({
    name,
    origin: 'hand',
    via,
    doc: {},
    text,
    expect: { rejected: param },
  });
  const bigLabels = Array.from({ length: 80 }, (_, index) => ({ key: `l${index}`, value: 'v'.repeat(16000) }));
  return [
    // Prototype pollution: top-level keys are unknown parameters; inside pairs, keys are plain data.
    raw('top-level __proto__', `{"image":"a/b","tags":["1"],"__proto__":{"polluted":"yes"}}`, '__proto__'),
    raw(
      'top-level constructor.prototype',
      `{"image":"a/b","tags":["1"],"constructor":{"prototype":{"polluted":"yes"}}}`,
      'constructor',
    ),
    raw('top-level prototype', `{"image":"a/b","tags":["1"],"prototype":{"polluted":"yes"}}`, 'prototype', 'file'),
    raw(
      '__proto__ inside a build_args pair',
      `{"image":"a/b","tags":["1"],"build_args":[{"key":"A","value":"1","__proto__":{"polluted":"yes"}}]}`,
      'build_args[0]',
    ),
    raw(
      '__proto__ inside result_paths',
      `{"image":"a/b","tags":["1"],"result_paths":{"__proto__":{"IMAGE_URL":"/tmp/polluted"}}}`,
      'result_paths',
      'file',
    ),
    raw(
      'constructor inside a secrets pair',
      `{"image":"a/b","tags":["1"],"secrets":[{"key":"k","value":"${SECRET_MARK}","constructor":{"prototype":{"polluted":"yes"}}}]}`,
      'secrets[0]',
    ),
    {
      name: 'PARAM___PROTO__',
      origin: 'hand',
      via: 'param-env',
      doc: { image: 'a/b', tags: ['1'] },
      env: { PARAM___PROTO__: '{"polluted":"yes"}' },
      expect: { rejected: 'PARAM___PROTO__' },
    },
    {
      name: 'PARAM_RESULT_PATHS with __proto__',
      origin: 'hand',
      via: 'param-env',
      doc: {
        image: 'a/b',
        tags: ['1'],
        result_paths: JSON.parse('{"__proto__":{"ERROR_REASON":"/tmp/polluted"}}') as Doc,
      },
      expect: { rejected: 'result_paths' },
    },
    {
      name: 'flag --__proto__.polluted',
      origin: 'hand',
      via: 'flags',
      doc: {},
      args: ['--image=a/b', '--tags=1', '--__proto__.polluted=yes'],
      expect: { rejected: '__proto__' },
    },
    {
      name: 'flag --constructor.prototype.polluted',
      origin: 'hand',
      via: 'flags',
      doc: {},
      args: ['--image=a/b', '--tags=1', '--constructor.prototype.polluted=yes'],
      expect: { rejected: 'constructor' },
    },
    legal('build arg named __proto__', 'env-json', (d, v) => (d.build_args = pair(v, '1')), '__proto__'),
    legal('build arg named constructor', 'flags', (d, v) => (d.build_args = pair(v, '1')), 'constructor'),
    legal('label named __proto__', 'file', (d, v) => (d.labels = pair(v, 'x')), '__proto__'),
    legal('annotation named prototype', 'param-env', (d, v) => (d.annotations = pair(v, 'x')), 'prototype'),
    legal('secret id __proto__', 'env-json', (d, v) => (d.secrets = pair(v, CANARY)), '__proto__'),
    legal('ssh id constructor', 'file', (d, v) => (d.ssh_key_files = pair(v, f.keyFile)), 'constructor'),
    // Option-looking values that are legal: each stays one argv element.
    legal(
      'build arg value --output=type=local,dest=/tmp/x',
      'param-env',
      (d, v) => (d.build_args = pair('A', v)),
      '--output=type=local,dest=/tmp/x',
    ),
    legal(
      'build arg value that is a whole second flag pair',
      'flags',
      (d, v) => (d.build_args = pair('A', v)),
      '1 --output type=local,dest=/tmp/x',
    ),
    legal('label value -o', 'env-json', (d, v) => (d.labels = pair('l', v)), '-o'),
    legal('label key --output', 'env-json', (d, v) => (d.labels = pair(v, 'x')), '--output'),
    legal('annotation key -t', 'file', (d, v) => (d.annotations = pair(v, 'x')), '-t'),
    legal('tag 1.0--output', 'flags', (d, v) => (d.tags = [v]), '1.0--output'),
    legal('context -', 'param-env', (d, v) => (d.context = v), '-'),
    legal('context --', 'env-json', (d, v) => (d.context = v), '--'),
    legal(
      'context --output=type=local,dest=/tmp/x',
      'flags',
      (d, v) => (d.context = v),
      '--output=type=local,dest=/tmp/x',
    ),
    legal('dockerfile -f', 'param-env', (d, v) => (d.dockerfile = v), '-f'),
    legal('oci_layout with a quoted comma', 'env-json', (d, v) => (d.oci_layout = v), 'a,"b",type=local,dest=/tmp/x'),
    legal('metadata_file --push', 'flags', (d, v) => (d.metadata_file = v), '--push'),
    legal(
      'cache_from spec ending in an option-looking attribute',
      'env-json',
      (d, v) => (d.cache_from = [`type=registry,ref=r.example.com/c:1,x=${v}`]),
      '--output=/tmp/x',
    ),
    legal(
      'label value with every CSV breaker at once',
      'file',
      (d, v) => (d.labels = pair('l', v)),
      'a,b="c"\nd=e\r\n,--output=/tmp/x',
    ),
    // Ids that try to leave their directory or split a flag.
    ...['../../etc/passwd', '/etc/passwd', '..', '.hidden', 'a/b', 'a,src=/etc/passwd', 'a=b', 'a\nb', ' a'].flatMap(
      (id): Case[] => [
        hand(`secret id ${JSON.stringify(id)}`, 'env-json', (d) => (d.secrets = pair(id, CANARY)), {
          rejected: 'secrets[0].key',
        }),
        hand(`ssh id ${JSON.stringify(id)}`, 'file', (d) => (d.ssh = pair(id, `${SECRET_MARK}-key`)), {
          rejected: 'ssh[0].key',
        }),
      ],
    ),
    // Mounted dirs whose file names are not ids or build arg names.
    ...['a,b', '-o', '--output=x', 'a b', 'é', 'a\nb'].flatMap((name, index): Case[] => {
      const secretsDir = path.join(f.root, `bad-secret-names-${index}`);
      const sshDir = path.join(f.root, `bad-ssh-names-${index}`);
      const argsDir = path.join(f.root, `bad-arg-names-${index}`);
      const make = () => {
        touch(path.join(secretsDir, name), `${SECRET_MARK}-in-a-badly-named-file`);
        touch(path.join(sshDir, name));
        touch(path.join(argsDir, name));
      };
      make();
      return [
        hand(
          `secrets_dir holding a file named ${JSON.stringify(name)}`,
          'env-json',
          (d) => (d.secrets_dir = secretsDir),
          { rejected: 'secrets_dir' },
        ),
        hand(`ssh_dir holding a file named ${JSON.stringify(name)}`, 'param-env', (d) => (d.ssh_dir = sshDir), {
          rejected: 'ssh_dir',
        }),
        hand(
          `build_args_dir holding a file named ${JSON.stringify(name)}`,
          'file',
          (d) => (d.build_args_dir = argsDir),
          { rejected: 'build_args_dir' },
        ),
      ];
    }),
    (() => {
      const dir = path.join(f.root, 'args-with-nul');
      touch(path.join(dir, 'B'), 'a\0b');
      return hand('build_args_dir file holding a NUL', 'env-json', (d) => (d.build_args_dir = dir), {
        rejected: 'build_args',
      });
    })(),
    (() => {
      const dir = path.join(f.root, 'args-huge');
      touch(path.join(dir, 'B'), 'x'.repeat(200_000));
      return hand('build_args_dir file over 128 KiB', 'file', (d) => (d.build_args_dir = dir), {
        rejected: 'build_args',
      });
    })(),
    (() => {
      const dir = path.join(f.root, 'args-proto');
      touch(path.join(dir, '__proto__'), 'from a file');
      const baselineDir = path.join(f.root, 'args-plain');
      touch(path.join(baselineDir, PLAIN), 'from a file');
      const baseline = baseDoc(f);
      baseline.build_args_dir = baselineDir;
      return hand(
        'build_args_dir file named __proto__',
        'env-json',
        (d) => (d.build_args_dir = dir),
        { legal: '__proto__' },
        { baseline },
      );
    })(),
    // Commas where buildx --ssh cannot carry them: a relative key path in a dir with a comma, a state dir with one.
    (() => {
      const dir = path.join(f.cwd, 'a,b');
      touch(path.join(dir, 'key'));
      return hand(
        'ssh_key_files path that resolves through a dir with a comma',
        'env-json',
        (d) => (d.ssh_key_files = pair('deploy', 'a,b/key')),
        { rejected: 'ssh_key_files' },
      );
    })(),
    hand(
      'ssh keys with a state dir holding a comma',
      'env-json',
      (d) => (d.ssh = pair('default', `${SECRET_MARK}-key`)),
      { rejected: 'ssh' },
      { env: { BUILDKIT_STEP_STATE_DIR: path.join(f.root, 'state,x') } },
    ),
    // Sizes: one value per argument is bounded by the schema, the whole command line by the argv check.
    hand('80 labels of 16000 characters: a 1.3 MB command line', 'file', (d) => (d.labels = bigLabels), {
      rejected: 'labels',
    }),
    hand(
      '8000 tags of 120 characters: a 1.3 MB command line',
      'file',
      (d) => (d.tags = Array.from({ length: 8000 }, (_, index) => `t${index}-${'x'.repeat(114)}`)),
      { rejected: 'tags' },
    ),
    hand(
      'daemon_timeout Infinity (PARAM_DAEMON_TIMEOUT=null: JSON has no Infinity)',
      'param-env',
      (d) => (d.daemon_timeout = Infinity),
      {
        rejected: 'daemon_timeout',
      },
    ),
    hand('daemon_timeout 0', 'env-json', (d) => (d.daemon_timeout = 0), { rejected: 'daemon_timeout' }),
    hand('retries 1e9', 'file', (d) => (d.retries = 1e9), { rejected: 'retries' }),
    hand('retries 2.5', 'flags', (d) => (d.retries = 2.5), { rejected: 'retries' }),
    hand('source_date_epoch past year 9999', 'env-json', (d) => (d.source_date_epoch = 253402300800), {
      rejected: 'source_date_epoch',
    }),
    hand('source_date_epoch -1', 'param-env', (d) => (d.source_date_epoch = -1), { rejected: 'source_date_epoch' }),
    hand('results_max_bytes 2^53', 'file', (d) => (d.results_max_bytes = 2 ** 53), { rejected: 'results_max_bytes' }),
    // Broken sources.
    raw('params that are an array', '[{"image":"a/b"}]', 'BUILDKIT_STEP_PARAMS'),
    raw('params that are a string', '"image=a/b"', 'BUILDKIT_STEP_PARAMS'),
    raw('params that are null', 'null', 'params file', 'file'),
    raw('a trailing comma', '{"image":"a/b","tags":["1"],}', 'BUILDKIT_STEP_PARAMS'),
    raw(
      'truncated JSON holding a secret',
      `{"image":"a/b","tags":["1"],"secrets":[{"key":"k","value":"${SECRET_MARK}-truncated`,
      'BUILDKIT_STEP_PARAMS',
    ),
    raw(
      'a secret value with a raw newline (invalid JSON)',
      `{"image":"a/b","tags":["1"],"secrets":[{"key":"k","value":"${SECRET_MARK}\nline two"}]}`,
      'params file',
      'file',
    ),
    raw('100000 nested arrays as tags', `{"image":"a/b","tags":${'['.repeat(100000)}${']'.repeat(100000)}}`, 'tags'),
    raw(
      'a 10 MB unknown parameter',
      `{"image":"a/b","tags":["1"],"junk":"${'j'.repeat(10 * 1024 * 1024)}"}`,
      'junk',
      'file',
    ),
    raw('an unknown parameter named with a NUL', '{"image":"a/b","tags":["1"],"ima\\u0000ge":"x"}', '"ima\\u0000ge"'),
    {
      name: 'PARAM_TAGS as one line that is no tag (a comma and a flag)',
      origin: 'hand',
      via: 'param-env',
      doc: { image: 'a/b' },
      env: { PARAM_TAGS: 'v1,--output=/tmp/x' },
      expect: { rejected: 'PARAM_TAGS' },
    },
    {
      name: 'PARAM_PUSH yes',
      origin: 'hand',
      via: 'param-env',
      doc: { image: 'a/b', tags: ['1'] },
      env: { PARAM_PUSH: 'yes' },
      expect: { rejected: 'PARAM_PUSH' },
    },
    {
      name: 'PARAM_SECRETS with a syntax error',
      origin: 'hand',
      via: 'param-env',
      doc: { image: 'a/b', tags: ['1'] },
      env: { PARAM_SECRETS: `[{"key":"k","value":"${SECRET_MARK}-bad-json"` },
      expect: { rejected: 'PARAM_SECRETS' },
    },
    {
      name: 'flag --tags followed by a separate --output',
      origin: 'hand',
      via: 'flags',
      doc: {},
      args: ['--image=a/b', '--tags', '--output=/tmp/x'],
      expect: { rejected: 'output' },
    },
    {
      name: 'flag --target followed by a separate -o',
      origin: 'hand',
      via: 'flags',
      doc: {},
      args: ['--image=a/b', '--tags=1', '--target', '-o'],
      expect: { rejected: 'o' },
    },
    {
      name: 'flag --build-args JSON holding a NUL',
      origin: 'hand',
      via: 'flags',
      doc: {},
      args: ['--image=a/b', '--tags=1', '--build-args=[{"key":"A","value":"a\\u0000b"}]'],
      expect: { rejected: 'build_args[0].value' },
    },
    {
      name: 'flag --daemon-timeout=abc (NaN)',
      origin: 'hand',
      via: 'flags',
      doc: {},
      args: ['--image=a/b', '--tags=1', '--daemon-timeout=abc'],
      expect: { rejected: 'daemon_timeout (from --daemon-timeout): must be a number, got NaN' },
    },
    {
      name: 'flag --push=maybe',
      origin: 'hand',
      via: 'flags',
      doc: {},
      args: ['--image=a/b', '--tags=1', '--push=maybe'],
      expect: { rejected: 'push' },
    },
    // The new option shapes: a second entry smuggled into one, schemes and credentials that are not allowed.
    hand(
      'add_hosts entry carrying a second host after a comma',
      'env-json',
      (d) => (d.add_hosts = ['a=1.2.3.4,b=5.6.7.8']),
      { rejected: 'add_hosts[0]' },
    ),
    hand('add_hosts entry with the docker-only host-gateway', 'file', (d) => (d.add_hosts = ['a=host-gateway']), {
      rejected: 'add_hosts[0]',
    }),
    hand(
      'ulimits entry carrying a second limit after a comma',
      'param-env',
      (d) => (d.ulimits = ['nofile=1,nproc=2']),
      { rejected: 'ulimits[0]' },
    ),
    hand('ulimits entry with an unknown resource', 'env-json', (d) => (d.ulimits = ['nofiles=1']), {
      rejected: 'ulimits[0]',
    }),
    hand(
      'build context named a=b (buildx splits at the first =)',
      'file',
      (d) => (d.build_contexts = pair('a=b', 'ctx2')),
      { rejected: 'build_contexts[0].key' },
    ),
    hand(
      'build context from a git URL (not a supported source)',
      'env-json',
      (d) => (d.build_contexts = pair('c', 'https://git.example.com/x.git')),
      { rejected: 'build_contexts[0].value' },
    ),
    hand(
      'build context docker-image with a space',
      'param-env',
      (d) => (d.build_contexts = pair('c', 'docker-image://r.example.com/a b')),
      { rejected: 'build_contexts[0].value' },
    ),
    legal(
      'build context dir --output=type=local,dest=/tmp/x',
      'flags',
      (d, v) => (d.build_contexts = pair('c', v)),
      '--output=type=local,dest=/tmp/x',
    ),
    hand('git_url holding credentials', 'env-json', (d) => (d.git_url = 'https://user:token@git.example.com/x.git'), {
      rejected: 'git_url',
    }),
    hand('git_url with a newline', 'file', (d) => (d.git_url = 'https://git.example.com/x\n--label=y'), {
      rejected: 'git_url',
    }),
    hand('git_commit abbreviated', 'param-env', (d) => (d.git_commit = 'abc1234'), { rejected: 'git_commit' }),
    hand('network bridge (not a mode)', 'flags', (d) => (d.network = 'bridge'), { rejected: 'network' }),
    hand('allow an unknown entitlement', 'env-json', (d) => (d.allow = ['device']), { rejected: 'allow[0]' }),
    hand('compression estargz (not offered)', 'file', (d) => (d.compression = 'estargz'), { rejected: 'compression' }),
    hand('compression_level 23', 'param-env', (d) => (d.compression_level = 23), { rejected: 'compression_level' }),
    hand('shm_size with a flag after a space', 'env-json', (d) => (d.shm_size = '64m --privileged'), {
      rejected: 'shm_size',
    }),
    // Tekton array blocks: elements that look like flags or like markers of blocks not named stay values.
    legal('array element -o', 'tekton-arrays', (d, v) => (d.build_args = pair('A', v)), '-o'),
    legal(
      'array element that is the marker of an unnamed block',
      'tekton-arrays',
      (d, v) => (d.labels = pair('l', v)),
      '--array=cache_to',
    ),
    legal(
      'array element that is a header',
      'tekton-arrays',
      (d, v) => (d.annotations = pair('a', v)),
      '--array-params=tags',
    ),
    hand(
      'array element that is exactly the marker of a named block',
      'tekton-arrays',
      (d) => (d.build_args = [{ key: 'A', value: '1' }, '--array=labels' as unknown as { key: string; value: string }]),
      { rejected: 'LABELS' },
    ),
    {
      name: 'array blocks with an element before the first marker',
      origin: 'hand',
      via: 'flags',
      doc: {},
      args: ['--image=a/b', '--array-params=tags', '--output=/tmp/x', '--array=tags', '1'],
      expect: { rejected: '--array-params' },
    },
    {
      name: 'array blocks naming a string param',
      origin: 'hand',
      via: 'flags',
      doc: {},
      args: ['--image=a/b', '--array-params=tags,target', '--array=tags', '1', '--array=target', 'x'],
      expect: { rejected: 'target' },
    },
    {
      name: 'an extra positional after the command',
      origin: 'hand',
      via: 'flags',
      doc: {},
      args: ['--image=a/b', '--tags=1', '--output=type=local,dest=/tmp/x'],
      expect: { rejected: 'output' },
    },
  ];
}
