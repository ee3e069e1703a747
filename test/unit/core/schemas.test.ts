import { describe, expect, it } from 'vitest';
import { ArtifactMetaData, Constraints } from '../../../core/schemas/artifact-meta.js';
import { MaintenanceWindow } from '../../../core/schemas/common.js';
import { GateDecision, verdictOutcome } from '../../../core/schemas/gate.js';
import { Readings } from '../../../core/schemas/readings.js';
import { UpdatePlan } from '../../../core/schemas/update-plan.js';
import { parseWith } from '../../../core/validation.js';
import { VanError } from '../../../core/errors.js';
import { T0, metaDoc, readingsDoc } from '../../helpers/builders.js';
import { issuesOf } from '../../helpers/parse.js';
import { ReasonCodes } from '../../../core/reason-codes.js';

describe('Readings', () => {
  it('accepts the documented example (ARCHITECTURE.md)', () => {
    const r = Readings.parse(readingsDoc());
    expect(r.motion?.stationary_since).toBe('2026-11-22T09:55:00Z');
    expect(r.signal?.lte?.rsrp_dbm).toBe(-95);
    expect(r.power?.shore_power).toBe(false);
  });

  it('treats a missing section as unknown, and null stationary_since as moving', () => {
    const r = Readings.parse({ motion: { stationary_since: null, source: 'gnss', at: T0 } });
    expect(r.motion?.stationary_since).toBeNull();
    expect(r.signal).toBeUndefined();
  });

  it.each([
    ['quality above 1', { signal: { quality: 1.2, at: T0 } }, 'signal.quality: must be ≤ 1'],
    [
      'unknown motion source',
      { motion: { stationary_since: null, source: 'radar', at: T0 } },
      'motion.source: must be one of: "imu", "gnss", "home_assistant", "file"',
    ],
    [
      'timestamp without zone',
      { power: { battery_soc_pct: 50, shore_power: true, at: '2026-11-22 10:00' } },
      'power.at: must be an ISO 8601 UTC date-time such as 2026-11-22T10:00:00Z',
    ],
    [
      'SOC over 100',
      { power: { battery_soc_pct: 101, shore_power: null, at: T0 } },
      'power.battery_soc_pct: must be ≤ 100',
    ],
    ['missing at', { motion: { stationary_since: null, source: 'imu' } }, 'motion.at: is required (a string)'],
    [
      'RSRP as text',
      { signal: { quality: 0.5, lte: { rsrp_dbm: '-95', rsrq_db: -11 }, at: T0 } },
      'signal.lte.rsrp_dbm: must be a number, not a string',
    ],
  ])('rejects %s with a readable path: message', (_name, doc, line) => {
    expect(issuesOf(Readings, doc)).toContain(line);
  });
});

describe('Artifact meta-data (vancore)', () => {
  it('accepts the documented example and keeps other tools keys', () => {
    const m = ArtifactMetaData.parse({ ...metaDoc(), compose_project: 'vancore' });
    expect(m.vancore.constraints.min_signal_quality).toBe(0.6);
    expect(m.vancore.requires).toEqual({ platform: '>=0.9.0' });
    expect((m as Record<string, unknown>).compose_project).toBe('vancore');
  });

  it('fills the VanCore spec defaults when constraints and validation are absent', () => {
    const m = ArtifactMetaData.parse({ vancore: { component: 'app', version: '1.4.0' } });
    expect(m.vancore.constraints).toEqual({
      must_be_stationary: true,
      stationary_minutes: 3,
      min_signal_quality: 0.6,
      min_battery_soc: 30,
      shore_power_overrides_battery: true,
      maintenance_window: null,
    });
    expect(m.vancore.validation).toEqual({ window_seconds: 300, require_cloud: true });
    expect(m.vancore.requires).toEqual({});
  });

  it('accepts a maintenance window crossing midnight', () => {
    const m = ArtifactMetaData.parse(
      metaDoc(
        {},
        { maintenance_window: { days: ['sat', 'sun'], start: '22:00', end: '04:00', timezone: 'Europe/Berlin' } },
      ),
    );
    expect(m.vancore.constraints.maintenance_window?.days).toEqual(['sat', 'sun']);
  });

  it.each([
    ['no vancore key', { other: 1 }, 'vancore: is required (an object)'],
    ['a bad version', metaDoc({ version: 'v0.9' }), 'vancore.version: must be a semantic version such as 1.4.0'],
    [
      'a bad range',
      metaDoc({ requires: { platform: 'newest please' } }),
      'vancore.requires.platform: must be a version range such as >=0.9.0',
    ],
    [
      'an uppercase component',
      metaDoc({ component: 'Platform' }),
      'vancore.component: must be a component name: lowercase letters, digits and _ (max 32)',
    ],
    ['an unknown constraint', metaDoc({}, { max_speed_kmh: 5 }), 'vancore.constraints: unknown key: max_speed_kmh'],
    [
      'signal quality as percent',
      metaDoc({}, { min_signal_quality: 60 }),
      'vancore.constraints.min_signal_quality: must be ≤ 1',
    ],
    [
      'a bad window time',
      metaDoc({}, { maintenance_window: { start: '25:00', end: '04:00' } }),
      'vancore.constraints.maintenance_window.start: must be a time of day HH:MM (24 h)',
    ],
    [
      'an unknown time zone',
      metaDoc({}, { maintenance_window: { start: '01:00', end: '04:00', timezone: 'Mars/Olympus' } }),
      'vancore.constraints.maintenance_window.timezone: must be an IANA time zone such as Europe/Berlin, or "local"',
    ],
    [
      'a fractional window',
      metaDoc({ validation: { window_seconds: 1.5 } }),
      'vancore.validation.window_seconds: must be a whole number, not a fraction',
    ],
  ])('rejects %s', (_name, doc, line) => {
    expect(issuesOf(ArtifactMetaData, doc)).toContain(line);
  });

  it('parseWith gives one line with the first issue and a count of the rest', () => {
    const bad = metaDoc({ version: 'x' }, { min_battery_soc: 200 });
    let err: unknown;
    try {
      parseWith(ArtifactMetaData, bad, 'bad meta-data', 'META_DATA_INVALID');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VanError);
    const v = err as VanError;
    expect(v.code).toBe('META_DATA_INVALID');
    expect(v.message).not.toContain('\n');
    expect(v.message).toMatch(
      /^bad meta-data: vancore\.version: must be a semantic version such as 1\.4\.0 \(\+1 more: /,
    );
    expect(v.details).toHaveLength(2);
  });

  it('Constraints alone rejects negative stationary minutes', () => {
    expect(issuesOf(Constraints, { stationary_minutes: 0 })).toEqual(['stationary_minutes: must be ≥ 1']);
  });
});

describe('MaintenanceWindow', () => {
  it('defaults to every day in the van local zone', () => {
    expect(MaintenanceWindow.parse({ start: '01:00', end: '05:00' })).toEqual({
      days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
      start: '01:00',
      end: '05:00',
      timezone: 'local',
    });
  });
  it('rejects an empty day list and unknown days', () => {
    expect(issuesOf(MaintenanceWindow, { days: [], start: '01:00', end: '02:00' })).toEqual([
      'days: must have at least 1 item',
    ]);
    expect(issuesOf(MaintenanceWindow, { days: ['monday'], start: '01:00', end: '02:00' })[0]).toMatch(
      /^days\[0\]: must be one of: "mon"/,
    );
  });
});

describe('GateDecision', () => {
  const decision = {
    phase: 'Download_Enter',
    verdict: 'defer',
    state: 'deferred',
    exit_code: 1,
    reasons: [{ code: 'moving', message: 'van is moving (stationary for 0 of 3 min)' }],
    facts: { stationary_for_s: 0 },
    at: T0,
    since: '2026-11-22T07:00:00Z',
  };
  it('accepts a deferral record', () => {
    expect(GateDecision.parse(decision).reasons[0]?.code).toBe('moving');
  });
  it.each([
    ['an exit code Mender does not know', { ...decision, exit_code: 2 }, 'exit_code: does not match any allowed form'],
    [
      'a reason code outside the catalogue (core/reason-codes.ts)',
      { ...decision, reasons: [{ code: 'too fast', message: 'x' }] },
      `reasons[0].code: must be one of: ${ReasonCodes.map((c) => `"${c}"`).join(', ')}`,
    ],
    [
      'an unknown phase',
      { ...decision, phase: 'Sync_Enter' },
      'phase: must be one of: "Download_Enter", "Sync_Leave", "ArtifactInstall_Enter", "ArtifactCommit_Enter"',
    ],
  ])('rejects %s', (_n, doc, line) => {
    expect(issuesOf(GateDecision, doc)).toContain(line);
  });
  it('maps verdicts to exit codes 0/1/21 and support states in one table', () => {
    expect(verdictOutcome).toEqual({
      proceed: { exit_code: 0, state: 'open' },
      retry: { exit_code: 21, state: 'deferred' },
      defer: { exit_code: 1, state: 'deferred' },
      fail: { exit_code: 1, state: 'blocked' },
    });
  });
});

describe('UpdatePlan (VanCore GET /update-plan)', () => {
  const sha = 'a'.repeat(64);
  const plan = {
    update_required: true,
    target: { release: '2026.11-1', components: { platform: '0.9.2', app: '1.4.0' } },
    artifacts: [
      { name: 'vancore-platform-0.9.2', type: 'vancore-compose', url: 'https://mender.example/a/1', sha256: sha },
      { name: 'vancore-app-1.4.0', type: 'vancore-compose', url: 'https://mender.example/a/2', sha256: sha },
    ],
    constraints: { min_signal_quality: 0.7 },
  };
  it('accepts a plan and fills constraint defaults', () => {
    const p = UpdatePlan.parse(plan);
    expect(p.constraints.min_signal_quality).toBe(0.7);
    expect(p.constraints.min_battery_soc).toBe(30);
  });
  it('accepts "nothing to do"', () => {
    expect(UpdatePlan.parse({ update_required: false, target: null, artifacts: [] }).update_required).toBe(false);
  });
  it.each([
    [
      'a short sha256',
      { ...plan, artifacts: [{ ...plan.artifacts[0], sha256: 'abc' }] },
      'artifacts[0].sha256: must be 64 lowercase hex digits',
    ],
    [
      'an ftp url',
      { ...plan, artifacts: [{ ...plan.artifacts[0], url: 'ftp://x/y' }] },
      'artifacts[0].url: must be a URL',
    ],
    [
      'an unknown payload type',
      { ...plan, artifacts: [{ ...plan.artifacts[0], type: 'rootfs-image' }] },
      'artifacts[0].type: must be one of: "vancore-compose", "vancore-config", "vancore-vpn", "vancore-ha"',
    ],
    [
      'a required update without artifacts',
      { ...plan, artifacts: [] },
      '(root): an update that is required needs a target and at least one artifact',
    ],
    [
      'artifacts with nothing required',
      { ...plan, update_required: false },
      '(root): no artifacts may be listed when no update is required',
    ],
  ])('rejects %s', (_n, doc, line) => {
    expect(issuesOf(UpdatePlan, doc)).toContain(line);
  });
});
