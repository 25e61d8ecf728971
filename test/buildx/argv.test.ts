// The whole buildx argv for named configurations, compared in full.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildArgv, createBuilderArgv, csv, type BuildInputs } from '../../src/buildx/argv.js';
import { resolveConfig, type Params } from '../../src/config.js';

const base: Params = { image: 'registry.example.com/team/app', tags: ['v1'], context: '.', dockerfile: 'Dockerfile', endpoint: 'unix:///run/buildkit/buildkitd.sock', daemon_timeout: 120 };
const place = { cwd: '/workspace/source', tmpDir: '/tmp' };
const plain: BuildInputs = { buildArgs: [], progress: 'plain' };

describe('buildArgv', () => {
  const cases: Array<{ name: string; params: Partial<Params>; inputs?: Partial<BuildInputs>; argv: string[] }> = [
    {
      name: 'minimal: one tag, defaults for paths',
      params: {},
      argv: ['build', '--builder', 'buildkit-step', '--progress', 'plain', '--file', '/workspace/source/Dockerfile', '--tag', 'registry.example.com/team/app:v1', '--output', 'type=oci,dest=/tmp/image,tar=false', '--metadata-file', '/tmp/metadata.json', '/workspace/source'],
    },
    {
      name: 'everything of the core path',
      params: { tags: ['v1', 'latest'], context: 'app', dockerfile: 'build/Containerfile', target: 'runtime', oci_layout: '/out/layout', metadata_file: 'meta.json' },
      inputs: { buildArgs: [{ key: 'A', value: '1' }, { key: 'B', value: 'x=y, z\nnext' }], progress: 'auto' },
      argv: [
        'build', '--builder', 'buildkit-step', '--progress', 'auto',
        '--file', '/workspace/source/app/build/Containerfile',
        '--target', 'runtime',
        '--build-arg', 'A=1', '--build-arg', 'B=x=y, z\nnext',
        '--tag', 'registry.example.com/team/app:v1', '--tag', 'registry.example.com/team/app:latest',
        '--output', 'type=oci,dest=/out/layout,tar=false',
        '--metadata-file', '/workspace/source/meta.json',
        '/workspace/source/app',
      ],
    },
    {
      name: 'an absolute dockerfile stays put; a comma in the layout path is quoted for buildx CSV',
      params: { dockerfile: '/etc/Dockerfile', oci_layout: '/out/a,b' },
      argv: ['build', '--builder', 'buildkit-step', '--progress', 'plain', '--file', '/etc/Dockerfile', '--tag', 'registry.example.com/team/app:v1', '--output', 'type=oci,"dest=/out/a,b",tar=false', '--metadata-file', '/tmp/metadata.json', '/workspace/source'],
    },
  ];
  for (const { name, params, inputs, argv } of cases) {
    test(name, () => {
      assert.deepEqual(buildArgv(resolveConfig({ ...base, ...params }, place), { ...plain, ...inputs }), argv);
    });
  }
});

describe('createBuilderArgv', () => {
  test('remote driver, fixed node name so a second create replaces it', () => {
    assert.deepEqual(createBuilderArgv({ endpoint: 'tcp://buildkitd:1234' }), ['create', '--name', 'buildkit-step', '--node', 'buildkit-step0', '--driver', 'remote', 'tcp://buildkitd:1234']);
  });
});

describe('csv', () => {
  test('quotes fields with commas or quotes, doubling quotes', () => {
    assert.equal(csv({ a: '1', b: 'x,"y"' }), 'a=1,"b=x,""y"""');
  });
});
