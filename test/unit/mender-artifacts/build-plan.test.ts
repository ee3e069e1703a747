import { describe, expect, it } from 'vitest';
import { ArtifactMetaData, Constraints } from '../../../core/schemas/artifact-meta.js';
import { PayloadIndex } from '../../../core/schemas/payload-index.js';
import type { BuildOptions } from '../../../mender-artifacts/build-options.js';
import {
  type BuildFacts,
  type PayloadFacts,
  type WritePaths,
  menderArtifactWriteArgs,
  planBuild,
  storedName,
} from '../../../mender-artifacts/build-plan.js';

const FP = 'ab'.repeat(32);

function options(over: Partial<BuildOptions> = {}): BuildOptions {
  return {
    payload: { type: 'compose', bundle: '/src/bundle' },
    component: 'platform',
    version: '0.9.2',
    deviceTypes: ['vanpc'],
    constraintsFile: null,
    validation: { window_seconds: 300, require_cloud: true },
    requires: { platform: '>=0.9.0' },
    revertOf: null,
    base: null,
    compression: 'lzma',
    signKey: null,
    out: '/out',
    scriptsDir: null,
    gateScripts: true,
    ...over,
  };
}

const compose: PayloadFacts = {
  type: 'compose',
  composeFile: 'docker-compose.yml',
  images: ['images/app.tar'],
  files: [
    { path: '.env', abs: '/src/bundle/.env', size: 10, mode: 0o644 },
    { path: 'docker-compose.yml', abs: '/src/bundle/docker-compose.yml', size: 40, mode: 0o644 },
    { path: 'images/app.tar', abs: '/src/bundle/images/app.tar', size: 1000, mode: 0o600 },
  ],
  saved: [],
};

function facts(over: Partial<BuildFacts> = {}): BuildFacts {
  return {
    options: options(),
    constraints: Constraints.parse({}),
    payload: compose,
    scripts: [
      { name: 'ArtifactInstall_Enter_50_vancore-gate', abs: '/g/ArtifactInstall_Enter_50_vancore-gate' },
      { name: 'ArtifactCommit_Enter_50_vancore-validate', abs: '/g/ArtifactCommit_Enter_50_vancore-validate' },
    ],
    signing: null,
    base: null,
    menderArtifactVersion: '3.9.0+ds1-1+b5',
    now: new Date('2026-11-22T10:00:00.123Z'),
    ...over,
  };
}

const paths: WritePaths = {
  stageDir: '/w/payload',
  metaDataFile: '/w/meta-data.json',
  keyFile: null,
  output: '/w/a.mender',
};

describe('planBuild', () => {
  it('plans a compose artifact: name, provides, meta-data (defaults filled), index, staging', () => {
    const plan = planBuild(facts());
    expect(plan.name).toBe('vancore-platform-0.9.2');
    expect(plan.artifactFile).toBe('vancore-platform-0.9.2.mender');
    expect(plan.manifestFile).toBe('vancore-platform-0.9.2.manifest.json');
    expect(plan.provides).toEqual({ artifact_name: 'vancore-platform-0.9.2', 'vancore.platform.version': '0.9.2' });
    expect(plan.clearsProvides).toEqual(['vancore.platform.*']);
    expect(plan.metaData).toEqual({
      vancore: {
        component: 'platform',
        version: '0.9.2',
        requires: { platform: '>=0.9.0' },
        constraints: {
          must_be_stationary: true,
          stationary_minutes: 3,
          min_signal_quality: 0.6,
          min_battery_soc: 30,
          shore_power_overrides_battery: true,
          maintenance_window: null,
        },
        validation: { window_seconds: 300, require_cloud: true },
      },
    });
    expect(plan.index).toEqual({
      format: 1,
      type: 'vancore-compose',
      component: 'platform',
      version: '0.9.2',
      compose_file: 'docker-compose.yml',
      files: [
        { name: '0000-.env', path: '.env', mode: '0644', size: 10 },
        { name: '0001-docker-compose.yml', path: 'docker-compose.yml', mode: '0644', size: 40 },
        { name: '0002-app.tar', path: 'images/app.tar', mode: '0600', size: 1000 },
      ],
      images: ['images/app.tar'],
    });
    expect(PayloadIndex.parse(plan.index)).toEqual(plan.index);
    expect(plan.staged.map((s) => [s.name, s.kind])).toEqual([
      ['vancore-index.json', 'text'],
      ['0000-.env', 'link'],
      ['0001-docker-compose.yml', 'link'],
      ['0002-app.tar', 'link'],
    ]);
    expect(plan.manifest).toMatchObject({
      name: 'vancore-platform-0.9.2',
      type: 'vancore-compose',
      depends: { device_type: ['vanpc'] },
      scripts: ['ArtifactCommit_Enter_50_vancore-validate', 'ArtifactInstall_Enter_50_vancore-gate'],
      signed_by: null,
      built_at: '2026-11-22T10:00:00Z',
      payload: { files: 4 },
    });
  });

  it('plans a config artifact: each file with its destination', () => {
    const plan = planBuild(
      facts({
        options: options({
          component: 'config',
          version: '1.0.0',
          payload: { type: 'config', files: [] },
          requires: {},
        }),
        payload: {
          type: 'config',
          files: [
            { abs: '/src/ota.yaml', size: 5, mode: 0o640, dest: '/etc/vancore/ota.yaml' },
            { abs: '/src/other/ota.yaml', size: 6, mode: 0o644, dest: '/etc/vancore/conf.d/ota.yaml' },
          ],
        },
      }),
    );
    expect(plan.index).toMatchObject({
      type: 'vancore-config',
      files: [
        { name: '0000-ota.yaml', dest: '/etc/vancore/ota.yaml', mode: '0640', size: 5 },
        { name: '0001-ota.yaml', dest: '/etc/vancore/conf.d/ota.yaml', mode: '0644', size: 6 },
      ],
    });
  });

  it('plans a vpn artifact: the key is a staged secret, never in the index, meta-data or manifest', () => {
    const plan = planBuild(
      facts({
        options: options({ component: 'vpn', version: '1.0.0', requires: {} }),
        payload: {
          type: 'vpn',
          step: 'add',
          loginServer: 'https://hs.example.com',
          authkey: { abs: '/secrets/authkey', size: 48, mode: 0o600 },
        },
      }),
    );
    expect(plan.index).toMatchObject({ step: 'add', login_server: 'https://hs.example.com', authkey: 'authkey' });
    expect(plan.staged).toContainEqual({ name: 'authkey', kind: 'secret', source: '/secrets/authkey' });
    expect(JSON.stringify([plan.index, plan.metaData, plan.manifest])).not.toContain('/secrets');
    // The step is also in the meta-data (the bridge checks it without the payload) and the manifest.
    expect(plan.metaData.vancore.vpn).toEqual({ step: 'add' });
    expect(ArtifactMetaData.parse(plan.metaData).vancore.vpn).toEqual({ step: 'add' });
    expect(plan.manifest.vpn_step).toBe('add');
  });

  it('records no vpn step for other payloads', () => {
    const plan = planBuild(facts({}));
    expect(plan.metaData.vancore).not.toHaveProperty('vpn');
    expect(plan.manifest).not.toHaveProperty('vpn_step');
  });

  it('plans a revert artifact: its own name, vancore.revert_of in meta-data and manifest', () => {
    const plan = planBuild(facts({ options: options({ version: '0.9.1', revertOf: '0.9.2' }) }));
    expect(plan.name).toBe('vancore-platform-0.9.1-revert-0.9.2');
    expect(plan.artifactFile).toBe('vancore-platform-0.9.1-revert-0.9.2.mender');
    expect(plan.provides).toEqual({
      artifact_name: 'vancore-platform-0.9.1-revert-0.9.2',
      'vancore.platform.version': '0.9.1',
    });
    expect(plan.metaData.vancore).toMatchObject({ version: '0.9.1', revert_of: '0.9.2' });
    expect(ArtifactMetaData.parse(JSON.parse(JSON.stringify(plan.metaData))).vancore.revert_of).toBe('0.9.2');
    expect(plan.manifest).toMatchObject({ name: 'vancore-platform-0.9.1-revert-0.9.2', revert_of: '0.9.2' });
  });

  it('writes no revert_of in an ordinary build', () => {
    const plan = planBuild(facts({}));
    expect(plan.metaData.vancore).not.toHaveProperty('revert_of');
    expect(plan.manifest).not.toHaveProperty('revert_of');
  });

  it('records the signing key by fingerprint only', () => {
    const plan = planBuild(facts({ signing: { algorithm: 'ecdsa-p256', bits: 256, fingerprint: FP } }));
    expect(plan.manifest.signed_by).toEqual({ algorithm: 'ecdsa-p256', bits: 256, fingerprint: FP });
  });
});

describe('meta-data vancore.vpn (core/schemas/artifact-meta.ts)', () => {
  const base = { component: 'vpn', version: '1.0.0' };
  it('keeps older vpn artifacts without a step readable', () => {
    expect(ArtifactMetaData.parse({ vancore: base }).vancore.vpn).toBeUndefined();
  });
  it.each([
    [{ step: 'rollback' }, /vpn\.step/],
    [{ step: 'add', authkey: 'x' }, /vpn/],
  ])('refuses %j', (vpn, path) => {
    const r = ArtifactMetaData.safeParse({ vancore: { ...base, vpn } });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.')).join(' ')).toMatch(path);
  });
});

describe('meta-data vancore.revert_of (core/schemas/artifact-meta.ts)', () => {
  const base = { component: 'config', version: '1.0.0' };
  it('is optional', () => {
    expect(ArtifactMetaData.parse({ vancore: base }).vancore.revert_of).toBeUndefined();
  });
  it.each(['2', 'v2.0.0', '', 2])('refuses revert_of %j', (revert_of) => {
    const r = ArtifactMetaData.safeParse({ vancore: { ...base, revert_of } });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.')).join(' ')).toMatch(/revert_of/);
  });
});

describe('menderArtifactWriteArgs', () => {
  const common = (type: string, name: string) => ['write', 'module-image', '--type', type, '--artifact-name', name];

  it.each<[string, BuildFacts, WritePaths, string[]]>([
    [
      'compose, two device types, scripts, signed',
      facts({ options: options({ deviceTypes: ['vanpc', 'vanpc-v2'] }) }),
      { ...paths, keyFile: '/k/key.pem' },
      [
        ...common('vancore-compose', 'vancore-platform-0.9.2'),
        '--device-type',
        'vanpc',
        '--device-type',
        'vanpc-v2',
        '--software-filesystem',
        'vancore',
        '--software-name',
        'platform',
        '--software-version',
        '0.9.2',
        '--meta-data',
        '/w/meta-data.json',
        '--file',
        '/w/payload/vancore-index.json',
        '--file',
        '/w/payload/0000-.env',
        '--file',
        '/w/payload/0001-docker-compose.yml',
        '--file',
        '/w/payload/0002-app.tar',
        '--script',
        '/g/ArtifactCommit_Enter_50_vancore-validate',
        '--script',
        '/g/ArtifactInstall_Enter_50_vancore-gate',
        '--key',
        '/k/key.pem',
        '--compression',
        'lzma',
        '--output-path',
        '/w/a.mender',
      ],
    ],
    [
      'vpn retire step, no scripts, unsigned',
      facts({
        options: options({ component: 'vpn', version: '2.0.0-rc.1', requires: {} }),
        payload: { type: 'vpn', step: 'retire', loginServer: 'https://hs.example.com', authkey: null },
        scripts: [],
      }),
      paths,
      [
        ...common('vancore-vpn', 'vancore-vpn-2.0.0-rc.1'),
        '--device-type',
        'vanpc',
        '--software-filesystem',
        'vancore',
        '--software-name',
        'vpn',
        '--software-version',
        '2.0.0-rc.1',
        '--meta-data',
        '/w/meta-data.json',
        '--file',
        '/w/payload/vancore-index.json',
        '--compression',
        'lzma',
        '--output-path',
        '/w/a.mender',
      ],
    ],
  ])('%s', (_name, f, p, want) => {
    expect(menderArtifactWriteArgs(planBuild(f), p)).toEqual(want);
  });
});

describe('storedName', () => {
  it.each([
    [0, 'docker-compose.yml', '0000-docker-compose.yml'],
    [12, 'images/my app (1).tar', '0012-my_app__1_.tar'],
    [3, '/etc/vancore/ota.yaml', '0003-ota.yaml'],
    [4, `${'x'.repeat(200)}.tar`, `0004-${'x'.repeat(76)}.tar`],
  ])('%i %s → %s', (i, path, want) => {
    expect(storedName(i, path)).toBe(want);
  });
});
