// The install files in deploy/bridge/: the Kubernetes manifests validate against Kubernetes' OpenAPI
// schemas (kubernetes-models: validators generated with ajv from the upstream OpenAPI definitions), the
// compose file against the Compose spec (the real docker-compose), and every bridge.yaml they carry
// against the bridge's own config schema. Then what the brief asks of them, checked one by one.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { repoRoot } from '../../helpers/cli.js';

const execFileP = promisify(execFile);
const dir = join(repoRoot, 'deploy/bridge');

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const models: Record<string, new (d: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

async function docs(file: string): Promise<Doc[]> {
  return parseAllDocuments(await readFile(join(dir, 'k8s', file), 'utf8')).map((d) => d.toJS() as Doc);
}

/** Validate one manifest against its Kubernetes schema; the validator's message on failure. */
function validate(doc: Doc): string | undefined {
  const Model = models[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) return `no schema for ${doc.apiVersion} ${doc.kind}`;
  try {
    new Model(doc as never).validate();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('Kubernetes manifests (deploy/bridge/k8s)', () => {
  it('every document validates against the Kubernetes OpenAPI schema of its kind', async () => {
    const all = [...(await docs('bridge.yaml')), ...(await docs('secrets.example.yaml'))];
    expect(all.map((d) => d.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Secret',
      'Secret',
      'Service',
    ]);
    for (const d of all) expect(validate(d), `${d.kind} ${d.metadata.name}`).toBeUndefined();
  });

  it.each([
    ['replicas as a string', (d: Doc) => ((d.spec as { replicas: unknown }).replicas = 'two')],
    ['a probe port as an object', (d: Doc) => (probe(d).httpGet.port = { n: 8080 } as never)],
    ['a container without a name', (d: Doc) => delete (container(d) as { name?: string }).name],
  ])('the validator rejects a Deployment with %s', async (_what, breakIt) => {
    const d = (await docs('bridge.yaml')).find((x) => x.kind === 'Deployment')!;
    breakIt(d);
    expect(validate(d)).toBeTruthy();
  });

  it('the Deployment: ≥ 2 replicas, probes, resources, non-root read-only, Secret refs that exist', async () => {
    const all = await docs('bridge.yaml');
    const secrets = await docs('secrets.example.yaml');
    const dep = all.find((x) => x.kind === 'Deployment')!;
    const spec = dep.spec as DeploymentSpec;
    expect(spec.replicas).toBeGreaterThanOrEqual(2);
    const c = container(dep);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.resources.requests.memory).toBeTruthy();
    expect(c.resources.limits.memory).toBeTruthy();
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    // Secret references (env and volumes) name Secrets and keys the example defines.
    const defined = new Map(secrets.map((s) => [s.metadata.name, Object.keys(s.stringData as object)]));
    const refs = [
      ...c.env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [])),
      ...spec.template.spec.volumes.flatMap((v) =>
        v.secret ? v.secret.items.map((i) => ({ name: v.secret!.secretName, key: i.key })) : [],
      ),
    ];
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const r of refs) expect(defined.get(r.name), `${r.name}/${r.key}`).toContain(r.key);
    // The ConfigMap's bridge.yaml is a valid bridge config whose token file is where the Secret is mounted.
    const cm = all.find((x) => x.kind === 'ConfigMap')!;
    const config = BridgeConfig.parse(parseYaml((cm.data as Record<string, string>)['bridge.yaml']!));
    expect(config.database.url).toMatch(/^postgres:\/\/[^:@]+@/); // no password inline: PGPASSWORD
    const mount = c.volumeMounts.find((m) => m.name === 'mender-pat')!;
    expect(config.mender.token_file).toBe(`${mount.mountPath}/mender-pat`);
    expect(c.env.find((e) => e.name === 'PGPASSWORD')?.valueFrom?.secretKeyRef).toBeTruthy();
  });

  it('the Service and the PodDisruptionBudget select the Deployment pods; the Service reaches the http port', async () => {
    const all = await docs('bridge.yaml');
    const dep = all.find((x) => x.kind === 'Deployment')!;
    const labels = (dep.spec as DeploymentSpec).template.metadata.labels;
    const matches = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
    const svc = all.find((x) => x.kind === 'Service')!.spec as {
      selector: Record<string, string>;
      ports: { targetPort: string }[];
    };
    const pdb = all.find((x) => x.kind === 'PodDisruptionBudget')!.spec as {
      minAvailable: number;
      selector: { matchLabels: Record<string, string> };
    };
    expect(matches(svc.selector)).toBe(true);
    expect(matches(pdb.selector.matchLabels)).toBe(true);
    expect(pdb.minAvailable).toBeLessThan((dep.spec as DeploymentSpec).replicas);
    expect(container(dep).ports.map((p) => p.name)).toContain(svc.ports[0]!.targetPort);
  });
});

describe('compose (deploy/bridge/compose.yaml)', () => {
  it('is a valid Compose file (docker-compose config) and its bridge.yaml a valid bridge config', async () => {
    // Compose resolves the secret and env files: give it placeholders in a copy.
    const tmp = await mkdtemp(join(tmpdir(), 'vc-compose-'));
    try {
      await cp(dir, join(tmp, 'bridge'), { recursive: true, filter: (p) => !p.includes('/secrets/') });
      await writeFile(join(tmp, 'bridge/secrets/mender-pat'), 'pat');
      await writeFile(join(tmp, 'bridge/secrets/bridge-db.env'), 'PGPASSWORD=x\nPOSTGRES_PASSWORD=x\n');
      const { stdout } = await execFileP('docker-compose', ['-f', join(tmp, 'bridge/compose.yaml'), 'config'], {
        cwd: join(tmp, 'bridge'),
      });
      const resolved = parseYaml(stdout) as {
        services: Record<string, { read_only?: boolean; user?: string; secrets?: { source: string }[] }>;
      };
      expect(Object.keys(resolved.services).sort()).toEqual(['bridge', 'bridge-db']);
      expect(resolved.services.bridge!.read_only).toBe(true);
      expect(resolved.services.bridge!.user).toBe('10001:10001');
      expect(resolved.services.bridge!.secrets?.map((s) => s.source)).toEqual(['mender_pat']);
      const config = BridgeConfig.parse(parseYaml(await readFile(join(dir, 'bridge.compose.yaml'), 'utf8')));
      expect(config.mender.token_file).toBe('/run/secrets/mender_pat');
      expect(config.database.url).toMatch(/^postgres:\/\/vancore@bridge-db:5432\//);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('docker-compose rejects a broken copy (the check can fail)', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'vc-compose-'));
    try {
      const text = await readFile(join(dir, 'compose.yaml'), 'utf8');
      await writeFile(join(tmp, 'compose.yaml'), text.replace('read_only: true', 'read_only: [yes]'));
      await expect(execFileP('docker-compose', ['-f', join(tmp, 'compose.yaml'), 'config', '-q'])).rejects.toThrow(
        /read_only/,
      );
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

interface Container {
  name: string;
  ports: { name: string }[];
  env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts: { name: string; mountPath: string }[];
  livenessProbe: { httpGet: { path: string; port: unknown } };
  readinessProbe: { httpGet: { path: string; port: unknown } };
  resources: { requests: { memory?: string }; limits: { memory?: string } };
  securityContext: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
}
interface DeploymentSpec {
  replicas: number;
  template: {
    metadata: { labels: Record<string, string> };
    spec: {
      securityContext: { runAsNonRoot?: boolean };
      containers: Container[];
      volumes: { name: string; secret?: { secretName: string; items: { key: string }[] } }[];
    };
  };
}
const container = (d: Doc) => (d.spec as DeploymentSpec).template.spec.containers[0]!;
const probe = (d: Doc) => container(d).readinessProbe;

describe('heap settings (docs/deploy.md "Sizing")', () => {
  it('the image, the Kubernetes Deployment and compose give the bridge the same NODE_OPTIONS', async () => {
    const image = /ENV [^]*?NODE_OPTIONS="([^"]+)"/.exec(await readFile(join(dir, 'Dockerfile'), 'utf8'))?.[1];
    expect(image).toMatch(/--max-old-space-size=\d+/);
    const deployment = (await docs('bridge.yaml')).find((d) => d.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    const env = deployment.spec.template.spec.containers[0]!.env.find((e) => e.name === 'NODE_OPTIONS');
    expect(env?.value).toBe(image);
    const compose = parseYaml(await readFile(join(dir, 'compose.yaml'), 'utf8')) as {
      services: { bridge: { environment: Record<string, string> } };
    };
    expect(compose.services.bridge.environment.NODE_OPTIONS).toBe(`\${VANCORE_BRIDGE_NODE_OPTIONS:-${image}}`);
  });
});
