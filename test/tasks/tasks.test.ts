// The shipped Tekton Task / StepAction and Argo WorkflowTemplate: generated from the schema without
// drift, carrying every param and result, in the catalog layout. The engines' own validation of
// them is in engines.integration.test.ts (it needs the Go-built tools/validate-manifests).
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import {
  DAEMON_SCHEMA_PARAMS,
  FILES,
  NOT_EXPOSED,
  REPO_ROOT,
  run,
  TEKTON_NAMES,
  WORKSPACE_PARAMS,
} from '../../scripts/gen-tasks.js';
import { RESULT_NAMES } from '../../src/result-names.js';
import { envVarName, workflowParamName } from '../../src/params/names.js';
import type { JsonSchema } from '../../src/params/schema.js';
import type { Container, Manifest, RepoMetadata } from './manifests.js';

const SCHEMA = JSON.parse(readFileSync(path.join(REPO_ROOT, 'schemas', 'params.schema.json'), 'utf8')) as {
  properties: Record<string, unknown>;
};
const KEYS = Object.keys(SCHEMA.properties);
/** The params the workflow files declare: every schema param except the deliberately NOT_EXPOSED ones. */
const EXPOSED_KEYS = KEYS.filter((key) => NOT_EXPOSED[key] === undefined);
const ARGO_FILES = [FILES.argo, FILES.argoCluster, FILES.argoRootless];
const YAML_FILES = [FILES.task, FILES.taskRootless, FILES.stepAction, FILES.sample, ...ARGO_FILES];

/** List params: Tekton `type: array` params that reach the step as array blocks in `args` (not the registry params, which the sidecar reads from env too). */
const LIST_KEYS = new Set(
  EXPOSED_KEYS.filter(
    (key) => (SCHEMA.properties[key] as { type?: string }).type === 'array' && !DAEMON_SCHEMA_PARAMS.includes(key),
  ),
);
/** A param's name in the Tekton files. */
const tektonName = (key: string) => TEKTON_NAMES[key] ?? workflowParamName(key);

/** The array blocks of a Tekton step's args: param key -> the element after its marker. */
function arrayBlocks(args: string[]): Map<string, string> {
  const header = args.find((arg) => arg.startsWith('--array-params='));
  assert.ok(header, 'the args carry an --array-params header');
  const keys = header.slice('--array-params='.length).split(',');
  const start = args.indexOf(header);
  assert.equal(
    args.length,
    start + 1 + 2 * keys.length,
    'the header is followed by one marker and one array reference per list, and nothing else',
  );
  return new Map(
    keys.map((key, index) => {
      assert.equal(args[start + 1 + 2 * index], `--array=${key}`, `marker of ${key} in header order`);
      return [key, args[start + 2 + 2 * index]!];
    }),
  );
}

const load = (file: string): Manifest =>
  YAML.parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'), { version: '1.1' }) as Manifest;
const text = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');
const names = (list: { name: string }[] | undefined) => (list ?? []).map((item) => item.name);
const envOf = (container: Container) => new Map(container.env.map((e) => [e.name, e.value]));

/** Every string value in a manifest except descriptions (prose, never substituted). */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, inner]) => (key === 'description' ? [] : stringsOf(inner)));
  }
  return [];
}

describe('generated workflow files', () => {
  test('match the generator (no drift from the schema)', () => {
    const { changed } = run(REPO_ROOT, { check: true });
    assert.deepEqual(changed, [], `out of date, regenerate: npm run gen-tasks`);
  });

  test('a new schema param reaches every file (generator run on a scratch copy)', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'buildkit-step-gen-'));
    try {
      cpSync(path.join(REPO_ROOT, 'schemas'), path.join(root, 'schemas'), { recursive: true });
      cpSync(path.join(REPO_ROOT, 'tasks'), path.join(root, 'tasks'), { recursive: true });
      cpSync(path.join(REPO_ROOT, FILES.readme), path.join(root, FILES.readme));
      const schemaFile = path.join(root, 'schemas', 'params.schema.json');
      const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as { properties: Record<string, unknown> };
      schema.properties.zz_probe = { description: 'A probe parameter.', type: 'array', items: { type: 'string' } };
      writeFileSync(schemaFile, JSON.stringify(schema));
      const check = run(root, { check: true });
      const unchanged: string[] = [FILES.sample, FILES.taskRepoMetadata, FILES.stepActionRepoMetadata];
      assert.deepEqual(
        [...check.changed].sort(),
        Object.values(FILES)
          .filter((f) => !unchanged.includes(f))
          .sort(),
      );
      run(root, { check: false });
      for (const file of [
        FILES.task,
        FILES.taskRootless,
        FILES.stepAction,
        FILES.argo,
        FILES.taskReadme,
        FILES.taskRootlessReadme,
        FILES.stepActionReadme,
        FILES.argoReadme,
      ]) {
        assert.ok(readFileSync(path.join(root, file), 'utf8').includes('ZZ_PROBE'), `${file}: ZZ_PROBE`);
      }
      assert.ok(
        readFileSync(path.join(root, FILES.readme), 'utf8').includes('`PARAM_ZZ_PROBE` | `--zz-probe`'),
        'README: PARAM_ZZ_PROBE and --zz-probe',
      );
      assert.deepEqual(run(root, { check: true }).changed, [], 'a second run changes nothing');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('Tekton Tasks: every param as a Tekton param or a workspace, reaching the step through env, lists as array params through args', () => {
    for (const file of [FILES.task, FILES.taskRootless]) {
      const task = load(file);
      const params = names(task.spec.params);
      const workspaces = names(task.spec.workspaces);
      const [step] = task.spec.steps;
      assert.ok(step && step.script === undefined, `${file}: the step has no script`);
      const env = envOf(step);
      const blocks = arrayBlocks(step.args);
      for (const key of EXPOSED_KEYS) {
        const workspace = WORKSPACE_PARAMS[key];
        const name = tektonName(key);
        if (workspace) {
          assert.ok(workspaces.includes(workspace), `${file}: workspace ${workspace} for ${key}`);
          assert.equal(env.get(envVarName(key)), `$(workspaces.${workspace}.path)`, `${file}: ${envVarName(key)}`);
          assert.ok(!params.includes(name), `${file}: ${key} comes from a workspace, not a param`);
        } else if (LIST_KEYS.has(key)) {
          const spec = task.spec.params.find((param) => param.name === name);
          assert.equal(spec?.type, 'array', `${file}: ${name} is a Tekton array param`);
          assert.deepEqual(
            spec?.default,
            key === 'tags' ? undefined : [],
            `${file}: ${name} defaults to [] (unset), TAGS is required`,
          );
          assert.equal(
            blocks.get(key),
            `$(params.${name}[*])`,
            `${file}: ${name} reaches the step as a whole array in args`,
          );
          assert.equal(env.get(envVarName(key)), undefined, `${file}: no ${envVarName(key)} env for a list`);
        } else {
          assert.ok(params.includes(name), `${file}: param ${name}`);
          assert.match(
            env.get(envVarName(key)) ?? '',
            new RegExp(`\\$\\(params\\.${name}\\)`),
            `${file}: ${envVarName(key)}`,
          );
        }
      }
      assert.deepEqual(
        [...blocks.keys()].sort(),
        [...LIST_KEYS].filter((key) => !WORKSPACE_PARAMS[key]).sort(),
        `${file}: a block for every list`,
      );
      assert.ok(
        params.includes('CHAINS-GIT_URL') && params.includes('CHAINS-GIT_COMMIT'),
        `${file}: the source-provenance names Tekton Chains reads`,
      );
      const unknown = [...env.keys()].filter(
        (name) => name.startsWith('PARAM_') && !EXPOSED_KEYS.some((key) => envVarName(key) === name),
      );
      assert.deepEqual(unknown, [], `${file}: PARAM_* the CLI would reject`);
      assert.deepEqual(names(task.spec.results), [...RESULT_NAMES], `${file}: results`);
      const artifactOutputs = task.spec.results.find((result) => result.name === 'ARTIFACT_OUTPUTS');
      assert.equal(artifactOutputs?.type, 'object');
      assert.deepEqual(Object.keys(artifactOutputs?.properties ?? {}).sort(), ['digest', 'isBuildArtifact', 'uri']);
      assert.equal(task.spec.sidecars.length, 1, `${file}: one buildkitd sidecar`);
    }
  });

  test('StepAction: every param, results written through result_paths to $(step.results.NAME.path)', () => {
    const action = load(FILES.stepAction);
    const params = names(action.spec.params);
    const env = envOf(action.spec);
    const blocks = arrayBlocks(action.spec.args);
    for (const key of EXPOSED_KEYS) {
      if (key === 'result_paths') continue;
      const name = tektonName(key);
      assert.ok(params.includes(name), `param ${name}`);
      if (LIST_KEYS.has(key)) assert.equal(blocks.get(key), `$(params.${name}[*])`, `${name} in args`);
      else assert.equal(env.get(envVarName(key)), `$(params.${name})`, envVarName(key));
    }
    assert.equal(action.spec.script, undefined);
    assert.deepEqual(names(action.spec.results), [...RESULT_NAMES]);
    const resultPaths = JSON.parse(env.get(envVarName('result_paths')) ?? '{}') as Record<string, string>;
    assert.deepEqual(
      resultPaths,
      Object.fromEntries(RESULT_NAMES.map((name) => [name, `$(step.results.${name}.path)`])),
    );
    assert.equal(action.spec.sidecars, undefined);
    assert.equal(action.spec.volumes, undefined);

    const sample = load(FILES.sample);
    assert.deepEqual(
      sample.spec.results.map((result) => [result.name, result.value]),
      RESULT_NAMES.map((name) => [name, `$(steps.build.results.${name})`]),
    );
    assert.ok(names(sample.spec.volumes).includes('buildkit-socket'));
    assert.equal(sample.spec.steps[0]?.ref.name, action.metadata.name);
  });

  test('the sample Task passes each StepAction param a value of its type (Tekton resolves StepActions only at run time)', () => {
    const action = load(FILES.stepAction);
    const types = new Map(action.spec.params.map((param) => [param.name, param.type ?? 'string']));
    const [step] = load(FILES.sample).spec.steps;
    for (const passed of step?.params ?? []) {
      const type = types.get(passed.name);
      assert.ok(type, `the StepAction has no param ${String(passed.name)}`);
      assert.equal(Array.isArray(passed.value) ? 'array' : 'string', type, `${String(passed.name)}: the value's type`);
    }
  });

  test('Argo templates (namespaced, cluster-wide, rootless): every param as an input reaching env, every result as an output with a default, the metadata as a parameter and an optional artifact', () => {
    for (const file of ARGO_FILES) {
      const template = load(file);
      const build = template.spec.templates.find((t) => t.name === template.spec.entrypoint);
      assert.ok(build, file);
      const inputs = names(build.inputs.parameters);
      const env = envOf(build.container);
      for (const key of EXPOSED_KEYS) {
        assert.ok(inputs.includes(workflowParamName(key)), `${file}: input ${workflowParamName(key)}`);
        assert.equal(
          env.get(envVarName(key)),
          `{{inputs.parameters.${workflowParamName(key)}}}`,
          `${file}: ${envVarName(key)}`,
        );
      }
      assert.equal(env.get('BUILDKIT_STEP_RESULTS_DIR'), '/tmp/results');
      assert.deepEqual(
        build.outputs.parameters.map((output) => [output.name, output.valueFrom.path, output.valueFrom.default]),
        [
          ...RESULT_NAMES.map((name) => [name, `/tmp/results/${name}`, '']),
          ['METADATA', '{{inputs.parameters.METADATA_FILE}}', ''],
        ],
        `${file}: results, and METADATA read from wherever METADATA_FILE points`,
      );
      assert.equal(
        build.inputs.parameters.find((p) => p.name === 'METADATA_FILE')?.value,
        '/tmp/metadata/metadata.json',
        `${file}: by default not the artifact path`,
      );
      // Without an artifact repository Argo can save no artifact: this one is optional and its file absent unless asked for.
      assert.deepEqual(
        build.outputs.artifacts,
        [{ name: 'metadata', path: '/tmp/outputs/metadata.json', optional: true, archive: { none: {} } }],
        `${file}: metadata artifact`,
      );
      assert.ok(
        Array.isArray(build.container.command) && build.container.command.length > 0,
        'main has an explicit command',
      );
      for (const sidecar of build.sidecars)
        assert.ok(sidecar.command?.length > 0, `sidecar ${sidecar.name} has a command`);
    }
    const [namespaced, cluster, rootless] = ARGO_FILES.map(load);
    assert.equal(cluster!.kind, 'ClusterWorkflowTemplate');
    assert.deepEqual(cluster!.spec, namespaced!.spec, 'the cluster template is the namespaced one, cluster-wide');
    assert.equal(rootless!.metadata.name, 'buildkit-build-rootless');
    const rootlessSidecar = rootless!.spec.templates[0]!.sidecars[0]!;
    assert.deepEqual(
      rootlessSidecar.args.slice(0, 3),
      ['rootlesskit', 'buildkitd', '--addr'],
      'the rootless image entrypoint, under the launcher',
    );
    assert.equal(rootlessSidecar.securityContext.runAsUser, 1000);
    assert.equal(
      rootless!.spec.arguments.parameters.find((p) => p.name === 'BUILDKITD_IMAGE')?.value,
      'docker.io/moby/buildkit:v0.34.2-rootless',
    );
  });

  test('buildkitd sidecars: the image entrypoint kept, users pinned, startup and readiness probes, log limits from params', () => {
    const tekton: [string, 'privileged' | 'rootless'][] = [
      [FILES.task, 'privileged'],
      [FILES.taskRootless, 'rootless'],
      [FILES.sample, 'privileged'],
    ];
    for (const [file, variant] of tekton) {
      const task = load(file);
      const [sidecar] = task.spec.sidecars;
      assert.ok(sidecar, `${file}: a sidecar`);
      // The launcher writes the registry params' buildkitd.toml, then runs the image's own ENTRYPOINT.
      assert.deepEqual(
        [sidecar.command[0], sidecar.command[1], sidecar.command[3]],
        ['sh', '-c', 'buildkitd-launcher'],
        `${file}: the launcher`,
      );
      const entrypoint = variant === 'privileged' ? ['/usr/bin/buildkitd-entrypoint'] : ['rootlesskit', 'buildkitd'];
      assert.deepEqual(
        sidecar.args.slice(0, entrypoint.length + 1),
        [...entrypoint, '--addr'],
        `${file}: the launcher runs the image's entrypoint with the daemon's flags`,
      );
      assert.deepEqual(
        sidecar.securityContext,
        variant === 'privileged'
          ? { privileged: true, runAsUser: 0, runAsNonRoot: false }
          : {
              runAsUser: 1000,
              runAsGroup: 1000,
              runAsNonRoot: true,
              seccompProfile: { type: 'Unconfined' },
              appArmorProfile: { type: 'Unconfined' },
            },
        `${file}: sidecar securityContext`,
      );
      for (const probe of ['startupProbe', 'readinessProbe'] as const) {
        assert.deepEqual(
          sidecar[probe]?.exec?.command?.slice(0, 3),
          ['buildctl', '--addr', sidecar.args[entrypoint.length + 1]],
          `${file}: ${probe} asks the daemon`,
        );
      }
      assert.deepEqual(
        names(sidecar.workspaces),
        ['registry-ca', 'buildkitd-config'],
        `${file}: the sidecar mounts only the registry CAs and the daemon config`,
      );
      const [step] = task.spec.steps;
      assert.deepEqual(
        names(step!.workspaces),
        names(task.spec.workspaces).filter((name) => name !== 'buildkitd-config'),
        `${file}: the step names every other workspace, so no credential is mounted into the sidecar`,
      );
      for (const usage of step!.workspaces) {
        const declared = task.spec.workspaces.find((w) => w.name === usage.name)!;
        assert.equal(
          usage.mountPath,
          declared.mountPath ?? `/workspace/${usage.name}`,
          `${file}: ${usage.name} at its own path`,
        );
      }
      assert.equal(task.metadata.annotations['tekton.dev/pipelines.minVersion'], '1.0.0', `${file}: minVersion`);
      assert.equal(task.spec.params.find((p) => p.name === 'PUSH')?.default, 'true', `${file}: PUSH defaults to true`);
      assert.ok(names(task.spec.params).includes('BUILDKITD_IMAGE'), `${file}: BUILDKITD_IMAGE param`);
      assert.equal(sidecar.image, '$(params.BUILDKITD_IMAGE)');
      if (file !== FILES.sample) {
        assert.deepEqual(
          sidecar.env.map((e) => [e.name, e.value]),
          [
            ...DAEMON_SCHEMA_PARAMS.map((key) => [envVarName(key), `$(params.${workflowParamName(key)})`]),
            ['BUILDKIT_STEP_LOG_MAX_SIZE', '$(params.BUILDKITD_STEP_LOG_MAX_SIZE)'],
            ['BUILDKIT_STEP_LOG_MAX_SPEED', '$(params.BUILDKITD_STEP_LOG_MAX_SPEED)'],
          ],
        );
        for (const name of ['BUILDKITD_STEP_LOG_MAX_SIZE', 'BUILDKITD_STEP_LOG_MAX_SPEED']) {
          assert.equal(task.spec.params.find((p) => p.name === name)?.default, '', `${file}: ${name} unset by default`);
        }
      }
    }
    const sample = load(FILES.sample);
    const passed = new Map(sample.spec.steps[0]!.params.map((p) => [p.name, p.value]));
    assert.equal(passed.get('STEP_IMAGE'), '$(params.STEP_IMAGE)');
    assert.equal(passed.get('PUSH'), '$(params.PUSH)');
    assert.equal(
      passed.get('SECRETS_DIR'),
      '$(workspaces.build-secrets.path)',
      'the sample mounts Secrets through a workspace',
    );
    assert.equal(
      load(FILES.stepAction).spec.params.find((p) => p.name === 'PUSH')?.default,
      'true',
      'StepAction: PUSH defaults to true',
    );
    assert.equal(
      load(FILES.stepAction).metadata.annotations['tekton.dev/pipelines.minVersion'],
      '1.0.0',
      'StepAction: minVersion',
    );

    const argo = load(FILES.argo);
    const build = argo.spec.templates[0]!;
    const [sidecar] = build.sidecars;
    assert.equal(sidecar!.command[0], 'sh', 'Argo: the launcher, since the emissary needs a command');
    assert.deepEqual(
      sidecar!.args.slice(0, 2),
      ['/usr/bin/buildkitd-entrypoint', '--addr'],
      "Argo: the launcher runs the image's entrypoint",
    );
    assert.deepEqual(sidecar!.securityContext, { privileged: true, runAsUser: 0, runAsNonRoot: false });
    assert.equal(build.inputs.parameters.find((p) => p.name === 'PUSH')?.value, 'true', 'Argo: PUSH defaults to true');
    assert.equal(argo.spec.arguments.parameters.find((p) => p.name === 'PUSH')?.value, 'true');
    assert.deepEqual(
      sidecar!.env.map((e) => e.value),
      [
        ...DAEMON_SCHEMA_PARAMS.map((key) => `{{inputs.parameters.${workflowParamName(key)}}}`),
        '{{inputs.parameters.BUILDKITD_STEP_LOG_MAX_SIZE}}',
        '{{inputs.parameters.BUILDKITD_STEP_LOG_MAX_SPEED}}',
      ],
    );
    // The rootless image's entrypoint is `rootlesskit buildkitd`: that pair is the entrypoint kept.
    for (const file of YAML_FILES)
      assert.doesNotMatch(
        text(file).replace(/- rootlesskit\n(\s*)- buildkitd\n/g, ''),
        /^\s*- buildkitd$/m,
        `${file}: no bare buildkitd command`,
      );
  });

  test('secret-carrying params (NOT_EXPOSED) are in no workflow file: no param, input, argument or env', () => {
    assert.deepEqual(Object.keys(NOT_EXPOSED).sort(), ['secrets', 'ssh'], 'the inline secret params');
    for (const key of Object.keys(NOT_EXPOSED)) assert.ok(KEYS.includes(key), `NOT_EXPOSED ${key} is a schema param`);
    const writeOnly = KEYS.filter((key) => (SCHEMA.properties[key] as { writeOnly?: boolean }).writeOnly === true);
    for (const key of writeOnly)
      assert.ok(NOT_EXPOSED[key] !== undefined, `${key} is writeOnly (secret) in the schema but exposed`);
    for (const file of YAML_FILES) {
      const raw = text(file);
      const manifest = load(file);
      const declared: string[] = [
        ...names(manifest.spec.params),
        ...names(manifest.spec.arguments?.parameters),
        ...(manifest.spec.templates ?? []).flatMap((t) => names(t.inputs?.parameters)),
        ...(manifest.spec.steps ?? []).flatMap((step) => names(step.params)),
      ];
      const containers: Container[] = [
        ...(manifest.kind === 'StepAction' ? [manifest.spec] : []),
        ...(manifest.spec.steps ?? []),
        ...(manifest.spec.sidecars ?? []),
        ...(manifest.spec.templates ?? []).flatMap((t) => [t.container, ...(t.sidecars ?? [])].filter(Boolean)),
      ];
      const envNames = containers.flatMap((container) => names(container.env));
      for (const key of Object.keys(NOT_EXPOSED)) {
        const name = workflowParamName(key);
        const env = envVarName(key);
        assert.ok(!declared.includes(name), `${file}: declares ${name}`);
        assert.ok(!envNames.includes(env), `${file}: sets ${env}`);
        // PARAM_SECRETS_DIR, PARAM_SSH_DIR and PARAM_SSH_KEY_FILES are fine: only the exact name counts.
        assert.doesNotMatch(raw, new RegExp(`${env}(?![A-Za-z0-9_])`), `${file}: mentions ${env}`);
        assert.doesNotMatch(raw, new RegExp(`name: ['"]?${name}['"]?[ \\t]*$`, 'm'), `${file}: a ${name} param`);
        assert.doesNotMatch(
          raw,
          new RegExp(`params\\.${name}\\)|parameters\\.${name}\\}`),
          `${file}: a reference to ${name}`,
        );
      }
    }
  });

  test('every result and param reference names a declared one (Tekton checks only scripts)', () => {
    const declared = new Set<string>(RESULT_NAMES);
    for (const file of [FILES.task, FILES.taskRootless, FILES.stepAction, FILES.sample]) {
      const manifest = load(file);
      const body = stringsOf(manifest).join('\n');
      const refs = [
        ...body.matchAll(/\$\((?:step\.results|results|steps\.[a-z0-9-]+\.results)\.([A-Za-z0-9_-]+)/g),
      ].map((m) => m[1]);
      assert.ok(refs.length > 0 || file !== FILES.stepAction, `${file}: result references found`);
      for (const ref of refs) assert.ok(declared.has(ref!), `${file}: undeclared result ${ref}`);
      const params = new Set(names(manifest.spec.params));
      for (const m of body.matchAll(/\$\(params\.([A-Za-z0-9_-]+)(?:\[\*\])?\)/g))
        assert.ok(params.has(m[1]!), `${file}: undeclared param ${m[1]}`);
    }
  });

  test('READMEs name every param and result', () => {
    const tekton = [
      ['task', text(FILES.taskReadme)],
      ['rootless task', text(FILES.taskRootlessReadme)],
      ['stepaction', text(FILES.stepActionReadme)],
    ] as const;
    const argoReadme = text(FILES.argoReadme);
    for (const key of KEYS) {
      const name = workflowParamName(key);
      // NOT_EXPOSED params are named in the "not exposed" note instead of the param tables.
      for (const [file, readme] of tekton) {
        // The StepAction takes result_paths from Tekton itself, never from the user.
        if (file === 'stepaction' && key === 'result_paths') continue;
        const named = readme.includes(`\`${tektonName(key)}\``) || readme.includes(`\`${envVarName(key)}\``);
        assert.ok(named, `${file} README: ${tektonName(key)}`);
      }
      assert.ok(argoReadme.includes(`\`${name}\``), `argo README: ${name}`);
    }
    for (const [key, reason] of Object.entries(NOT_EXPOSED)) {
      for (const [file, readme] of [...tekton, ['argo', argoReadme] as const]) {
        const note = readme.slice(
          readme.indexOf('<!-- not-exposed:start -->'),
          readme.indexOf('<!-- not-exposed:end -->'),
        );
        assert.ok(
          note.includes(`| \`${workflowParamName(key)}\``) && note.includes(reason),
          `${file} README: not-exposed note for ${key}`,
        );
        for (const block of ['params', 'stepaction-params']) {
          const table = readme.includes(`<!-- ${block}:start -->`)
            ? readme.slice(readme.indexOf(`<!-- ${block}:start -->`), readme.indexOf(`<!-- ${block}:end -->`))
            : '';
          assert.ok(
            !table.includes(`| \`${workflowParamName(key)}\` |`),
            `${file} README: ${key} is not in the ${block} table`,
          );
        }
      }
    }
    for (const name of RESULT_NAMES) {
      for (const [file, readme] of [...tekton, ['argo', argoReadme] as const]) {
        assert.ok(readme.includes(`\`${name}\``), `${file} README: result ${name}`);
      }
    }
  });

  test('the Tekton files in the catalog layout Artifact Hub indexes, with its metadata', () => {
    const tektonFiles = [
      [FILES.task, 'task'],
      [FILES.taskRootless, 'task'],
      [FILES.stepAction, 'stepaction'],
    ] as const;
    for (const [file, kind] of tektonFiles) {
      const manifest = load(file);
      const version = manifest.metadata.labels['app.kubernetes.io/version']!;
      // <kind>/<name>/<version>/<name>.yaml, the version label matching the directory.
      const expected = `tasks/tekton/${kind}/${manifest.metadata.name}/${version}/${manifest.metadata.name}.yaml`;
      assert.equal(file, expected, `${file}: catalog path`);
      assert.equal(manifest.kind.toLowerCase(), kind, `${file}: kind directory`);
      const annotations = manifest.metadata.annotations;
      for (const key of [
        'tekton.dev/pipelines.minVersion',
        'tekton.dev/categories',
        'tekton.dev/tags',
        'tekton.dev/displayName',
        'tekton.dev/platforms',
      ]) {
        assert.ok(annotations[key], `${file}: ${key}`);
      }
      assert.ok(existsSync(path.join(REPO_ROOT, path.dirname(file), 'README.md')), `${file}: a README beside it`);
    }
    for (const file of [FILES.taskRepoMetadata, FILES.stepActionRepoMetadata]) {
      const metadata = YAML.parse(text(file), { version: '1.1' }) as RepoMetadata | null;
      assert.ok(metadata && Array.isArray(metadata.owners), `${file}: a metadata object Artifact Hub can read`);
    }
    assert.equal(path.dirname(FILES.sample), `${path.dirname(FILES.stepAction)}/samples`, 'the sample in samples/');
  });

  test('the README params table states each value size limit, and what the Secret and ConfigMap dirs skip', () => {
    const schema = SCHEMA as unknown as JsonSchema;
    const def = (ref: string | undefined) => (ref ? schema.$defs?.[ref.replace('#/$defs/', '')] : undefined);
    const valueLimit = (key: string) =>
      def(schema.properties?.[key]?.items?.$ref)?.properties?.value?.maxLength as number | undefined;
    // A dir param carries values of the list param it stands in for.
    const dirOf: Record<string, string> = { build_args_dir: 'build_args', secrets_dir: 'secrets' };
    const readme = text(FILES.readme);
    const table = readme.slice(readme.indexOf('<!-- params:start -->'), readme.indexOf('<!-- params:end -->'));
    const row = (key: string) => table.split('\n').find((line) => line.startsWith(`| \`${key}\` |`)) ?? '';
    const limited = KEYS.map((key) => [key, valueLimit(dirOf[key] ?? key)] as const).filter(
      (entry): entry is readonly [string, number] => entry[1] !== undefined,
    );
    assert.ok(limited.length >= 7, `limited params: ${limited.map(([key]) => key).join(', ')}`);
    for (const [key, limit] of limited) {
      assert.ok(
        row(key).includes(limit.toLocaleString('en-US')) || row(key).includes(String(limit)),
        `README params row of ${key} states its limit ${limit}`,
      );
    }
    for (const key of ['secrets_dir', 'build_args_dir', 'ssh_dir']) {
      assert.match(row(key), /[Hh]idden (files|entries)/, `${key}: hidden entries`);
      assert.match(row(key), /`\.\.data`/, `${key}: ..data`);
    }
  });
});
