// The contracts the agent hooks own or consume, pinned to their documented examples
// (docs/contracts.md, docs/packaging.md): what packaging writes, the modules accept.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthReport } from '../../../core/schemas/health.js';
import { ConfigPayloadIndex, componentsOf, isConfigDestAllowed } from '../../../core/schemas/payload.js';
import { ComposeIndex } from '../../../core/schemas/payload-index.js';
import {
  InstalledVersions,
  LastUpdate,
  readLastUpdate,
  readVersions,
  setInstalledVersion,
} from '../../../core/versions.js';
import { validateComposePayload } from '../../../agent-hooks/compose/bundle.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-contracts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('payload layouts (docs/packaging.md examples)', () => {
  const compose = {
    format: 1,
    type: 'vancore-compose',
    component: 'platform',
    version: '0.9.2',
    compose_file: 'docker-compose.yml',
    files: [
      { name: '0000-.env', path: '.env', mode: '0644', size: 17 },
      { name: '0001-app.yaml', path: 'config/app.yaml', mode: '0640', size: 12 },
      { name: '0002-docker-compose.yml', path: 'docker-compose.yml', mode: '0644', size: 52 },
      { name: '0003-app.tar', path: 'images/app.tar', mode: '0644', size: 209715200 },
    ],
    images: ['images/app.tar'],
  };

  it('the compose example is a valid index and a valid bundle for vancore-compose', () => {
    ComposeIndex.parse(compose);
    const b = validateComposePayload(
      compose,
      undefined,
      compose.files.map((f) => ({ name: f.name, size: f.size })),
    );
    expect(b.files.map((f) => f.path)).toEqual(['.env', 'config/app.yaml', 'docker-compose.yml']);
  });

  it('the config example (no owner/group/restart) is accepted by vancore-config', () => {
    const config = {
      format: 1,
      type: 'vancore-config',
      component: 'config',
      version: '1.4.0',
      files: [{ name: '0000-ota.yaml', dest: '/etc/vancore/ota.yaml', mode: '0644', size: 40 }],
    };
    expect(ConfigPayloadIndex.parse(config).restart).toEqual([]);
    expect(isConfigDestAllowed('/etc/vancore/ota.yaml')).toBe(true);
    expect(isConfigDestAllowed('/etc/vancorex/a')).toBe(false);
    expect(isConfigDestAllowed('/etc/vancore')).toBe(false);
  });

  it('each module installs its own components only', () => {
    expect(componentsOf('vancore-compose')).toEqual(['platform', 'app']);
    expect(componentsOf('vancore-ha')).toEqual(['ha_addons']);
    expect(componentsOf('vancore-config')).toEqual(['config']);
  });
});

describe('versions.json and last-update.json (docs/contracts.md)', () => {
  it('pins the examples', () => {
    expect(InstalledVersions.parse({ config: '1.4.0', platform: '0.9.2' })).toEqual({
      config: '1.4.0',
      platform: '0.9.2',
    });
    LastUpdate.parse({
      status: 'rolled_back',
      component: 'platform',
      version: '0.9.3',
      artifact_name: 'vancore-platform-0.9.3',
      at: '2026-11-22T10:05:00Z',
      detail: 'not healthy: 0/1 services up; web: unhealthy',
    });
  });

  it('a reader skips bad entries and keeps the rest; a writer keeps the other components', async () => {
    const state = await mkdtemp(join(dir, 'state-'));
    await writeFile(join(state, 'versions.json'), '{"platform":"0.9.2","app":"v1","Bad":"1.0.0"}');
    const r = await readVersions(state);
    expect(r.value).toEqual({ platform: '0.9.2' });
    expect(r.problems).toHaveLength(2);
    await setInstalledVersion(state, 'config', '1.4.0');
    await setInstalledVersion(state, 'platform', null);
    expect(JSON.parse(await readFile(join(state, 'versions.json'), 'utf8'))).toEqual({
      Bad: '1.0.0',
      app: 'v1',
      config: '1.4.0',
    });
    expect(await readVersions(join(dir, 'absent'))).toEqual({ value: {}, problems: [] });
    await writeFile(join(state, 'last-update.json'), '[]');
    expect((await readLastUpdate(state)).value).toBeNull();
  });
});

describe('health report (docs/contracts.md)', () => {
  it('pins the example', () => {
    const r = HealthReport.parse({
      ok: false,
      at: '2026-11-22T10:05:00Z',
      checks: [
        {
          name: 'compose:platform',
          kind: 'container',
          component: 'platform',
          ok: false,
          detail: '0/1 services up; web: unhealthy',
          duration_ms: 41,
        },
        {
          name: 'vancore-ui',
          kind: 'http',
          ok: true,
          detail: 'http://127.0.0.1:8123/health: HTTP 200',
          duration_ms: 12,
        },
      ],
    });
    expect(r.checks).toHaveLength(2);
  });
});
