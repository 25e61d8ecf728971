// The shipped BuildKit fleet: manifests valid against the Kubernetes API schema and consistent with
// each other, and certificates from make-certs.sh that a real buildkitd serves and the step's
// probe accepts under each replica's DNS name.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Service, type ISecret, type IService } from 'kubernetes-models/v1';
import { StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1';
import YAML from 'yaml';
import { probeDaemon } from '../../src/daemon/probe.js';
import { FLEET, fleetEndpoints, replicaHost, runDeploy } from '../../scripts/gen-deploy.js';
import { startBuildkitd } from '../bed/buildkitd.js';
import { freePort } from '../bed/registry.js';
import { findTools } from '../bed/tools.js';
import { REPO } from '../helpers.js';

/** The fleet file's documents, typed as what the first tests below check they are: a Service, then a StatefulSet. */
const documents = (): [IService, IStatefulSet] => {
  const [service, statefulSet] = YAML.parseAllDocuments(
    readFileSync(path.join(REPO, FLEET.dir, 'buildkitd-fleet.yaml'), 'utf8'),
  ).map((doc) => doc.toJS() as unknown);
  return [service as IService, statefulSet as IStatefulSet];
};

describe('deploy/buildkitd-fleet manifests', () => {
  test('match the generator (npm run gen-tasks leaves no diff)', () => {
    assert.deepEqual(runDeploy(REPO, { check: true }).changed, []);
  });

  test('valid against the Kubernetes API schema (kubernetes-models)', () => {
    const [service, statefulSet] = documents();
    assert.equal(service.kind, 'Service');
    assert.equal(statefulSet.kind, 'StatefulSet');
    new Service(service).validate();
    new StatefulSet(statefulSet).validate();
  });

  test('the schema check catches a broken copy', () => {
    const [, statefulSet] = documents();
    const port: { containerPort: unknown } = statefulSet.spec!.template.spec!.containers[0]!.ports![0]!;
    port.containerPort = 'tcp';
    assert.throws(() => new StatefulSet(statefulSet).validate(), /containerPort must be integer/);
  });

  test('consistent: headless Service of the StatefulSet, one port everywhere, a volume per replica, the server Secret mounted', () => {
    const [service, statefulSet] = documents();
    const set = statefulSet.spec!;
    const pod = set.template;
    const container = pod.spec!.containers[0]!;
    const args = container.args ?? [];
    assert.equal(service.spec?.clusterIP, 'None');
    assert.equal(set.serviceName, service.metadata?.name);
    assert.deepEqual(set.selector.matchLabels, pod.metadata?.labels);
    assert.deepEqual(service.spec?.selector, pod.metadata?.labels);
    assert.equal(service.spec?.ports?.[0]?.port, FLEET.port);
    assert.equal(container.ports?.[0]?.containerPort, FLEET.port);
    assert.ok(args.includes(`tcp://0.0.0.0:${FLEET.port}`));
    for (const flag of ['--tlscacert', '--tlscert', '--tlskey']) assert.ok(args.includes(flag), flag);
    const mounts = new Map((container.volumeMounts ?? []).map((mount) => [mount.name, mount.mountPath]));
    assert.equal(set.volumeClaimTemplates?.[0]?.metadata?.name, 'state');
    assert.ok(mounts.has('state'), 'the claim is mounted');
    const certs = pod.spec!.volumes?.find((volume) => volume.name === 'certs');
    assert.equal(certs?.secret?.secretName, FLEET.serverSecret);
    assert.ok(args.includes(`${mounts.get('certs')}/cert.pem`));
    assert.equal(container.securityContext?.runAsUser, 1000, 'rootless');
    assert.deepEqual(
      fleetEndpoints(),
      [0, 1, 2].map((n) => `tcp://${FLEET.name}-${n}.${FLEET.name}.${FLEET.namespace}.svc:${FLEET.port}`),
    );
  });
});

describe('deploy/buildkitd-fleet/make-certs.sh', () => {
  test("certificates for every replica name; a real buildkitd serves them and the step's probe accepts each name", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bks-fleet-certs-'));
    let daemon: Awaited<ReturnType<typeof startBuildkitd>> | undefined;
    try {
      execFileSync('bash', [path.join(REPO, FLEET.dir, 'make-certs.sh'), path.join(dir, 'out')], { stdio: 'pipe' });
      const out = path.join(dir, 'out');
      const text = execFileSync(
        'openssl',
        ['x509', '-in', path.join(out, 'server', 'cert.pem'), '-noout', '-ext', 'subjectAltName'],
        { encoding: 'utf8' },
      );
      for (let n = 0; n < FLEET.replicas; n++) assert.ok(text.includes(`DNS:${replicaHost(FLEET, n)}`), text);
      for (const name of [FLEET.serverSecret, FLEET.clientSecret]) {
        const secret = YAML.parse(readFileSync(path.join(out, `${name}.yaml`), 'utf8')) as ISecret;
        assert.equal(secret.metadata?.name, name);
        assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ['ca.pem', 'cert.pem', 'key.pem']);
      }
      const server = (file: string) => path.join(out, 'server', file);
      const client = (file: string) => readFileSync(path.join(out, 'client', file));
      daemon = await startBuildkitd(findTools(), {
        dir: path.join(dir, 'daemon'),
        tcpAddress: `tcp://127.0.0.1:${await freePort()}`,
        tls: {
          serverCa: server('ca.pem'),
          serverCert: server('cert.pem'),
          serverKey: server('key.pem'),
          client: {
            ca: client('ca.pem'),
            cert: client('cert.pem'),
            key: client('key.pem'),
            servername: replicaHost(FLEET, 0),
          },
        },
      });
      for (let n = 0; n < FLEET.replicas; n++) {
        const answer = await probeDaemon(
          daemon.endpoint,
          { ca: client('ca.pem'), cert: client('cert.pem'), key: client('key.pem'), servername: replicaHost(FLEET, n) },
          5000,
        );
        assert.equal(answer.ok, true, `${replicaHost(FLEET, n)}: ${JSON.stringify(answer)}`);
      }
      const wrong = await probeDaemon(
        daemon.endpoint,
        {
          ca: client('ca.pem'),
          cert: client('cert.pem'),
          key: client('key.pem'),
          servername: 'buildkitd-0.other.buildkit.svc',
        },
        5000,
      );
      assert.equal(wrong.ok, false, 'a name the certificate does not hold is refused');
    } finally {
      await daemon?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
