// The shipped Tekton and Argo files through the engines' own validation (tools/validate-manifests,
// a Go tool built on first use): accepted as shipped and with every registry field set, the Argo
// README's example accepted, and broken copies rejected for the expected reason.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { DAEMON_SCHEMA_PARAMS, FILES, REPO_ROOT } from '../../scripts/gen-tasks.js';
import type { Container, Manifest, Named, Param } from './manifests.js';
import { validate } from './validate.js';

const ARGO_FILES = [FILES.argo, FILES.argoCluster, FILES.argoRootless];
const YAML_FILES = [FILES.task, FILES.taskRootless, FILES.stepAction, FILES.sample, ...ARGO_FILES];
const load = (file: string): Manifest =>
  YAML.parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'), { version: '1.1' }) as Manifest;
const text = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');
const names = (list: { name: string }[] | undefined) => (list ?? []).map((item) => item.name);

/** A value for every registry and proxy param, as a platform team would set them. */
const VALUES: Record<string, string> = {
  REGISTRY_MIRRORS: '{"docker.io": ["mirror.registry.svc:5000"]}',
  REGISTRY_HTTP: '["reg.internal:5000", "mirror.registry.svc:5000"]',
  REGISTRY_INSECURE: '["legacy.internal"]',
  REGISTRY_CA: '{"harbor.example.com": ["/workspace/registry-ca/ca.crt"]}',
  HTTP_PROXY: 'http://proxy.example.com:3128',
  HTTPS_PROXY: 'http://proxy.example.com:3128',
  NO_PROXY: '.svc,.cluster.local,reg.internal',
  REGISTRY_CA_CONFIGMAP: 'team-registry-ca',
  BUILDKITD_CONFIG_CONFIGMAP: 'team-buildkitd-config',
};

describe("the engines' own validation of the shipped files", () => {
  test('the engines accept every shipped file', { timeout: 15 * 60_000 }, async () => {
    const documents = YAML_FILES.flatMap((file) =>
      YAML.parseAllDocuments(text(file)).map((doc) => {
        const manifest = doc.toJS() as Manifest;
        return `${file} ${manifest.kind}/${manifest.metadata.name}`;
      }),
    );
    const result = await validate(YAML_FILES);
    assert.equal(result.code, 0, `${result.lines.join('\n')}\n${result.stderr}`);
    assert.deepEqual(result.lines.sort(), documents.map((doc) => `OK ${doc}`).sort());
  });

  test(
    "the Argo README's example Workflow: accepted by Argo with the shipped template, its POD_SPEC_PATCH JSON scoped to the build pod",
    { timeout: 15 * 60_000 },
    async () => {
      const readme = text(FILES.argoReadme);
      const examples = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)]
        .map((m) => m[1]!)
        .filter((body) => /^kind: Workflow$/m.test(body));
      assert.equal(examples.length, 1, 'one example Workflow');
      const workflow = YAML.parse(examples[0]!) as Manifest;
      const build = workflow.spec.templates[0]!.steps[0]![0]!;
      const patchText = build.arguments.parameters.find((p) => p.name === 'POD_SPEC_PATCH')?.value;
      assert.ok(typeof patchText === 'string', 'the example passes POD_SPEC_PATCH as a string');
      assert.ok(!patchText.includes('\n'), 'the patch is one line, as Argo substitutes it into podSpecPatch');
      const patch = JSON.parse(patchText) as { volumes: Named[]; containers: Container[] };
      assert.deepEqual(
        patch.containers.map((c) => c.name),
        ['main', 'buildkitd'],
        'patches only the containers of the build pod',
      );
      const mounted = new Set(patch.containers.flatMap((c) => names(c.volumeMounts)));
      for (const volume of patch.volumes)
        assert.ok(mounted.has(volume.name) || volume.name === 'buildkitd-state', `${volume.name} is mounted`);
      assert.equal(workflow.spec.podSpecPatch, undefined, 'no Workflow-level podSpecPatch');
      const dir = mkdtempSync(path.join(tmpdir(), 'buildkit-step-readme-'));
      try {
        const file = path.join(dir, 'example-workflow.yaml');
        writeFileSync(file, examples[0]!);
        const result = await validate([FILES.argo, file]);
        assert.equal(result.code, 0, `${result.lines.join('\n')}\n${result.stderr}`);
        assert.ok(
          result.lines.some((line) => line.startsWith(`OK ${file} Workflow/`)),
          result.lines.join('\n'),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test('the engines reject broken copies, for the expected reason', { timeout: 15 * 60_000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'buildkit-step-tasks-'));
    try {
      type Case = { name: string; from: string; change: (m: Manifest) => void; reason: string };
      const taskStep = (m: Manifest) => m.spec.steps[0]!;
      const argoMain = (m: Manifest) => m.spec.templates[0]!.container;
      // The broken copies break the shape on purpose: edited as plain records.
      const misspell = (container: Record<string, unknown>) => {
        container.imagee = container.image;
        delete container.image;
      };
      const addEnv = (container: Container, value: string) => container.env.push({ name: 'BROKEN', value });
      // Tekton checks result references only inside `script` (not env/args), so the broken copy
      // swaps the command for a script; the shipped files' env references are checked in tasks.test.ts.
      const scriptWriting = (container: Record<string, unknown>, resultPath: string) => {
        delete container.command;
        delete container.args;
        container.script = `#!/bin/sh\nexec buildkit-step build > ${resultPath}\n`;
      };
      const cases: Case[] = [
        {
          name: 'task-misspelt',
          from: FILES.task,
          change: (m) => misspell(taskStep(m)),
          reason: "additional properties 'imagee' not allowed",
        },
        {
          name: 'task-param',
          from: FILES.task,
          change: (m) => addEnv(taskStep(m), '$(params.NOPE)'),
          reason: 'non-existent variable in "$(params.NOPE)"',
        },
        {
          name: 'task-result',
          from: FILES.task,
          change: (m) => scriptWriting(taskStep(m), '$(results.NOPE.path)'),
          reason: 'non-existent variable in',
        },
        {
          name: 'rootless-misspelt',
          from: FILES.taskRootless,
          change: (m) => misspell(m.spec.sidecars[0]!),
          reason: "additional properties 'imagee' not allowed",
        },
        {
          name: 'stepaction-misspelt',
          from: FILES.stepAction,
          change: (m) => misspell(m.spec),
          reason: "additional properties 'imagee' not allowed",
        },
        {
          name: 'stepaction-param',
          from: FILES.stepAction,
          change: (m) => addEnv(m.spec, '$(params.NOPE)'),
          reason: 'non-existent variable in "$(params.NOPE)"',
        },
        {
          name: 'stepaction-result',
          from: FILES.stepAction,
          change: (m) => scriptWriting(m.spec, '$(step.results.NOPE.path)'),
          reason: 'non-existent variable in',
        },
        {
          name: 'argo-misspelt',
          from: FILES.argo,
          change: (m) => misspell(argoMain(m)),
          reason: "additional properties 'imagee' not allowed",
        },
        {
          name: 'argo-param',
          from: FILES.argo,
          change: (m) => addEnv(argoMain(m), '{{inputs.parameters.nope}}'),
          reason: 'failed to resolve {{inputs.parameters.nope}}',
        },
      ];
      const files = cases.map((c) => {
        const manifest = load(c.from);
        c.change(manifest);
        const file = path.join(dir, `${c.name}.yaml`);
        writeFileSync(file, YAML.stringify(manifest, { version: '1.1' }));
        return file;
      });
      const result = await validate(files);
      assert.equal(result.code, 1, `${result.lines.join('\n')}\n${result.stderr}`);
      cases.forEach((c, index) => {
        const line = result.lines.find((l) => l.startsWith(`FAIL ${files[index]} `));
        assert.ok(line, `${c.name}: a FAIL line (got:\n${result.lines.join('\n')})`);
        assert.ok(line.includes(c.reason), `${c.name}: expected "${c.reason}" in\n${line}`);
        assert.ok(
          line.includes('NOPE') || line.includes('nope') || line.includes('imagee'),
          `${c.name}: the reason names the broken part\n${line}`,
        );
      });
      assert.equal(result.lines.length, cases.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('copies with every new field set pass the engines’ validation', { timeout: 15 * 60_000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'buildkit-step-registries-'));
    try {
      const files = [FILES.task, FILES.taskRootless, FILES.sample, FILES.argo].map((file) => {
        const manifest = load(file);
        let set = 0;
        const fill = (list: Param[] | undefined, field: 'default' | 'value') => {
          for (const item of list ?? []) {
            if (VALUES[item.name] === undefined) continue;
            item[field] = VALUES[item.name];
            set++;
          }
        };
        if (manifest.kind === 'Task') fill(manifest.spec.params, 'default');
        else {
          fill(manifest.spec.arguments.parameters, 'value');
          fill(manifest.spec.templates[0]!.inputs.parameters, 'value');
        }
        assert.ok(set >= DAEMON_SCHEMA_PARAMS.length, `${file}: every new field set (${set})`);
        const out = path.join(dir, path.basename(file));
        writeFileSync(out, YAML.stringify(manifest, { version: '1.1', lineWidth: 0 }));
        return out;
      });
      const result = await validate(files);
      assert.equal(result.code, 0, `${result.lines.join('\n')}\n${result.stderr}`);
      assert.equal(result.lines.filter((line) => line.startsWith('OK ')).length, files.length, result.lines.join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
