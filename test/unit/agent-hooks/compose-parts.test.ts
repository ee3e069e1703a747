// The compose module's pure parts: payload validation, bundle settings, engine output parsers,
// container health evaluation and the preflight verdict.
import { describe, expect, it } from 'vitest';
import { parseBundleSettings, validateComposePayload } from '../../../agent-hooks/compose/bundle.js';
import {
  parseInspect,
  parseSaveManifest,
  parseServices,
  type ContainerState,
  type ServiceInfo,
} from '../../../agent-hooks/compose/engine.js';
import { decidePreflight, type PreflightFacts } from '../../../agent-hooks/compose/module.js';
import { evaluateContainers } from '../../../agent-hooks/health/probes.js';
import { ComposeBundleSettings } from '../../../core/schemas/payload.js';

const index = (over: Record<string, unknown> = {}) => ({
  format: 1,
  type: 'vancore-compose',
  component: 'platform',
  version: '0.9.2',
  compose_file: 'docker-compose.yml',
  files: [
    { name: '0000-docker-compose.yml', path: 'docker-compose.yml', mode: '0644', size: 10 },
    { name: '0001-web.tar', path: 'images/web.tar', mode: '0600', size: 100 },
    { name: '0002-run.sh', path: 'hooks/run.sh', mode: '0755', size: 5 },
  ],
  images: ['images/web.tar'],
  ...over,
});
const present = [
  { name: '0000-docker-compose.yml', size: 10 },
  { name: '0001-web.tar', size: 100 },
  { name: '0002-run.sh', size: 5 },
  { name: 'vancore-index.json', size: 300 },
];

describe('validateComposePayload', () => {
  it('splits bundle files from image tarballs and takes the modes from the index', () => {
    const b = validateComposePayload(index(), { vancore: { component: 'platform', version: '0.9.2' } }, present);
    expect(b).toMatchObject({
      component: 'platform',
      version: '0.9.2',
      project: 'vancore-platform',
      composeFile: 'docker-compose.yml',
    });
    expect(b.files.map((f) => [f.path, f.mode])).toEqual([
      ['docker-compose.yml', 0o644],
      ['hooks/run.sh', 0o755],
    ]);
    expect(b.images.map((f) => f.path)).toEqual(['images/web.tar']);
  });

  it.each<[string, unknown, unknown, string]>([
    [
      'no compose_file',
      (() => {
        const i: Record<string, unknown> = index();
        delete i.compose_file;
        return i;
      })(),
      undefined,
      'bundle has no compose file',
    ],
    [
      'compose file not among the files',
      index({ compose_file: 'compose.yaml' }),
      undefined,
      "bundle has no compose file: 'compose.yaml' is not among its 3 files",
    ],
    [
      '.. in a path',
      index({ files: [{ name: 'a', path: '../a', mode: '0644', size: 1 }] }),
      undefined,
      'files[0].path: must be a relative path',
    ],
    [
      'absolute path',
      index({ files: [{ name: 'a', path: '/etc/a', mode: '0644', size: 1 }] }),
      undefined,
      'files[0].path: must be a relative path',
    ],
    ['unknown component', index({ component: 'kettle' }), undefined, "unknown component 'kettle'"],
    [
      'meta-data disagrees',
      index(),
      { vancore: { component: 'platform', version: '0.9.3' } },
      'meta-data says platform 0.9.3 but vancore-index.json says platform 0.9.2',
    ],
    [
      'image not among files',
      index({ images: ['images/other.tar'] }),
      undefined,
      "image tarball 'images/other.tar' is not among the bundle files",
    ],
    [
      'file and directory at once',
      index({ files: [...(index().files as object[]), { name: '0003-x', path: 'hooks', mode: '0644', size: 1 }] }),
      undefined,
      "bundle path 'hooks' is both a file and a directory",
    ],
    ['a payload file missing', index(), undefined, "payload file '0001-web.tar' is missing"],
    [
      'a wrong size',
      index({
        files: [{ name: '0000-docker-compose.yml', path: 'docker-compose.yml', mode: '0644', size: 11 }],
        images: [],
      }),
      undefined,
      'has 10 bytes, the index says 11',
    ],
  ])('rejects %s', (what, raw, meta, message) => {
    const files = what === 'a payload file missing' ? present.filter((p) => p.name !== '0001-web.tar') : present;
    expect(() => validateComposePayload(raw, meta, files)).toThrow(message);
  });
});

describe('parseBundleSettings', () => {
  it('defaults everything when x-vancore is absent', () => {
    expect(parseBundleSettings('services: {}\n', 'c.yml')).toEqual(ComposeBundleSettings.parse({}));
  });
  it.each([
    ['x-vancore:\n  migrate: {service: migrate}\n', (s: ComposeBundleSettings) => s.migrate?.timeout_seconds === 600],
    [
      'x-vancore:\n  health: {timeout_seconds: 30, http: [{url: "http://127.0.0.1:8123/health"}]}\n',
      (s: ComposeBundleSettings) => s.health.http[0]?.expect_status === 200,
    ],
  ])('reads %j', (text, check) => {
    expect(check(parseBundleSettings(text, 'c.yml'))).toBe(true);
  });
  it.each([
    ['x-vancore:\n  helth: {}\n', 'invalid x-vancore in c.yml: (root): unknown key: helth'],
    ['x-vancore:\n  hooks: {backup: {path: ../x.sh}}\n', 'hooks.backup.path: must be a relative path'],
    ['[1, 2]\n', 'is not a compose file'],
    ['a: [\n', 'is not YAML'],
  ])('rejects %j', (text, message) => {
    expect(() => parseBundleSettings(text, 'c.yml')).toThrow(message);
  });
});

describe('engine output parsers', () => {
  it('parseServices: profiles, healthchecks (incl. disabled), images', () => {
    const services = parseServices(
      'services:\n  web: {image: a:1, healthcheck: {test: [CMD, "true"]}}\n  db: {image: b:2, healthcheck: {disable: true}}\n  migrate: {image: a:1, profiles: [migrate]}\n  bare:\n',
    );
    expect(services).toEqual([
      { name: 'web', image: 'a:1', profiles: [], hasHealthcheck: true },
      { name: 'db', image: 'b:2', profiles: [], hasHealthcheck: false },
      { name: 'migrate', image: 'a:1', profiles: ['migrate'], hasHealthcheck: false },
      { name: 'bare', profiles: [], hasHealthcheck: false },
    ]);
    expect(parseServices('a: [')).toEqual([]);
  });

  it('parseSaveManifest reads RepoTags and tolerates anything else', () => {
    expect(parseSaveManifest('[{"RepoTags":["a:1","b:2"]},{"RepoTags":null}]')).toEqual(['a:1', 'b:2']);
    expect(parseSaveManifest('not json')).toEqual([]);
    expect(parseSaveManifest('{}')).toEqual([]);
  });

  it('parseInspect maps compose labels and health', () => {
    const text = JSON.stringify([
      {
        Name: '/vancore-platform_web_1',
        Image: 'sha256:aaa',
        State: { Status: 'running', ExitCode: 0, Health: { Status: 'healthy' } },
        Config: {
          Image: 'vc-web:stable',
          Labels: { 'com.docker.compose.service': 'web', 'com.docker.compose.oneoff': 'False' },
        },
      },
      {
        Name: '/x',
        State: { Status: 'exited', ExitCode: 3 },
        Config: { Labels: { 'com.docker.compose.oneoff': 'True' } },
      },
    ]);
    expect(parseInspect(text)).toEqual([
      {
        name: 'vancore-platform_web_1',
        service: 'web',
        oneoff: false,
        status: 'running',
        exitCode: 0,
        health: 'healthy',
        image: 'vc-web:stable',
        imageId: 'sha256:aaa',
      },
      {
        name: 'x',
        service: undefined,
        oneoff: true,
        status: 'exited',
        exitCode: 3,
        health: null,
        image: '',
        imageId: '',
      },
    ]);
    expect(parseInspect('garbage')).toEqual([]);
  });
});

const svc = (name: string, over: Partial<ServiceInfo> = {}): ServiceInfo => ({
  name,
  profiles: [],
  hasHealthcheck: true,
  ...over,
});
const ctr = (service: string, over: Partial<ContainerState> = {}): ContainerState => ({
  name: `p_${service}_1`,
  service,
  oneoff: false,
  status: 'running',
  exitCode: 0,
  health: 'healthy',
  image: 'i',
  imageId: 'sha256:i',
  ...over,
});

describe('evaluateContainers', () => {
  it.each<[string, ServiceInfo[], ContainerState[], 'ok' | 'waiting' | 'failed', string]>([
    [
      'all healthy',
      [svc('web'), svc('db')],
      [ctr('web'), ctr('db')],
      'ok',
      '2/2 services up (web healthy, db healthy)',
    ],
    [
      'running without a healthcheck',
      [svc('web')],
      [ctr('web', { health: null })],
      'ok',
      '1/1 services up (web running)',
    ],
    ['health still starting', [svc('web')], [ctr('web', { health: 'starting' })], 'waiting', 'web: health starting'],
    ['no container yet', [svc('web')], [], 'waiting', 'web: no container'],
    [
      'restarting (crash loop)',
      [svc('web')],
      [ctr('web', { status: 'restarting', health: null })],
      'waiting',
      'web: restarting',
    ],
    [
      'unhealthy fails at once',
      [svc('web'), svc('db')],
      [ctr('web', { health: 'unhealthy' }), ctr('db', { health: 'starting' })],
      'failed',
      'web: unhealthy',
    ],
    [
      'exited non-zero fails',
      [svc('web')],
      [ctr('web', { status: 'exited', exitCode: 137, health: null })],
      'failed',
      'web: exited 137',
    ],
    [
      'an init service that completed is fine',
      [svc('init')],
      [ctr('init', { status: 'exited', exitCode: 0, health: null })],
      'ok',
      'init completed',
    ],
    [
      'profiled and ignored services are not expected',
      [svc('web'), svc('migrate', { profiles: ['m'] }), svc('seed')],
      [ctr('web')],
      'ok',
      '1/1',
    ],
    [
      'one-off run containers do not count',
      [svc('web')],
      [ctr('web', { oneoff: true })],
      'waiting',
      'web: no container',
    ],
  ])('%s', (_what, services, containers, state, detail) => {
    const p = evaluateContainers(services, containers, ['seed']);
    expect(p.state).toBe(state);
    expect(p.detail).toContain(detail);
  });
});

const preflight = (over: Partial<PreflightFacts> = {}): PreflightFacts => ({
  engine: { ok: true, version: '20.10.24' },
  compose: { ok: true, command: 'docker-compose' },
  services: { ok: true, list: [svc('web', { image: 'a:1' })] },
  settings: { ok: true, value: ComposeBundleSettings.parse({}) },
  bundlePaths: ['docker-compose.yml'],
  freeBytes: 10 * 1024 ** 3,
  neededBytes: 1024 ** 3,
  images: [{ ref: 'a:1', present: true, inTarball: false }],
  ...over,
});

describe('decidePreflight', () => {
  it('passes a sound bundle', () => {
    expect(decidePreflight(preflight())).toEqual([]);
  });
  it.each<[string, Partial<PreflightFacts>, string]>([
    [
      'engine down',
      { engine: { ok: false, error: 'container engine unreachable: exit 1' } },
      'container engine unreachable',
    ],
    [
      'no compose',
      { compose: { ok: false, error: 'neither `docker compose` nor `docker-compose`' } },
      'docker-compose',
    ],
    ['disk full', { freeBytes: 100 * 1024 ** 2 }, 'not enough disk space: 100 MiB free, 1024 MiB needed'],
    ['a build-only service', { services: { ok: true, list: [svc('web')] } }, 'service web has no image'],
    [
      'a missing image',
      { images: [{ ref: 'a:1', present: false, inTarball: false }] },
      'image a:1 is neither on the van nor in the bundle',
    ],
    [
      'a migration service that does not exist',
      { settings: { ok: true, value: ComposeBundleSettings.parse({ migrate: { service: 'migrate' } }) } },
      'migration service migrate is not in the compose file',
    ],
    [
      'a hook script that is not in the bundle',
      { settings: { ok: true, value: ComposeBundleSettings.parse({ hooks: { backup: { path: 'hooks/b.sh' } } }) } },
      'script hooks/b.sh named in x-vancore is not in the bundle',
    ],
  ])('stops on %s', (_what, over, problem) => {
    expect(decidePreflight(preflight(over)).join('; ')).toContain(problem);
  });
});
