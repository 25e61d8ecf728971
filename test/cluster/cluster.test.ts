// The shipped Task, StepAction and WorkflowTemplate run for real: a single-node Kubernetes built
// from pinned modules (scripts/install-cluster.sh), Tekton Pipelines and Argo Workflows installed
// from their release manifests with images made here, an in-cluster registry behind a Service
// address on the bed's bridge, and the step image built from ./Dockerfile. Each scenario gets its
// own namespace and is asserted from the API (status, results, outputs) and from the registry.
// Nothing is skipped: a component that cannot start fails the suite with its log tail.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import YAML from 'yaml';
import { tempDir } from '../bed/index.js';
import { tail } from '../bed/process.js';
import { findTools } from '../bed/tools.js';
import { REPO } from '../helpers.js';
import { execOk, stageTimer } from '../image/exec.js';
import { startCluster, startNode, type Cluster } from './cluster.js';
import { installArgo, installRegistry, installTekton } from './engines.js';
import { buildImages, buildTektonImages, IMAGES, pinned } from './images.js';
import { condition, until, type Named } from './kube.js';
import { pushLayout, registryDigest } from './registry-tls.js';
import {
  explain,
  results,
  runToEnd,
  scenarioNamespace,
  shipped,
  SHIPPED,
  succeeded,
  textResult,
  type TaskRun,
} from './runs.js';
import { bundleEntries, writeBundle } from '../../scripts/tekton-bundle.js';
import { buildStepImage } from './step-image.js';

const say = (line: string): void => void process.stderr.write(`cluster: ${line}\n`);
const work = tempDir('cluster-suite');
// Also when the run is interrupted (the cluster's own signal handler exits the process).
process.once('exit', () => rmSync(work, { recursive: true, force: true }));
const { timed, summary: timingsSummary } = stageTimer(say);

let cluster: Cluster | undefined;
let registry = '';
/** The builds' base image in the in-cluster registry (busybox, so a RUN has a shell). */
let baseImage = '';

/** BUILDKIT_STEP_CLUSTER_BIN, or what scripts/install-cluster.sh builds (cached; waits for a build under way). */
async function clusterBin(): Promise<string> {
  if (process.env.BUILDKIT_STEP_CLUSTER_BIN) return process.env.BUILDKIT_STEP_CLUSTER_BIN;
  const logFile = path.join(work, 'install-cluster.log');
  await execOk('bash', [path.join(REPO, 'scripts', 'install-cluster.sh')], { logFile, timeoutMs: 90 * 60_000 });
  return tail(logFile, 1).trim();
}

before(
  async () => {
    const started = Date.now();
    const bin = await timed('cluster binaries (scripts/install-cluster.sh)', () => clusterBin());
    const tools = findTools();
    const toolsBin = path.dirname(tools.buildkitd);
    cluster = await timed('control plane up (etcd, apiserver, containerd)', () => startCluster(bin, say));
    const c = cluster;
    const imagesDir = path.join(work, 'images');
    mkdirSync(imagesDir, { recursive: true });
    const stepArchive = path.join(imagesDir, 'step.tar');
    const stepImage = timed('step image built from ./Dockerfile', () =>
      buildStepImage(path.join(work, 'step-image'), stepArchive, IMAGES.step),
    );
    const images = await timed('images made', () =>
      buildImages({
        clusterBin: bin,
        toolsBin,
        ca: c.pki.ca,
        dir: imagesDir,
        tektonVersions: [pinned('TEKTON_VERSION')],
      }),
    );
    await timed('images imported', () => {
      for (const image of images) c.importImage(image.archive);
    });
    await timed('node ready (kubelet, scheduler, controller-manager, kube-proxy)', () => startNode(c, say));
    registry = await timed('in-cluster registry up', () => installRegistry(c));
    const busybox = images.find((image) => image.names.includes(IMAGES.busybox))!;
    await pushLayout(c.pki.ca, registry, busybox.layout, 'bks/busybox', '1');
    baseImage = `${registry}/bks/busybox:1`;
    await Promise.all([
      timed(`Tekton ${pinned('TEKTON_VERSION')} installed (controller, webhook in admission, resolvers)`, () =>
        installTekton(c, pinned('TEKTON_VERSION')),
      ),
      timed(`Argo ${pinned('ARGO_VERSION')} installed`, () => installArgo(c)),
      stepImage.then(() => timed('step image imported', () => c.importImage(stepArchive))),
    ]);
    say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
  { timeout: 40 * 60_000 },
);

after(() => {
  const left = cluster ? cluster.stop() : [];
  rmSync(work, { recursive: true, force: true });
  say(timingsSummary());
  if (left.length > 0) throw new Error(`the cluster left things behind on the host: ${left.join('; ')}`);
});

const source = (marker: string): Record<string, string> => ({
  Dockerfile: `FROM ${baseImage}\nRUN echo "${marker}" > /built.txt\nCOPY hello.txt /hello.txt\n`,
  'hello.txt': `hello from ${marker}\n`,
});

/** Fails with everything a user would look at when `check` fails. */
async function expect(namespace: string, run: unknown, check: () => void): Promise<void> {
  try {
    check();
  } catch (error) {
    (error as Error).message += `\n${await explain(cluster!, namespace, run)}`;
    throw error;
  }
}

const taskRun = (params: Record<string, string | string[]>, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'tekton.dev/v1',
  kind: 'TaskRun',
  metadata: { generateName: 'build-' },
  spec: {
    taskRef: { name: 'buildkit-build' },
    params: Object.entries(params).map(([name, value]) => ({ name, value })),
    workspaces: [{ name: 'source', configMap: { name: 'hello-src' } }],
    timeout: '5m',
    ...extra,
  },
});

// Scenarios are independent (one namespace each), so several run at once; the Tekton version
// matrix replaces the Tekton install and runs after them.
describe('the shipped files in a real cluster', { concurrency: 4 }, () => {
  test('Task (privileged sidecar): builds with a RUN, pushes; IMAGE_DIGEST is the registry digest, IMAGE_URL the tag', async () => {
    const ns = await scenarioNamespace(cluster!, 'task-push', source('task-push'));
    await cluster!.kube.apply(shipped(SHIPPED.task), ns);
    const run = await timed('scenario task-push', () =>
      runToEnd<TaskRun>(
        cluster!,
        'taskrun',
        taskRun({ IMAGE: `${registry}/task-push/app`, TAGS: ['v1', 'extra'], PUSH: 'true' }),
        ns,
      ),
    );
    const got = results(run);
    await expect(ns, run, () => {
      assert.ok(succeeded(run), 'TaskRun Succeeded');
      assert.equal(got.IMAGE_URL, `${registry}/task-push/app:v1`);
      assert.match(String(textResult(got.IMAGE_DIGEST)), /^sha256:[a-f0-9]{64}$/);
      assert.equal(got.IMAGE_REF, `${registry}/task-push/app@${textResult(got.IMAGE_DIGEST)}`);
      assert.equal(got.ERROR_REASON ?? '', '');
    });
    assert.equal(
      await registryDigest(cluster!.pki.ca, registry, 'task-push/app', 'v1'),
      got.IMAGE_DIGEST,
      'registry digest of :v1 == IMAGE_DIGEST',
    );
    assert.equal(
      await registryDigest(cluster!.pki.ca, registry, 'task-push/app', 'extra'),
      got.IMAGE_DIGEST,
      'every tag pushed',
    );
  });

  /** A Workflow that is only a `workflowTemplateRef` to a shipped template: it builds and pushes, and its digest is the registry's. */
  const argoTemplateRun = async (name: string, template: string, ref: { name: string; clusterScope?: boolean }) => {
    const ns = await argoNamespace(name, template);
    const workflow = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      metadata: { generateName: `${name}-` },
      spec: {
        serviceAccountName: 'bks-workflow',
        workflowTemplateRef: ref,
        arguments: {
          parameters: [
            { name: 'IMAGE', value: `${registry}/${name}/app` },
            { name: 'TAGS', value: '["v1"]' },
            { name: 'PUSH', value: 'true' },
          ],
        },
        podSpecPatch: SOURCE_PATCH,
      },
    };
    const run = await timed(`scenario ${name}`, () => runWorkflow(ns, workflow));
    const build = nodeOutputs(run, 'build');
    await expect(ns, run, () => {
      assert.equal(run.status?.phase, 'Succeeded', `Workflow Succeeded (${run.status?.message ?? ''})`);
      assert.equal(build.IMAGE_URL, `${registry}/${name}/app:v1`);
    });
    assert.equal(await registryDigest(cluster!.pki.ca, registry, `${name}/app`, 'v1'), build.IMAGE_DIGEST);
  };

  test('Argo: a Workflow using the WorkflowTemplate through workflowTemplateRef builds and pushes', () =>
    argoTemplateRun('argo-wtref', SHIPPED.workflowTemplate, { name: 'buildkit-build' }));

  test('Argo: the rootless WorkflowTemplate (rootless buildkitd sidecar) builds and pushes', () =>
    argoTemplateRun('argo-rootless', SHIPPED.workflowTemplateRootless, { name: 'buildkit-build-rootless' }));

  test('Argo: the ClusterWorkflowTemplate, referenced with clusterScope from a namespace, builds and pushes', () =>
    argoTemplateRun('argo-cluster', SHIPPED.clusterWorkflowTemplate, { name: 'buildkit-build', clusterScope: true }));

  test('Argo: the README usage (templateRef step); the digest reaches the next step through outputs.parameters and the kubelet runs the image by digest', async () => {
    const ns = await argoNamespace('argo-chain');
    const workflow = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      metadata: { generateName: 'chain-' },
      spec: {
        serviceAccountName: 'bks-workflow',
        entrypoint: 'main',
        podSpecPatch: SOURCE_PATCH,
        templates: [
          {
            name: 'main',
            steps: [
              [
                {
                  name: 'build',
                  templateRef: { name: 'buildkit-build', template: 'build' },
                  arguments: {
                    parameters: [
                      { name: 'IMAGE', value: `${registry}/argo-chain/app` },
                      { name: 'TAGS', value: '["v1"]' },
                      { name: 'PUSH', value: 'true' },
                    ],
                  },
                },
              ],
              [
                {
                  name: 'use',
                  template: 'use',
                  arguments: {
                    parameters: [
                      { name: 'ref', value: '{{steps.build.outputs.parameters.IMAGE_REF}}' },
                      { name: 'digest', value: '{{steps.build.outputs.parameters.IMAGE_DIGEST}}' },
                    ],
                  },
                },
              ],
            ],
          },
          {
            name: 'use',
            inputs: { parameters: [{ name: 'ref' }, { name: 'digest' }] },
            container: {
              image: '{{inputs.parameters.ref}}',
              command: [
                'sh',
                '-c',
                'cat /hello.txt > /tmp/hello; echo -n "{{inputs.parameters.digest}}" > /tmp/digest',
              ],
            },
            outputs: {
              parameters: [
                { name: 'hello', valueFrom: { path: '/tmp/hello' } },
                { name: 'digest', valueFrom: { path: '/tmp/digest' } },
              ],
            },
          },
        ],
      },
    };
    const run = await timed('scenario argo-chain', () => runWorkflow(ns, workflow));
    const build = nodeOutputs(run, 'build');
    const use = nodeOutputs(run, 'use');
    await expect(ns, run, () => {
      assert.equal(run.status?.phase, 'Succeeded', `Workflow Succeeded (${run.status?.message ?? ''})`);
      assert.match(build.IMAGE_DIGEST ?? '', /^sha256:[a-f0-9]{64}$/);
      assert.equal(use.digest, build.IMAGE_DIGEST, 'the digest reached the next step');
      assert.equal(use.hello?.trim(), 'hello from argo-chain', 'the next step ran the built image');
    });
    assert.equal(await registryDigest(cluster!.pki.ca, registry, 'argo-chain/app', 'v1'), build.IMAGE_DIGEST);
  });

  test('Pipeline: a task fills the source workspace, the Task builds and pushes, a task runs the new image by digest (pulled by the kubelet from the in-cluster registry)', async () => {
    const ns = await scenarioNamespace(cluster!, 'pipeline', {});
    await cluster!.kube.apply(shipped(SHIPPED.task), ns);
    // A workspace shared by the tasks' pods: a PersistentVolume on this node.
    const volumeDir = path.join(cluster!.dir, 'volumes', ns);
    mkdirSync(volumeDir, { recursive: true });
    const storage = [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `${ns}-source` },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          storageClassName: 'bed',
          hostPath: { path: volumeDir, type: 'Directory' },
          claimRef: { namespace: ns, name: 'source' },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'source', namespace: ns },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'bed', resources: { requests: { storage: '1Gi' } } },
      },
    ];
    await cluster!.kube.apply(storage.map((object) => YAML.stringify(object)).join('---\n'));
    const files = source('pipeline');
    const fill = Object.entries(files)
      .map(([name, content]) => `printf '%s' '${content.replace(/'/g, "'\\''")}' > "$(workspaces.source.path)/${name}"`)
      .join('\n');
    const pipeline = {
      apiVersion: 'tekton.dev/v1',
      kind: 'Pipeline',
      metadata: { name: 'build-and-run', namespace: ns },
      spec: {
        workspaces: [{ name: 'source' }],
        tasks: [
          {
            name: 'fill',
            workspaces: [{ name: 'source' }],
            taskSpec: {
              workspaces: [{ name: 'source' }],
              steps: [
                {
                  name: 'write',
                  image: IMAGES.busybox,
                  script: `#!/bin/sh\nset -e\n${fill}\nchmod -R a+rX "$(workspaces.source.path)"\n`,
                },
              ],
            },
          },
          {
            name: 'build',
            runAfter: ['fill'],
            taskRef: { name: 'buildkit-build' },
            workspaces: [{ name: 'source' }],
            params: [
              { name: 'IMAGE', value: `${registry}/pipeline/app` },
              { name: 'TAGS', value: ['v1'] },
              { name: 'PUSH', value: 'true' },
            ],
          },
          {
            name: 'run',
            params: [
              { name: 'ref', value: '$(tasks.build.results.IMAGE_REF)' },
              { name: 'digest', value: '$(tasks.build.results.IMAGE_DIGEST)' },
            ],
            taskSpec: {
              params: [{ name: 'ref' }, { name: 'digest' }],
              results: [{ name: 'hello' }, { name: 'built' }],
              steps: [
                {
                  name: 'run',
                  image: '$(params.ref)',
                  command: [
                    'sh',
                    '-c',
                    'cat /hello.txt > $(results.hello.path); cat /built.txt > $(results.built.path)',
                  ],
                },
              ],
            },
          },
        ],
      },
    };
    await cluster!.kube.apply(YAML.stringify(pipeline));
    const run = await timed('scenario pipeline', () =>
      runToEnd<TaskRun>(
        cluster!,
        'pipelinerun',
        {
          apiVersion: 'tekton.dev/v1',
          kind: 'PipelineRun',
          metadata: { generateName: 'build-and-run-' },
          spec: {
            pipelineRef: { name: 'build-and-run' },
            workspaces: [{ name: 'source', persistentVolumeClaim: { claimName: 'source' } }],
            timeouts: { pipeline: '5m' },
          },
        },
        ns,
      ),
    );
    type Child = TaskRun & { metadata: { labels?: Record<string, string> } };
    const children = await cluster!.kube.list<Child>('taskruns', ns);
    const byTask = (name: string) =>
      results(children.find((child) => child.metadata.labels?.['tekton.dev/pipelineTask'] === name));
    const build = byTask('build');
    const ran = byTask('run');
    await expect(ns, run, () => {
      assert.ok(succeeded(run), 'PipelineRun Succeeded');
      assert.match(String(textResult(build.IMAGE_DIGEST)), /^sha256:[a-f0-9]{64}$/);
      assert.equal(
        ran.hello,
        'hello from pipeline',
        'the run task saw the file the fill task wrote, in the image the build task built',
      );
      assert.equal(ran.built, 'pipeline', 'the RUN of the build happened');
    });
    assert.equal(await registryDigest(cluster!.pki.ca, registry, 'pipeline/app', 'v1'), build.IMAGE_DIGEST);
    type Pod = { metadata: { labels?: Record<string, string> }; spec: { containers: { image: string }[] } };
    const runPod = (await cluster!.kube.list<Pod>('pods', ns)).find(
      (pod) => pod.metadata.labels?.['tekton.dev/pipelineTask'] === 'run',
    );
    assert.equal(
      runPod?.spec.containers[0]?.image,
      `${registry}/pipeline/app@${textResult(build.IMAGE_DIGEST)}`,
      'the kubelet ran the image by digest',
    );
  });

  test('StepAction inside a Task (the shipped sample): builds, pushes, step results lifted to the Task results', async () => {
    const ns = await scenarioNamespace(cluster!, 'stepaction', source('stepaction'));
    await cluster!.kube.apply(`${shipped(SHIPPED.stepAction)}\n---\n${shipped(SHIPPED.sample)}`, ns);
    const run = await timed('scenario stepaction', () =>
      runToEnd<TaskRun>(
        cluster!,
        'taskrun',
        {
          apiVersion: 'tekton.dev/v1',
          kind: 'TaskRun',
          metadata: { generateName: 'sample-' },
          spec: {
            taskRef: { name: 'buildkit-build-with-stepaction' },
            params: [
              { name: 'IMAGE', value: `${registry}/stepaction/app` },
              { name: 'TAGS', value: ['v1'] },
            ],
            workspaces: [{ name: 'source', configMap: { name: 'hello-src' } }],
            timeout: '5m',
          },
        },
        ns,
      ),
    );
    const got = results(run);
    await expect(ns, run, () => {
      assert.ok(succeeded(run), 'TaskRun Succeeded');
      assert.equal(got.IMAGE_URL, `${registry}/stepaction/app:v1`);
      assert.equal(got.IMAGE_REF, `${registry}/stepaction/app@${textResult(got.IMAGE_DIGEST)}`);
      assert.deepEqual(got.ARTIFACT_OUTPUTS, {
        uri: `${registry}/stepaction/app`,
        digest: got.IMAGE_DIGEST,
        isBuildArtifact: 'true',
      });
    });
    assert.equal(await registryDigest(cluster!.pki.ca, registry, 'stepaction/app', 'v1'), got.IMAGE_DIGEST);
  });

  test('failure: bad params end the TaskRun with ERROR_REASON PARAMS_INVALID and a message naming the param', async () => {
    const ns = await scenarioNamespace(cluster!, 'bad-params', source('bad-params'));
    await cluster!.kube.apply(shipped(SHIPPED.task), ns);
    const run = await timed('scenario bad-params', () =>
      runToEnd<TaskRun>(
        cluster!,
        'taskrun',
        taskRun({ IMAGE: `${registry}/bad-params/app`, TAGS: ['v1', 'not a tag'], PUSH: 'true' }),
        ns,
      ),
    );
    const got = results(run);
    await expect(ns, run, () => {
      assert.equal(condition(run, 'Succeeded')?.status, 'False');
      assert.equal(got.ERROR_REASON, 'PARAMS_INVALID');
      assert.match(String(textResult(got.ERROR_MESSAGE)), /tags/i);
      assert.equal(got.IMAGE_DIGEST, undefined, 'no image result on failure');
    });
    assert.equal(await registryDigest(cluster!.pki.ca, registry, 'bad-params/app', 'v1'), undefined, 'nothing pushed');
  });

  test('failure: a sidecar that never becomes ready fails the TaskRun with the reason in its status', async () => {
    const ns = await scenarioNamespace(cluster!, 'dead-sidecar', source('dead-sidecar'));
    await cluster!.kube.apply(shipped(SHIPPED.task), ns);
    // An image without buildkitd: the sidecar cannot start.
    const run = await timed('scenario dead-sidecar', () =>
      runToEnd<TaskRun>(
        cluster!,
        'taskrun',
        taskRun(
          {
            IMAGE: `${registry}/dead-sidecar/app`,
            TAGS: ['v1'],
            PUSH: 'true',
            BUILDKITD_IMAGE: IMAGES.busybox,
            DAEMON_TIMEOUT: '15',
          },
          { timeout: '2m' },
        ),
        ns,
      ),
    );
    const status = condition(run, 'Succeeded');
    await expect(ns, run, () => {
      assert.equal(status?.status, 'False');
      assert.match(
        `${status?.reason} ${status?.message} ${JSON.stringify(results(run))}`,
        /sidecar|buildkitd|DAEMON_UNREACHABLE/i,
        'the status names the sidecar or the daemon',
      );
    });
    say(`dead sidecar: ${status?.reason}: ${status?.message}; results ${JSON.stringify(results(run))}`);
  });

  test('failure: a TaskRun timeout during a RUN stops the build and says so', async () => {
    const ns = await scenarioNamespace(cluster!, 'timeout', { Dockerfile: `FROM ${baseImage}\nRUN sleep 600\n` });
    await cluster!.kube.apply(shipped(SHIPPED.task), ns);
    const run = await timed('scenario timeout', () =>
      runToEnd<TaskRun>(
        cluster!,
        'taskrun',
        taskRun({ IMAGE: `${registry}/timeout/app`, TAGS: ['v1'], PUSH: 'true' }, { timeout: '25s' }),
        ns,
      ),
    );
    const status = condition(run, 'Succeeded');
    await expect(ns, run, () => {
      assert.equal(status?.status, 'False');
      assert.equal(status?.reason, 'TaskRunTimeout');
      assert.match(String(status?.message), /failed to finish within "25s"/);
    });
    assert.equal(await registryDigest(cluster!.pki.ca, registry, 'timeout/app', 'v1'), undefined, 'nothing pushed');
  });

  test('hardened pod template (runAsNonRoot, no privilege escalation for the step): the shipped Task runs', async () => {
    const ns = await scenarioNamespace(cluster!, 'hardened', source('hardened'));
    await cluster!.kube.apply(shipped(SHIPPED.task), ns);
    // A common org-wide default; the step already runs as 1000 without privilege escalation.
    const podTemplate = { securityContext: { runAsNonRoot: true } };
    const run = await timed('scenario hardened', () =>
      runToEnd<TaskRun>(
        cluster!,
        'taskrun',
        taskRun({ IMAGE: `${registry}/hardened/app`, TAGS: ['v1'], PUSH: 'true' }, { podTemplate, timeout: '2m' }),
        ns,
      ),
    );
    const got = results(run);
    await expect(ns, run, () => {
      assert.ok(succeeded(run), 'TaskRun Succeeded under runAsNonRoot');
    });
    assert.equal(await registryDigest(cluster!.pki.ca, registry, 'hardened/app', 'v1'), got.IMAGE_DIGEST);
  });

  test('Tekton bundle: the Task packed by scripts/tekton-bundle.ts, pushed to the in-cluster registry, run through the bundles resolver', async () => {
    const ns = await scenarioNamespace(cluster!, 'bundle', source('bundle'));
    const layout = path.join(work, 'bundle');
    const digest = writeBundle(bundleEntries([shipped(SHIPPED.task)]), layout);
    assert.equal(await pushLayout(cluster!.pki.ca, registry, layout, 'bundles/buildkit-build', '0.1'), digest);
    const bundle = `${registry}/bundles/buildkit-build:0.1`;
    const run = await timed('scenario bundle', () =>
      runToEnd<
        TaskRun & { status?: { provenance?: { refSource?: { uri?: string; digest?: Record<string, string> } } } }
      >(
        cluster!,
        'taskrun',
        taskRun(
          { IMAGE: `${registry}/bundle/app`, TAGS: ['v1'], PUSH: 'true' },
          {
            taskRef: {
              resolver: 'bundles',
              params: [
                { name: 'bundle', value: bundle },
                { name: 'name', value: 'buildkit-build' },
                { name: 'kind', value: 'task' },
              ],
            },
          },
        ),
        ns,
      ),
    );
    const got = results(run);
    await expect(ns, run, () => {
      assert.ok(succeeded(run), 'TaskRun Succeeded');
      assert.equal(
        run.status?.provenance?.refSource?.digest?.sha256,
        digest.slice('sha256:'.length),
        'the Task came from the bundle',
      );
    });
    assert.equal(await registryDigest(cluster!.pki.ca, registry, 'bundle/app', 'v1'), got.IMAGE_DIGEST);
  });

  test('rootless Task: builds with a RUN and pushes with the rootless sidecar', async () => {
    const ns = await scenarioNamespace(cluster!, 'rootless', source('rootless'));
    await cluster!.kube.apply(shipped(SHIPPED.rootless), ns);
    const run = await timed('scenario rootless', () =>
      runToEnd<TaskRun>(
        cluster!,
        'taskrun',
        taskRun(
          { IMAGE: `${registry}/rootless/app`, TAGS: ['v1'], PUSH: 'true' },
          { taskRef: { name: 'buildkit-build-rootless' } },
        ),
        ns,
      ),
    );
    const got = results(run);
    await expect(ns, run, () => assert.ok(succeeded(run), 'TaskRun Succeeded'));
    assert.equal(await registryDigest(cluster!.pki.ca, registry, 'rootless/app', 'v1'), got.IMAGE_DIGEST);
  });
});

describe('the Task on other Tekton releases', () => {
  for (const [role, versionName] of [
    ['oldest Tekton the Task claims (minVersion)', 'TEKTON_MIN_VERSION'],
    ['newest Tekton the Go module proxy serves', 'TEKTON_NEWEST_VERSION'],
  ] as const) {
    test(`${role}: ${pinned(versionName)} runs the Task`, async () => {
      const version = pinned(versionName);
      const images = await timed(`Tekton ${version} images`, () =>
        buildTektonImages(cluster!.bin, cluster!.pki.ca, path.join(work, 'images'), version),
      );
      for (const image of images) cluster!.importImage(image.archive);
      await timed(`Tekton moved to ${version} (kubectl apply of its release, rollout)`, () =>
        installTekton(cluster!, version),
      );
      const controller = await cluster!.kube.kubectl([
        'get',
        'deployment',
        '-n',
        'tekton-pipelines',
        'tekton-pipelines-controller',
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      ]);
      assert.equal(controller, IMAGES.tekton('controller', version), 'the controller runs that release');
      const task = YAML.parse(shipped(SHIPPED.task)) as { metadata: { annotations: Record<string, string> } };
      if (versionName === 'TEKTON_MIN_VERSION')
        assert.equal(
          `v${task.metadata.annotations['tekton.dev/pipelines.minVersion']}`,
          version,
          'the Task claims this version as its minimum',
        );
      const ns = await scenarioNamespace(
        cluster!,
        `tekton-${version.replace(/\./g, '-')}`,
        source(`tekton-${version}`),
      );
      await cluster!.kube.apply(shipped(SHIPPED.task), ns);
      const run = await timed(`scenario Tekton ${version}`, () =>
        runToEnd<TaskRun>(
          cluster!,
          'taskrun',
          taskRun({ IMAGE: `${registry}/${ns}/app`, TAGS: ['v1'], PUSH: 'true' }),
          ns,
        ),
      );
      const got = results(run);
      await expect(ns, run, () => assert.ok(succeeded(run), `TaskRun Succeeded on Tekton ${version}`));
      assert.equal(await registryDigest(cluster!.pki.ca, registry, `${ns}/app`, 'v1'), got.IMAGE_DIGEST);
    });
  }
});

// Argo: the source ConfigMap mounted at the template's working dir, the way its README adds volumes.
const SOURCE_PATCH = JSON.stringify({
  volumes: [{ name: 'source', configMap: { name: 'hello-src' } }],
  containers: [{ name: 'main', volumeMounts: [{ name: 'source', mountPath: '/workspace/source' }] }],
});

type Workflow = Named & {
  status?: {
    phase?: string;
    message?: string;
    nodes?: Record<
      string,
      {
        displayName: string;
        templateName?: string;
        type: string;
        outputs?: { parameters?: { name: string; value?: string }[] };
      }
    >;
  };
};

/** The output parameters of the workflow node named `displayName` (a Pod node). */
function nodeOutputs(run: Workflow, displayName: string): Record<string, string> {
  const node = Object.values(run.status?.nodes ?? {}).find(
    (entry) => entry.displayName === displayName || (entry.type === 'Pod' && entry.templateName === displayName),
  );
  return Object.fromEntries(
    (node?.outputs?.parameters ?? []).map((parameter) => [parameter.name, parameter.value ?? '']),
  );
}

/** A namespace for an Argo scenario: the source, the shipped `template` applied, and the workflow's service account. */
async function argoNamespace(name: string, template = SHIPPED.workflowTemplate): Promise<string> {
  const ns = await scenarioNamespace(cluster!, name, source(name));
  await cluster!.kube.apply(shipped(template), ns);
  // What Argo's docs give a workflow's service account: report results and outputs.
  const rbac = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bks-workflow', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'bks-workflow', namespace: ns },
      rules: [{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'bks-workflow', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'bks-workflow' },
      subjects: [{ kind: 'ServiceAccount', name: 'bks-workflow', namespace: ns }],
    },
  ];
  await cluster!.kube.apply(rbac.map((object) => YAML.stringify(object)).join('---\n'));
  return ns;
}

async function runWorkflow(ns: string, workflow: unknown): Promise<Workflow> {
  const created = JSON.parse(
    await cluster!.kube.kubectl(['create', '-n', ns, '-o', 'json', '-f', '-'], YAML.stringify(workflow)),
  ) as Named;
  const run = await until(
    `workflow ${ns}/${created.metadata.name} finished`,
    () => cluster!.kube.get<Workflow>('workflow', created.metadata.name, ns),
    (value) => ['Succeeded', 'Failed', 'Error'].includes(value?.status?.phase ?? ''),
    240_000,
  );
  return run!;
}
