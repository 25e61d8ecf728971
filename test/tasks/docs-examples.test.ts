// Docs examples are code: every fenced YAML block in the README and docs/ that passes params to the
// shipped Tekton Task (a TaskRun, or a Pipeline task) names params the Task declares, with the
// value shape Tekton accepts for the declared type (a list for `type: array`, a string otherwise).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { FILES } from '../../scripts/gen-tasks.js';
import { REPO } from '../helpers.js';
import type { Manifest, Param } from './manifests.js';

const TASKS: Record<string, string> = { 'buildkit-build': FILES.task, 'buildkit-build-rootless': FILES.taskRootless };

/** The README and every Markdown file under docs/ and tasks/. */
function markdownFiles(): string[] {
  const found = ['README.md'];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) found.push(rel);
    }
  };
  walk('docs');
  walk('tasks');
  return found;
}

/** The fenced ```yaml blocks of a Markdown text. */
export function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)].map((match) => match[1]!);
}

type TaskUse = { taskRef: { name: string }; params: Param[] };

/** Every object in `node` that references one of our Tasks by name and passes params. */
function taskUses(node: unknown, found: TaskUse[] = []): TaskUse[] {
  if (Array.isArray(node)) for (const item of node) taskUses(item, found);
  else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    const ref = record.taskRef as { name?: unknown } | undefined;
    if (typeof ref?.name === 'string' && ref.name in TASKS && Array.isArray(record.params))
      found.push(record as unknown as TaskUse);
    for (const value of Object.values(record)) taskUses(value, found);
  }
  return found;
}

/** What is wrong with one use of a Task: unknown params and values of the wrong shape. */
export function paramProblems(use: TaskUse, declared: readonly Param[]): string[] {
  const types = new Map(declared.map((param) => [param.name, param.type ?? 'string']));
  return use.params.flatMap(({ name, value }) => {
    const type = types.get(name);
    if (!type) return [`${name}: not a param of ${use.taskRef.name}`];
    const shape = Array.isArray(value) ? 'array' : typeof value === 'object' && value !== null ? 'object' : 'string';
    return shape === type
      ? []
      : [`${name}: the Task declares type ${type}, the example passes ${shape} ${JSON.stringify(value)}`];
  });
}

describe('YAML examples in the docs', () => {
  test('every Tekton example that passes params to the shipped Task passes declared params of the declared type', () => {
    const declared = Object.fromEntries(
      Object.entries(TASKS).map(([name, file]) => [
        name,
        (YAML.parse(readFileSync(path.join(REPO, file), 'utf8')) as Manifest).spec.params,
      ]),
    );
    const problems: string[] = [];
    let checked = 0;
    for (const file of markdownFiles()) {
      for (const [n, block] of yamlBlocks(readFileSync(path.join(REPO, file), 'utf8')).entries()) {
        let docs: unknown[];
        try {
          docs = YAML.parseAllDocuments(block).map((doc) => doc.toJS() as unknown);
        } catch (error) {
          // A block that names the Task must parse: an example a user cannot paste is a broken one.
          if (/taskRef/.test(block)) problems.push(`${file} block ${n + 1}: not YAML: ${String(error)}`);
          continue;
        }
        for (const use of taskUses(docs)) {
          checked++;
          problems.push(...paramProblems(use, declared[use.taskRef.name]!).map((p) => `${file} block ${n + 1}: ${p}`));
        }
      }
    }
    assert.deepEqual(problems, []);
    // The README's quickstart and the cache and registry docs have such examples at least.
    assert.ok(checked >= 3, `only ${checked} examples found`);
  });

  test('a JSON string passed to an array param is reported, naming the param and the type', () => {
    const use = { taskRef: { name: 'buildkit-build' }, params: [{ name: 'TAGS', value: '["v1"]' }] };
    assert.deepEqual(paramProblems(use, [{ name: 'TAGS', type: 'array' }]), [
      'TAGS: the Task declares type array, the example passes string "[\\"v1\\"]"',
    ]);
    assert.deepEqual(
      paramProblems({ ...use, params: [{ name: 'TAGS', value: ['v1'] }] }, [{ name: 'TAGS', type: 'array' }]),
      [],
    );
  });
});
