// The whole buildx argv for named configurations, compared in full.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildArgv,
  createBuilderArgv,
  createNodesArgv,
  csv,
  dockerfileCheckArgv,
  localExportArgv,
  type BuildInputs,
} from '../../src/buildx/argv.js';
import { resolveConfig, type Params } from '../../src/config.js';
import { StepError } from '../../src/errors.js';
import { rankEndpoints } from '../../src/fleet/route.js';
import { withDefaults } from '../params/fixture.js';

const base: Params = withDefaults({ image: 'registry.example.com/team/app', tags: ['v1'], provenance: 'min' });
const place = { cwd: '/workspace/source', tmpDir: '/tmp' };
const plain: BuildInputs = { buildArgs: [], secrets: [], ssh: [], progress: 'plain' };
const head = ['build', '--builder', 'buildkit-step', '--progress', 'plain'];
const tail = ['--metadata-file', '/tmp/metadata.json', '/workspace/source'];

describe('buildArgv', () => {
  const cases: Array<{ name: string; params: Partial<Params>; inputs?: Partial<BuildInputs>; argv: string[] }> = [
    {
      name: 'minimal: one tag, OCI layout in $TMPDIR, explicit provenance',
      params: {},
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'everything of the core path',
      params: {
        tags: ['v1', 'latest'],
        context: 'app',
        dockerfile: 'build/Containerfile',
        target: 'runtime',
        oci_layout: '/out/layout',
        metadata_file: 'meta.json',
      },
      inputs: {
        buildArgs: [
          { key: 'A', value: '1' },
          { key: 'B', value: 'x=y, z\nnext' },
        ],
        progress: 'auto',
      },
      argv: [
        'build',
        '--builder',
        'buildkit-step',
        '--progress',
        'auto',
        '--file',
        '/workspace/source/app/build/Containerfile',
        '--target',
        'runtime',
        '--build-arg',
        'A=1',
        '--build-arg',
        'B=x=y, z\nnext',
        '--tag',
        'registry.example.com/team/app:v1',
        '--tag',
        'registry.example.com/team/app:latest',
        '--provenance',
        'mode=min',
        '--output',
        'type=oci,dest=/out/layout,tar=false',
        '--metadata-file',
        '/workspace/source/meta.json',
        '/workspace/source/app',
      ],
    },
    {
      name: 'an absolute dockerfile stays put; a comma in the layout path is quoted for buildx CSV',
      params: { dockerfile: '/etc/Dockerfile', oci_layout: '/out/a,b' },
      argv: [
        ...head,
        '--file',
        '/etc/Dockerfile',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--output',
        'type=oci,"dest=/out/a,b",tar=false',
        ...tail,
      ],
    },
    {
      name: 'push only: no OCI layout unless asked for',
      params: { push: true, tags: ['v1', 'v2'] },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'registry.example.com/team/app:v1',
        '--tag',
        'registry.example.com/team/app:v2',
        '--provenance',
        'mode=min',
        '--output',
        'type=image,push=true',
        ...tail,
      ],
    },
    {
      name: 'push and an OCI tar from one build',
      params: { push: true, oci_layout: '/out/image.tar', oci_tar: true, provenance: 'none' },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'false',
        '--output',
        'type=image,push=true',
        '--output',
        'type=oci,dest=/out/image.tar,tar=true',
        ...tail,
      ],
    },
    {
      name: 'secrets and SSH come as files, never values',
      params: {},
      inputs: {
        secrets: [
          { id: 'npmrc', src: '/run/secrets/npmrc' },
          { id: 'token', src: '/tmp/private-1/secret-0' },
        ],
        ssh: [
          { id: 'default', paths: ['/ssh/id_ed25519'] },
          { id: 'deploy', paths: ['/a', '/b'] },
        ],
      },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--secret',
        'id=npmrc,src=/run/secrets/npmrc',
        '--secret',
        'id=token,src=/tmp/private-1/secret-0',
        '--ssh',
        'default=/ssh/id_ed25519',
        '--ssh',
        'deploy=/a,/b',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'registry cache: one shared key whatever the tags (export failures ignored by default), plus free-form specs',
      params: {
        tags: ['v1', 'main'],
        cache_repo: 'registry.example.com/team/cache',
        cache_from: ['type=local,src=/cache'],
        cache_to: ['type=local,dest=/cache,ignore-error=false'],
      },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'registry.example.com/team/app:v1',
        '--tag',
        'registry.example.com/team/app:main',
        '--provenance',
        'mode=min',
        '--cache-from',
        'type=registry,ref=registry.example.com/team/cache:buildcache',
        '--cache-from',
        'type=local,src=/cache',
        '--cache-to',
        'type=registry,ref=registry.example.com/team/cache:buildcache,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true',
        '--cache-to',
        'type=local,dest=/cache,ignore-error=false',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'plain-HTTP and unverified registries: registry.insecure on the push and on their registry caches only',
      params: {
        image: 'reg.internal:5000/team/app',
        push: true,
        cache_repo: 'reg.internal:5000/team/cache',
        cache_from: [
          'type=registry,ref=self-signed.example.com/c:main',
          'type=registry,ref=other.example.com/c:main',
          'type=local,src=/cache',
        ],
        cache_to: ['type=registry,ref=self-signed.example.com/c:main,registry.insecure=false'],
        registry_http: ['reg.internal:5000'],
        registry_insecure: ['self-signed.example.com'],
        registry_mirrors: { 'docker.io': ['mirror.example.com'] },
        http_proxy: 'http://proxy.example.com:3128',
      },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'reg.internal:5000/team/app:v1',
        '--provenance',
        'mode=min',
        '--cache-from',
        'type=registry,ref=reg.internal:5000/team/cache:buildcache,registry.insecure=true',
        '--cache-from',
        'type=registry,ref=self-signed.example.com/c:main,registry.insecure=true',
        '--cache-from',
        'type=registry,ref=other.example.com/c:main',
        '--cache-from',
        'type=local,src=/cache',
        '--cache-to',
        'type=registry,ref=reg.internal:5000/team/cache:buildcache,mode=max,image-manifest=true,oci-mediatypes=true,registry.insecure=true,ignore-error=true',
        '--cache-to',
        'type=registry,ref=self-signed.example.com/c:main,registry.insecure=false,ignore-error=true',
        '--output',
        'type=image,push=true,registry.insecure=true',
        ...tail,
      ],
    },
    {
      name: 'a Docker Hub image is not taken for a listed host',
      params: { image: 'team/app', push: true, registry_http: ['team'] },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'team/app:v1',
        '--provenance',
        'mode=min',
        '--output',
        'type=image,push=true',
        ...tail,
      ],
    },
    {
      name: 'a fatal cache export leaves the spec as given',
      params: { cache_repo: 'r.example.com/c', cache_export_fatal: true },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--cache-from',
        'type=registry,ref=r.example.com/c:buildcache',
        '--cache-to',
        'type=registry,ref=r.example.com/c:buildcache,mode=max,image-manifest=true,oci-mediatypes=true',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: "a branch as the key, fallbacks passed in order after it (made safe as tags, the key's duplicate dropped), export once to the key, mode=min",
      params: {
        cache_repo: 'r.example.com/c',
        cache_key: 'feature/login-form',
        cache_fallback_keys: ['release/2.x', 'main', 'feature/login-form'],
        cache_mode: 'min',
      },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--cache-from',
        'type=registry,ref=r.example.com/c:feature-login-form',
        '--cache-from',
        'type=registry,ref=r.example.com/c:release-2.x',
        '--cache-from',
        'type=registry,ref=r.example.com/c:main',
        '--cache-to',
        'type=registry,ref=r.example.com/c:feature-login-form,mode=min,image-manifest=true,oci-mediatypes=true,ignore-error=true',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'cache_write false: the key and fallbacks are read, nothing is exported (cache_to neither)',
      params: {
        cache_repo: 'r.example.com/c',
        cache_key: 'pr-42',
        cache_fallback_keys: ['main'],
        cache_write: false,
        cache_to: ['type=local,dest=/cache'],
      },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--cache-from',
        'type=registry,ref=r.example.com/c:pr-42',
        '--cache-from',
        'type=registry,ref=r.example.com/c:main',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'a target and one platform suffix every key, so targets and platforms keep their own cache',
      params: {
        cache_repo: 'r.example.com/c',
        target: 'test',
        platforms: ['linux/arm64/v8'],
        cache_fallback_keys: ['main'],
      },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--target',
        'test',
        '--platform',
        'linux/arm64/v8',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--cache-from',
        'type=registry,ref=r.example.com/c:buildcache-test-linux-arm64-v8',
        '--cache-from',
        'type=registry,ref=r.example.com/c:main-test-linux-arm64-v8',
        '--cache-to',
        'type=registry,ref=r.example.com/c:buildcache-test-linux-arm64-v8,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'several platforms share one cache: no platform suffix',
      params: { cache_repo: 'r.example.com/c', platforms: ['linux/amd64', 'linux/arm64'] },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--platform',
        'linux/amd64,linux/arm64',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--cache-from',
        'type=registry,ref=r.example.com/c:buildcache',
        '--cache-to',
        'type=registry,ref=r.example.com/c:buildcache,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'the old per-tag cache, by setting the key to the tag',
      params: { tags: ['3f2c1ab'], cache_repo: 'r.example.com/c', cache_key: '3f2c1ab' },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'registry.example.com/team/app:3f2c1ab',
        '--provenance',
        'mode=min',
        '--cache-from',
        'type=registry,ref=r.example.com/c:3f2c1ab',
        '--cache-to',
        'type=registry,ref=r.example.com/c:3f2c1ab,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'platforms, labels, annotations, attestations, no-cache, pull',
      params: {
        platforms: ['linux/amd64', 'linux/arm64'],
        labels: [{ key: 'org.opencontainers.image.source', value: 'https://git.example.com/app' }],
        annotations: [{ key: 'index:org.opencontainers.image.title', value: 'app' }],
        provenance: 'max',
        sbom: true,
        sbom_generator: 'registry.example.com/mirror/syft-scanner:1',
        no_cache: true,
        pull: true,
      },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--platform',
        'linux/amd64,linux/arm64',
        '--label',
        'org.opencontainers.image.source=https://git.example.com/app',
        '--annotation',
        'index:org.opencontainers.image.title=app',
        '--tag',
        'registry.example.com/team/app:v1',
        '--no-cache',
        '--pull',
        '--provenance',
        'mode=max',
        '--sbom',
        'generator=registry.example.com/mirror/syft-scanner:1',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'source_date_epoch: the build arg and timestamp rewriting on every output',
      params: { source_date_epoch: 1700000000, push: true, oci_layout: '/out' },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--build-arg',
        'SOURCE_DATE_EPOCH=1700000000',
        '--label',
        'org.opencontainers.image.created=2023-11-14T22:13:20Z',
        '--annotation',
        'org.opencontainers.image.created=2023-11-14T22:13:20Z',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--output',
        'type=image,push=true,rewrite-timestamp=true',
        '--output',
        'type=oci,dest=/out,tar=false,rewrite-timestamp=true',
        ...tail,
      ],
    },
    {
      name: 'VCS facts: source and revision labels and annotations; a label the user sets wins',
      params: {
        git_url: 'https://git.example.com/team/app.git',
        git_commit: 'a'.repeat(40),
        labels: [{ key: 'org.opencontainers.image.source', value: 'mine' }],
      },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--label',
        `org.opencontainers.image.revision=${'a'.repeat(40)}`,
        '--label',
        'org.opencontainers.image.source=mine',
        '--annotation',
        'org.opencontainers.image.source=https://git.example.com/team/app.git',
        '--annotation',
        `org.opencontainers.image.revision=${'a'.repeat(40)}`,
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'RUN options: named contexts (a relative dir made absolute, an image kept), network, hosts, entitlements, ulimits, shm',
      params: {
        build_contexts: [
          { key: 'shared', value: '../shared' },
          { key: 'base', value: 'docker-image://registry.example.com/base:1' },
          { key: 'layout', value: 'oci-layout:///l,a@sha256:' + 'b'.repeat(64) },
        ],
        network: 'host',
        allow: ['network.host', 'security.insecure'],
        add_hosts: ['db.internal=10.0.0.5', 'v6:fd00::1'],
        ulimits: ['nofile=1024:2048'],
        shm_size: '256m',
      },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--build-context',
        'shared=/workspace/shared',
        '--build-context',
        'base=docker-image://registry.example.com/base:1',
        '--build-context',
        `layout=oci-layout:///l,a@sha256:${'b'.repeat(64)}`,
        '--network',
        'host',
        '--add-host',
        'db.internal=10.0.0.5',
        '--add-host',
        'v6:fd00::1',
        '--allow',
        'network.host',
        '--allow',
        'security.insecure',
        '--ulimit',
        'nofile=1024:2048',
        '--shm-size',
        '256m',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--output',
        'type=oci,dest=/tmp/image,tar=false',
        ...tail,
      ],
    },
    {
      name: 'compression on both outputs; zstd makes the pushed image use OCI media types',
      params: { push: true, oci_layout: '/out', compression: 'zstd', compression_level: 12, force_compression: true },
      argv: [
        ...head,
        '--file',
        '/workspace/source/Dockerfile',
        '--tag',
        'registry.example.com/team/app:v1',
        '--provenance',
        'mode=min',
        '--output',
        'type=image,push=true,compression=zstd,compression-level=12,force-compression=true,oci-mediatypes=true',
        '--output',
        'type=oci,dest=/out,tar=false,compression=zstd,compression-level=12,force-compression=true',
        ...tail,
      ],
    },
  ];
  for (const { name, params, inputs, argv } of cases) {
    test(name, () => {
      assert.deepEqual(buildArgv(resolveConfig({ ...base, ...params }, place), { ...plain, ...inputs }), argv);
    });
  }
});

describe('localExportArgv and dockerfileCheckArgv', () => {
  const params: Partial<Params> = {
    push: true,
    target: 'app',
    labels: [{ key: 'l', value: 'v' }],
    cache_repo: 'registry.example.com/team/cache',
    network: 'none',
    local_export_dir: 'out',
    local_export_target: 'reports',
  };
  const inputs: BuildInputs = { ...plain, buildArgs: [{ key: 'A', value: '1' }], secrets: [{ id: 's', src: '/p/s' }] };
  test('the local export: the same inputs and RUN options, its own target, only the files as output, no attestations, no tags, no cache export', () => {
    const config = resolveConfig({ ...base, ...params }, place);
    assert.deepEqual(localExportArgv(config, inputs, config.localExport!.dir, config.localExport!.target), [
      ...head,
      '--file',
      '/workspace/source/Dockerfile',
      '--target',
      'reports',
      '--build-arg',
      'A=1',
      '--secret',
      'id=s,src=/p/s',
      '--network',
      'none',
      '--provenance',
      'false',
      '--cache-from',
      'type=registry,ref=registry.example.com/team/cache:buildcache-app',
      '--output',
      'type=local,dest=/workspace/source/out',
      '/workspace/source',
    ]);
  });
  test('without local_export_target the image target is exported', () => {
    assert.equal(
      resolveConfig({ ...base, ...params, local_export_target: undefined }, place).localExport?.target,
      'app',
    );
  });
  test('check mode: only what the rules read, and --call check', () => {
    const config = resolveConfig(
      { ...base, ...params, check: true, build_contexts: [{ key: 'c', value: '/c' }] },
      place,
    );
    assert.deepEqual(dockerfileCheckArgv(config, inputs), [
      ...head,
      '--file',
      '/workspace/source/Dockerfile',
      '--target',
      'app',
      '--build-arg',
      'A=1',
      '--build-context',
      'c=/c',
      '--call',
      'check',
      '/workspace/source',
    ]);
  });
});

describe('createBuilderArgv', () => {
  test('remote driver, fixed node name so a second create replaces it', () => {
    assert.deepEqual(createBuilderArgv({ endpoint: 'unix:///run/buildkit/buildkitd.sock', tlsServerName: undefined }), [
      'create',
      '--name',
      'buildkit-step',
      '--node',
      'buildkit-step0',
      '--driver',
      'remote',
      'unix:///run/buildkit/buildkitd.sock',
    ]);
  });
  test('TLS files and server name become driver options', () => {
    assert.deepEqual(
      createBuilderArgv(
        { endpoint: 'tcp://buildkitd.ci:1234', tlsServerName: 'buildkitd' },
        { ca: '/tls/ca.pem', cert: '/tls/cert.pem', key: '/tls/key.pem' },
      ),
      [
        'create',
        '--name',
        'buildkit-step',
        '--node',
        'buildkit-step0',
        '--driver',
        'remote',
        '--driver-opt',
        'cacert=/tls/ca.pem,cert=/tls/cert.pem,key=/tls/key.pem,servername=buildkitd',
        'tcp://buildkitd.ci:1234',
      ],
    );
  });
});

describe('createNodesArgv', () => {
  test('one endpoint: the one create of createBuilderArgv', () => {
    const config = resolveConfig(base, place);
    assert.deepEqual(createNodesArgv(config), [createBuilderArgv(config)]);
  });
  test("a node per platform: the first creates, the others append, each with its platform; platforms default to the map's", () => {
    const config = resolveConfig(
      { ...base, platform_endpoints: { 'linux/amd64': 'tcp://amd64.ci:1234', 'linux/arm64': 'tcp://arm64.ci:1234' } },
      place,
    );
    const tls = { ca: '/tls/ca.pem', cert: '/tls/cert.pem', key: '/tls/key.pem' };
    const opt = ['--driver-opt', 'cacert=/tls/ca.pem,cert=/tls/cert.pem,key=/tls/key.pem'];
    assert.deepEqual(createNodesArgv(config, tls), [
      [
        'create',
        '--name',
        'buildkit-step',
        '--node',
        'buildkit-step0',
        '--driver',
        'remote',
        '--platform',
        'linux/amd64',
        ...opt,
        'tcp://amd64.ci:1234',
      ],
      [
        'create',
        '--name',
        'buildkit-step',
        '--append',
        '--node',
        'buildkit-step1',
        '--driver',
        'remote',
        '--platform',
        'linux/arm64',
        ...opt,
        'tcp://arm64.ci:1234',
      ],
    ]);
    assert.equal(config.endpoint, 'tcp://amd64.ci:1234', "the first node is the builder's endpoint");
    assert.deepEqual(buildArgv(config, plain).slice(5, 9), [
      '--file',
      '/workspace/source/Dockerfile',
      '--platform',
      'linux/amd64,linux/arm64',
    ]);
  });
});

describe('a fleet in the config', () => {
  test("the builder is made for the routing key's first choice (the image by default)", () => {
    const endpoints = ['tcp://b-0.b.ci.svc:1234', 'tcp://b-1.b.ci.svc:1234', 'tcp://b-2.b.ci.svc:1234'];
    const config = resolveConfig({ ...base, endpoints }, place);
    assert.equal(config.endpoint, rankEndpoints(endpoints, base.image)[0]);
    assert.equal(
      resolveConfig({ ...base, endpoints, routing_key: 'team-a' }, place).endpoint,
      rankEndpoints(endpoints, 'team-a')[0],
    );
    assert.deepEqual(createNodesArgv(config), [
      ['create', '--name', 'buildkit-step', '--node', 'buildkit-step0', '--driver', 'remote', config.endpoint],
    ]);
  });
});

describe('csv', () => {
  test('quotes fields with commas or quotes, doubling quotes', () => {
    assert.equal(csv({ a: '1', b: 'x,"y"' }), 'a=1,"b=x,""y"""');
  });
});

describe('an argument over the execve limits names the params it came from', () => {
  const config = resolveConfig({ ...base, labels: [{ key: 'l', value: 'a\0b' }] }, place);
  const rejected: Array<{ name: string; argv: () => string[]; message: RegExp }> = [
    {
      name: 'a label holding a NUL: labels, and its key',
      argv: () => buildArgv(config, plain),
      message: /labels \(key l\): a value contains a NUL/,
    },
    {
      name: 'a build arg (as read from build_args_dir) over 128 KiB: build_args/build_args_dir, and its key',
      argv: () =>
        dockerfileCheckArgv(resolveConfig(base, place), {
          ...plain,
          buildArgs: [{ key: 'BIG', value: 'x'.repeat(200_000) }],
        }),
      message: /build_args\/build_args_dir \(key BIG\): one value makes a 200005-byte buildx argument/,
    },
  ];
  for (const { name, argv, message } of rejected) {
    test(name, () => {
      assert.throws(argv, (error: unknown) => error instanceof StepError && message.test(error.message));
    });
  }
});
