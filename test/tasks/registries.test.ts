// The registry settings in the shipped files: the sidecar gets the same registry params as the
// step, the CA workspace/volume is mounted at one path in both, a whole buildkitd.toml goes where
// each daemon reads it. Copies with every new field set pass the engines' own validation in
// engines.integration.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { DAEMON_SCHEMA_PARAMS, FILES, REPO_ROOT, sidecarLauncher } from '../../scripts/gen-tasks.js';
import { envVarName, workflowParamName } from '../../src/params/names.js';
import type { Container, Manifest } from './manifests.js';

const load = (file: string): Manifest =>
  YAML.parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'), { version: '1.1' }) as Manifest;

const TEKTON: Array<[string, string]> = [
  [FILES.task, '/etc/buildkit'],
  [FILES.taskRootless, '/home/user/.config/buildkit'],
  [FILES.sample, '/etc/buildkit'],
];

describe('registry settings in the workflow files', () => {
  test('Tekton: the sidecar runs the launcher with the registry params; CAs in step and sidecar; buildkitd.toml where the daemon reads it', () => {
    for (const [file, configDir] of TEKTON) {
      const task = load(file);
      const [sidecar] = task.spec.sidecars;
      assert.equal(sidecar!.command[2], sidecarLauncher(), `${file}: the generated launcher`);
      const env = new Map(sidecar!.env.map((e) => [e.name, e.value]));
      for (const key of DAEMON_SCHEMA_PARAMS)
        assert.equal(
          env.get(envVarName(key)),
          `$(params.${workflowParamName(key)})`,
          `${file}: sidecar ${envVarName(key)}`,
        );
      const declared = new Map(task.spec.workspaces.map((w) => [w.name, w]));
      assert.equal(declared.get('registry-ca')?.mountPath, '/workspace/registry-ca');
      assert.equal(declared.get('registry-ca')?.optional, true);
      assert.equal(declared.get('buildkitd-config')?.mountPath, configDir, `${file}: buildkitd.toml at ${configDir}`);
      const step = task.spec.steps[0]!;
      const usage = (container: Container, name: string) =>
        container.workspaces.find((w) => w.name === name)?.mountPath;
      assert.equal(
        usage(step, 'registry-ca'),
        '/workspace/registry-ca',
        `${file}: the step sees the CA files (it checks them)`,
      );
      assert.equal(
        usage(sidecar!, 'registry-ca'),
        '/workspace/registry-ca',
        `${file}: the daemon sees them at the same path`,
      );
      assert.equal(usage(sidecar!, 'buildkitd-config'), configDir);
      const stepParams =
        file === FILES.sample
          ? new Map(step.params.map((p) => [p.name, p.value]))
          : new Map(step.env.map((e) => [e.name, e.value]));
      for (const key of DAEMON_SCHEMA_PARAMS) {
        const [name, value] =
          file === FILES.sample
            ? [workflowParamName(key), `$(params.${workflowParamName(key)})`]
            : [envVarName(key), `$(params.${workflowParamName(key)})`];
        assert.equal(
          stepParams.get(name),
          value,
          `${file}: the step gets ${workflowParamName(key)} from the same param`,
        );
      }
      for (const key of DAEMON_SCHEMA_PARAMS)
        assert.equal(
          task.spec.params.find((p) => p.name === workflowParamName(key))?.default,
          '',
          `${file}: ${workflowParamName(key)} unset by default`,
        );
    }
  });

  test('Argo: the same env for both containers, optional ConfigMap volumes for CAs and buildkitd.toml', () => {
    const template = load(FILES.argo).spec.templates[0]!;
    const sidecar = template.sidecars[0]!;
    assert.equal(sidecar.command[2], sidecarLauncher());
    const sidecarEnv = new Map(sidecar.env.map((e) => [e.name, e.value]));
    const mainEnv = new Map(template.container.env.map((e) => [e.name, e.value]));
    for (const key of DAEMON_SCHEMA_PARAMS) {
      assert.equal(sidecarEnv.get(envVarName(key)), `{{inputs.parameters.${workflowParamName(key)}}}`);
      assert.equal(mainEnv.get(envVarName(key)), sidecarEnv.get(envVarName(key)), `${key}: one input for both`);
    }
    const volumes = new Map(template.volumes.map((v) => [v.name, v]));
    assert.deepEqual(volumes.get('registry-ca')?.configMap, {
      name: '{{inputs.parameters.REGISTRY_CA_CONFIGMAP}}',
      optional: true,
    });
    assert.deepEqual(volumes.get('buildkitd-config')?.configMap, {
      name: '{{inputs.parameters.BUILDKITD_CONFIG_CONFIGMAP}}',
      optional: true,
    });
    const mount = (container: Container, name: string) =>
      container.volumeMounts.find((m) => m.name === name)?.mountPath;
    assert.equal(mount(template.container, 'registry-ca'), '/workspace/registry-ca');
    assert.equal(mount(sidecar, 'registry-ca'), '/workspace/registry-ca');
    assert.equal(mount(sidecar, 'buildkitd-config'), '/etc/buildkit');
    assert.equal(mount(template.container, 'buildkitd-config'), undefined, 'the step does not need the daemon config');
  });
});
