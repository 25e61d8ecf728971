// Running the shipped files in the cluster: a namespace per scenario, the shipped YAML applied
// unmodified, a run created and waited for, and everything a user would look at when it fails
// (status, results, pod events, container logs) put into the assertion message.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { FILES } from '../../scripts/gen-tasks.js';
import { REPO } from '../helpers.js';
import type { Cluster } from './cluster.js';
import { condition, until, type Named } from './kube.js';

export const SHIPPED = {
  task: path.join(REPO, FILES.task),
  rootless: path.join(REPO, FILES.taskRootless),
  stepAction: path.join(REPO, FILES.stepAction),
  sample: path.join(REPO, FILES.sample),
  workflowTemplate: path.join(REPO, FILES.argo),
  workflowTemplateRootless: path.join(REPO, FILES.argoRootless),
  clusterWorkflowTemplate: path.join(REPO, FILES.argoCluster),
};

export const shipped = (file: string): string => readFileSync(file, 'utf8');

/** A fresh namespace with a source ConfigMap (`hello-src`) holding `files`. */
export async function scenarioNamespace(
  cluster: Cluster,
  name: string,
  files: Record<string, string>,
): Promise<string> {
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hello-src', namespace: name }, data: files },
  ];
  await cluster.kube.apply(objects.map((object) => YAML.stringify(object)).join('---\n'));
  await until(
    `default service account in ${name}`,
    () => cluster.kube.get('serviceaccount', 'default', name),
    Boolean,
    30_000,
  );
  return name;
}

export type Result = { name: string; value: string | Record<string, string> };
export type TaskRun = Named & {
  status?: Named['status'] & {
    results?: Result[];
    podName?: string;
    steps?: { name: string; terminated?: { exitCode: number; reason?: string; message?: string } }[];
  };
};

export const results = (run: TaskRun | undefined): Record<string, string | Record<string, string>> =>
  Object.fromEntries(
    (run?.status?.results ?? []).map((result) => [
      result.name,
      typeof result.value === 'string' ? result.value.trim() : result.value,
    ]),
  );

/** A result that must be text (every one but ARTIFACT_OUTPUTS), or undefined when absent. */
export function textResult(value: Result['value'] | undefined): string | undefined {
  assert.ok(typeof value !== 'object', `a text result, got ${JSON.stringify(value)}`);
  return value;
}

const finished = (object: Named | undefined): boolean => {
  const succeeded = condition(object, 'Succeeded');
  return Boolean(succeeded && succeeded.status !== 'Unknown');
};

/** Creates `object` and waits until its Succeeded condition is final. */
export async function runToEnd<T extends Named>(
  cluster: Cluster,
  kind: string,
  object: unknown,
  namespace: string,
  timeoutMs = 240_000,
): Promise<T> {
  const created = JSON.parse(
    await cluster.kube.kubectl(['create', '-n', namespace, '-o', 'json', '-f', '-'], YAML.stringify(object)),
  ) as Named;
  const run = await until(
    `${kind} ${namespace}/${created.metadata.name} finished`,
    () => cluster.kube.get<T>(kind, created.metadata.name, namespace),
    (value) => finished(value),
    timeoutMs,
  );
  return run!;
}

/** Status, pod events and every container's log of a run: what a user would look at. */
export async function explain(cluster: Cluster, namespace: string, object: unknown): Promise<string> {
  const kube = cluster.kube;
  const parts = [
    `status: ${JSON.stringify((object as { status?: unknown }).status ?? object, null, 1).slice(0, 4000)}`,
  ];
  parts.push(
    `pods:\n${await kube.kubectl(['get', 'pods', '-n', namespace, '-o', 'wide']).catch((e: Error) => e.message)}`,
  );
  parts.push(
    `events:\n${(await kube.kubectl(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp']).catch((e: Error) => e.message)).split('\n').slice(-25).join('\n')}`,
  );
  type Pod = {
    metadata: { name: string };
    spec: { initContainers?: { name: string }[]; containers: { name: string }[] };
  };
  const pods = await kube.list<Pod>('pods', namespace).catch(() => []);
  for (const pod of pods) {
    for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      const log = await kube
        .kubectl(['logs', '-n', namespace, pod.metadata.name, '-c', container.name, '--tail=25'])
        .catch((e: Error) => e.message);
      parts.push(`--- ${pod.metadata.name}/${container.name}:\n${log.trim()}`);
    }
  }
  return parts.join('\n');
}

export const succeeded = (object: Named | undefined): boolean => condition(object, 'Succeeded')?.status === 'True';
