import { describe, expect, it } from 'vitest';
import {
  compareRequest,
  decideAssignment,
  deploymentStatus,
  emptyStats,
  pickDeployment,
  statusFilter,
  type Stats,
} from '../../../mender-sim/deployment-logic.js';

const q = (...entries: [string, number, boolean][]) => entries.map(([id, seq, active]) => ({ id, seq, active }));

describe('pickDeployment (oldest active first, never older than the last finished)', () => {
  it.each([
    ['empty queue', q(), -1, undefined, 0],
    ['the oldest of several active', q(['a', 1, true], ['b', 2, true]), -1, 'a', 0],
    ['skips finished ones at the front', q(['a', 1, false], ['b', 2, true]), -1, 'b', 1],
    ['skips ones created before the last finished', q(['a', 1, true], ['b', 3, true]), 2, 'b', 1],
    ['equal seq to the last finished is not newer', q(['a', 2, true]), 2, undefined, 1],
    ['nothing eligible drops everything', q(['a', 1, false], ['b', 2, true]), 5, undefined, 2],
    ['a finished entry after the pick stays for later', q(['a', 1, true], ['b', 2, false]), -1, 'a', 0],
  ])('%s', (_name, queue, last, pick, drop) => {
    const r = pickDeployment(queue, last);
    expect(r.pick?.id).toBe(pick);
    expect(r.drop).toBe(drop);
  });
});

describe('decideAssignment (GUIDE §4.5)', () => {
  const arts = [
    { id: 'x86', name: 'app-2', deviceTypes: ['vanpc'] },
    { id: 'arm', name: 'app-2', deviceTypes: ['vanpi', 'vanpc'] },
  ];
  it.each([
    ['device type matches the first artifact', 'vanpc', 'app-1', false, { outcome: 'install', artifactId: 'x86' }],
    ['another artifact of the release fits', 'vanpi', 'app-1', false, { outcome: 'install', artifactId: 'arm' }],
    ['no artifact for the type', 'truck', 'app-1', false, { outcome: 'noartifact' }],
    ['same name installed', 'vanpc', 'app-2', false, { outcome: 'already-installed', artifactId: 'x86' }],
    [
      'force_installation overrides already-installed',
      'vanpc',
      'app-2',
      true,
      { outcome: 'install', artifactId: 'x86' },
    ],
    ['noartifact wins over already-installed', 'truck', 'app-2', false, { outcome: 'noartifact' }],
  ])('%s', (_n, deviceType, artifactName, force, want) => {
    expect(decideAssignment({ request: { deviceType, artifactName }, force, artifacts: arts })).toEqual(want);
  });
});

describe('compareRequest ([code] 409 on changed data mid-deployment)', () => {
  const a = { artifactName: 'v1', deviceType: 'vanpc' };
  it.each([
    [undefined, a, 'first'],
    [a, { ...a }, 'same'],
    [a, { ...a, artifactName: 'v2' }, 'conflict'],
    [a, { ...a, deviceType: 'other' }, 'conflict'],
  ] as const)('%j → %j is %s', (saved, now, want) => {
    expect(compareRequest(saved, now)).toBe(want);
  });
});

describe('deploymentStatus (GUIDE §4.3)', () => {
  const stats = (over: Partial<Stats>): Stats => ({ ...emptyStats(), ...over });
  it.each([
    ['nobody polled yet', false, 3, {}, 'pending'],
    ['a device joined but is still pending', false, 3, { pending: 1 }, 'pending'],
    ['a device is downloading', false, 3, { pending: 1, downloading: 1 }, 'inprogress'],
    ['a device finished, others not seen', false, 3, { success: 1 }, 'inprogress'],
    ['every target final', false, 3, { success: 1, failure: 1, noartifact: 1 }, 'finished'],
    [
      'already-installed and decommissioned count as final',
      false,
      2,
      { 'already-installed': 1, decommissioned: 1 },
      'finished',
    ],
    ['aborted with nobody seen', true, 3, {}, 'finished'],
    ['an offline device keeps it in progress', false, 3, { success: 2 }, 'inprogress'],
  ] as const)('%s', (_n, aborted, maxDevices, over, want) => {
    expect(deploymentStatus({ aborted, maxDevices, stats: stats(over) })).toBe(want);
  });
});

describe('statusFilter (devices/list?status=)', () => {
  it.each([
    ['failure', 'failure', true],
    ['failure', 'success', false],
    ['pause', 'pause_before_installing', true],
    ['active', 'downloading', true],
    ['active', 'success', false],
    ['finished', 'aborted', true],
    ['finished', 'rebooting', false],
  ] as const)('%s matches %s: %s', (filter, status, want) => {
    expect(statusFilter(filter)?.(status)).toBe(want);
  });

  it('rejects unknown values', () => {
    expect(statusFilter('bogus')).toBeUndefined();
  });
});
