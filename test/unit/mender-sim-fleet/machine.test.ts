// The virtual device's decisions as a pure function: single transitions table-tested, and whole request
// sequences driven against a scripted server (the sequences of RECIPE §6.1 and GUIDE §6).
import { describe, expect, it } from 'vitest';
import {
  advance,
  initialState,
  type Action,
  type ArtifactFacts,
  type DeviceState,
  type OfferedDeployment,
  type StepInput,
  type Timing,
} from '../../../mender-sim/fleet/machine.js';
import type { Behaviour } from '../../../mender-sim/fleet/scenario.js';

const T: Timing = {
  pollIntervalMs: 1_000,
  inventoryIntervalMs: 60_000,
  retryIntervalMs: 500,
  stepDelayMs: 0,
  reauthBeforeCommit: true,
  statusAttempts: 3,
};
const BASE = { artifactName: 'vancore-factory-0.9.0', versions: { platform: '0.9.0', app: '1.3.0' } };
const DEP: OfferedDeployment = { id: 'dep-1', artifactName: 'vancore-app-1.4.0', uri: 'http://s/a.mender' };
const FACTS: ArtifactFacts = {
  name: 'vancore-app-1.4.0',
  versions: { app: '1.4.0' },
  provides: { artifact_name: 'vancore-app-1.4.0', 'vancore.app.version': '1.4.0' },
};
const ok: Behaviour = { outcome: 'success' };

const label = (a: Action) =>
  a.kind === 'status' ? `status:${a.status}` : a.kind === 'inventory' ? `inventory:${a.method}` : a.kind;
const reply = (status: number, extra: Partial<Extract<StepInput, { kind: 'reply' }>> = {}): StepInput => ({
  kind: 'reply',
  status,
  ...extra,
});

/** A device at `action`, otherwise fresh (booted, idle). */
function at(action: Action, patch: Partial<DeviceState> = {}): DeviceState {
  return {
    ...initialState(ok, BASE, 0),
    booted: true,
    activity: 'idle',
    inventoryDue: false,
    nextInventoryAt: 60_000,
    action,
    ...patch,
  };
}

type Server = (a: Action, s: DeviceState, n: number) => StepInput;

/**
 * The OSS server as the simulator answers. The deployment (if any) is created after the device booted: it
 * is offered from the second update check on, until the device reports a final status. `answers` force
 * the next answers to a request (by label).
 */
function oss(opts: { deployment?: boolean; answers?: Record<string, number[]> } = {}): Server {
  const queue: Record<string, number[]> = Object.fromEntries(
    Object.entries(opts.answers ?? {}).map(([k, v]) => [k, [...v]]),
  );
  let delivered = false;
  let checks = 0;
  return (a) => {
    const forced = queue[label(a)]?.shift();
    if (forced !== undefined) return reply(forced);
    switch (a.kind) {
      case 'auth':
      case 'inventory':
        return reply(200);
      case 'next-v2':
        return reply(404);
      case 'next-v1':
        checks += 1;
        return opts.deployment && !delivered && checks > 1 ? reply(200, { deployment: DEP }) : reply(204);
      case 'status':
        if (['success', 'failure', 'already-installed'].includes(a.status)) delivered = true;
        return reply(204);
      case 'download':
        return reply(200, { artifact: FACTS });
      case 'log':
        return reply(204);
      case 'wait':
      case 'stop':
        return { kind: 'wake' };
    }
  };
}

/** Run a device until it made `requests` requests or stopped; returns the request labels and the end state. */
function drive(behaviour: Behaviour, server: Server, requests = 40, start = initialState(behaviour, BASE, 0)) {
  let s = start;
  let now = 0;
  const log: string[] = [];
  const events: string[] = [];
  for (let n = 0; n < 1_000 && log.length < requests; n++) {
    if (s.action.kind === 'stop') break;
    const input = s.action.kind === 'wait' ? ({ kind: 'wake' } as const) : server(s.action, s, n);
    if (input.kind === 'reply') log.push(`${label(s.action)}=${input.status}`);
    const step = advance(s, behaviour, input, now, T);
    if (step.event) events.push(step.event);
    s = step.state;
    now = Number.isFinite(step.at) ? Math.max(now, step.at) : now;
  }
  return { log, state: s, events };
}

const BOOT = ['auth=200', 'inventory:PUT=200', 'next-v2=404', 'next-v1=204'];
const UPDATE_START = ['next-v2=404', 'next-v1=200', 'status:downloading=204', 'download=200', 'status:installing=204'];

describe('advance — single transitions', () => {
  it.each<[string, DeviceState, StepInput, string, number, string?]>([
    ['auth 200 at boot → inventory PUT now', initialState(ok, BASE, 0), reply(200), 'inventory:PUT', 0],
    ['auth 401 at boot → pending, retry later', initialState(ok, BASE, 0), reply(401), 'auth', 500],
    ['auth 500 → retry later', initialState(ok, BASE, 0), reply(500), 'auth', 500],
    [
      'auth 200 with a request to repeat → repeats it',
      at({ kind: 'auth' }, { resume: { kind: 'next-v2' } }),
      reply(200),
      'next-v2',
      0,
    ],
    ['inventory 405 → PATCH', at({ kind: 'inventory', method: 'PUT' }), reply(405), 'inventory:PATCH', 0],
    ['inventory 401 → re-auth', at({ kind: 'inventory', method: 'PUT' }), reply(401), 'auth', 0],
    [
      'inventory 200 when booted → wait for the next poll',
      at({ kind: 'inventory', method: 'PUT' }, { nextPollAt: 700 }),
      reply(200),
      'wait',
      700,
    ],
    ['next v2 404 → v1 at once', at({ kind: 'next-v2' }), reply(404), 'next-v1', 0],
    ['next v1 204 → wait a poll interval', at({ kind: 'next-v1' }), reply(204), 'wait', 1_000],
    ['next v1 500 → wait the retry interval', at({ kind: 'next-v1' }), reply(500), 'wait', 500],
    ['next v1 401 → re-auth (then the check again from v2)', at({ kind: 'next-v1' }), reply(401), 'auth', 0],
    [
      'next v2 200 (Enterprise) → takes it',
      at({ kind: 'next-v2' }),
      reply(200, { deployment: DEP }),
      'status:downloading',
      0,
    ],
    [
      'next 200 without the fields → treated as an error',
      at({ kind: 'next-v1' }),
      reply(200, { error: 'Missing parameters' }),
      'wait',
      500,
    ],
    [
      'a wait whose poll time came → update check',
      at({ kind: 'wait' }, { nextPollAt: 0 }),
      { kind: 'wake' },
      'next-v2',
      0,
    ],
    [
      'a wait whose inventory time came → inventory',
      at({ kind: 'wait' }, { nextPollAt: 0, nextInventoryAt: 0 }),
      { kind: 'wake' },
      'inventory:PUT',
      0,
    ],
  ])('%s', (_name, state, input, next, when) => {
    const step = advance(state, ok, input, 0, T);
    expect(label(step.state.action)).toBe(next);
    expect(step.at).toBe(when);
  });

  it('does not modify the state it is given', () => {
    const s = at({ kind: 'next-v1' });
    const copy = structuredClone(s);
    advance(s, ok, reply(200, { deployment: DEP }), 5, T);
    expect(s).toEqual(copy);
  });

  it('marks a pending device and reports "accepted" once auth succeeds', () => {
    const pending = advance(initialState(ok, BASE, 0), ok, reply(401), 0, T).state;
    expect(pending.activity).toBe('pending');
    const accepted = advance(pending, ok, reply(200), 500, T);
    expect(accepted.event).toBe('accepted');
    expect(accepted.state.activity).toBe('booting');
  });
});

describe('advance — whole sequences against the OSS server', () => {
  it('boots like the daemon: auth, inventory, then an update check at once', () => {
    expect(drive(ok, oss(), 4).log).toEqual(BOOT);
  });

  it('success: the full status sequence with re-auth before the commit, then inventory with the new artifact', () => {
    const r = drive(ok, oss({ deployment: true }), 14);
    expect(r.log).toEqual([
      ...BOOT,
      ...UPDATE_START,
      'status:rebooting=204',
      'auth=200',
      'status:installing=204',
      'status:success=204',
      'inventory:PUT=200',
    ]);
    expect(r.events).toEqual(['success']);
    expect(r.state.artifactName).toBe('vancore-app-1.4.0');
    expect(r.state.versions).toEqual({ platform: '0.9.0', app: '1.4.0' });
    expect(r.state.provides['vancore.app.version']).toBe('1.4.0');
    expect(r.state.lastUpdateStatus).toBe('success');
  });

  it('without re-auth before the commit the sequence is one request shorter', () => {
    const t = { ...T, reauthBeforeCommit: false };
    let s = initialState(ok, BASE, 0);
    const server = oss({ deployment: true });
    const log: string[] = [];
    for (let n = 0, now = 0; n < 100 && log.length < 13; n++, now += 1_000) {
      const input = s.action.kind === 'wait' ? ({ kind: 'wake' } as const) : server(s.action, s, n);
      if (input.kind === 'reply') log.push(label(s.action));
      s = advance(s, ok, input, now, t).state;
    }
    expect(log.slice(9, 12)).toEqual(['status:rebooting', 'status:installing', 'status:success']);
  });

  it('failure: install fails → failure, the log, inventory; the artifact is unchanged', () => {
    const b: Behaviour = { outcome: 'failure' };
    const r = drive(b, oss({ deployment: true }), 12);
    expect(r.log).toEqual([...BOOT, ...UPDATE_START, 'status:failure=204', 'log=204', 'inventory:PUT=200']);
    expect(r.events).toEqual(['failure']);
    expect(r.state.artifactName).toBe('vancore-factory-0.9.0');
    expect(r.state.lastUpdateStatus).toBe('failure');
  });

  it('rollback: commit fails → failure and the log; the gate shows blocked at ArtifactCommit_Enter', () => {
    const b: Behaviour = { outcome: 'rollback' };
    const r = drive(b, oss({ deployment: true }), 13);
    expect(r.log).toEqual([
      ...BOOT,
      ...UPDATE_START,
      'status:rebooting=204',
      'status:failure=204',
      'log=204',
      'inventory:PUT=200',
    ]);
    expect(r.events).toEqual(['rolled_back']);
    expect(r.state.lastUpdateStatus).toBe('rolled_back');
    expect(r.state.gate).toMatchObject({ state: 'blocked', phase: 'ArtifactCommit_Enter' });
  });

  it('deferral: the gate turns the deployment down N times (nothing reported), inventory shows it, then it installs', () => {
    const b: Behaviour = { outcome: 'success', deferral: { polls: 2, reason: 'moving' } };
    const r = drive(b, oss({ deployment: true }), 19);
    expect(r.log).toEqual([
      ...BOOT,
      'next-v2=404',
      'next-v1=200',
      'inventory:PUT=200', // gate state changed to deferred
      'next-v2=404',
      'next-v1=200',
      ...UPDATE_START,
      'status:rebooting=204',
      'auth=200',
      'status:installing=204',
      'status:success=204',
      'inventory:PUT=200',
    ]);
    expect(r.events).toEqual(['deferred', 'deferred', 'success']);
    expect(r.state.gate).toMatchObject({ state: 'open', phase: 'Download_Enter', reason: '' });
  });

  it('deferral sets the gate to deferred with the reason while it waits', () => {
    const b: Behaviour = { outcome: 'success', deferral: { polls: 5, reason: 'low_battery' } };
    const r = drive(b, oss({ deployment: true }), 7);
    expect(r.state.gate).toMatchObject({ state: 'deferred', phase: 'Download_Enter' });
    expect(r.state.gate.reason).toMatch(/^battery_low: /);
    expect(r.state.activity).toBe('deferred');
    expect(r.state.deferralsLeft).toBe(4);
  });

  it.each([
    [0, ['auth=200', 'inventory:PUT=200', 'next-v2=404', 'next-v1=204']],
    [2, [...BOOT, 'next-v2=404', 'next-v1=204']],
  ])('offline after %i update checks: stops and makes no more requests', (afterPolls, log) => {
    const b: Behaviour = { outcome: 'success', offline: { afterPolls } };
    const r = drive(b, oss({ deployment: false }), 40);
    expect(r.log).toEqual(log);
    expect(r.state.action.kind).toBe('stop');
    expect(r.state.activity).toBe('offline');
    expect(r.events).toEqual(['offline']);
  });

  it('already-installed: reported when offered its own artifact', () => {
    const b: Behaviour = { outcome: 'success', artifactName: 'vancore-app-1.4.0' };
    const r = drive(b, oss({ deployment: true }), 8);
    expect(r.log).toEqual([...BOOT, 'next-v2=404', 'next-v1=200', 'status:already-installed=204', 'inventory:PUT=200']);
    expect(r.events).toEqual(['already-installed']);
  });

  it.each([
    [
      'downloading',
      ['next-v2=404', 'next-v1=200', 'status:downloading=409', 'status:failure=409', 'log=204'],
      'failure',
    ],
    [
      'installing',
      [
        'next-v2=404',
        'next-v1=200',
        'status:downloading=204',
        'download=200',
        'status:installing=409',
        'status:failure=409',
        'log=204',
      ],
      'rolled_back',
    ],
    ['rebooting', [...UPDATE_START, 'status:rebooting=409', 'status:failure=409', 'log=204'], 'rolled_back'],
  ])('aborted at the backend (409 on %s): rolls back, reports failure, sends the log', (stage, tail, last) => {
    const server = oss({ deployment: true, answers: { [`status:${stage}`]: [409], 'status:failure': [409] } });
    const r = drive(ok, server, BOOT.length + tail.length + 1);
    expect(r.log).toEqual([...BOOT, ...tail, 'inventory:PUT=200']);
    expect(r.events).toEqual(['aborted']);
    expect(r.state.lastUpdateStatus).toBe(last);
    expect(r.state.artifactName).toBe('vancore-factory-0.9.0');
  });

  it('a 401 on a status report re-authenticates and repeats that report', () => {
    const r = drive(ok, oss({ deployment: true, answers: { 'status:installing': [401] } }), 12);
    expect(r.log.slice(BOOT.length + 4)).toEqual([
      'status:installing=401',
      'auth=200',
      'status:installing=204',
      'status:rebooting=204',
    ]);
  });

  it('a 401 on the update check re-authenticates and checks again', () => {
    const r = drive(ok, oss({ answers: { 'next-v2': [404, 401] } }), 8);
    expect(r.log).toEqual([...BOOT, 'next-v2=401', 'auth=200', 'next-v2=404', 'next-v1=204']);
  });

  it('a status report that keeps failing is retried, then the deployment fails', () => {
    const r = drive(ok, oss({ deployment: true, answers: { 'status:downloading': [500, 500, 500] } }), 11);
    expect(r.log.slice(BOOT.length)).toEqual([
      'next-v2=404',
      'next-v1=200',
      'status:downloading=500',
      'status:downloading=500',
      'status:downloading=500',
      'status:failure=204',
      'log=204',
    ]);
    expect(r.state.lastUpdateStatus).toBe('failure');
    expect(r.events).toEqual(['failure']);
  });

  it.each<[string, StepInput, RegExp]>([
    ['a download error', reply(0, { error: 'download failed: ECONNRESET' }), /ECONNRESET/],
    ['an HTTP error on the download', reply(403), /HTTP 403/],
    [
      'an artifact whose name is not the one the server claims',
      reply(200, { artifact: { ...FACTS, name: 'other' } }),
      /not what the server claims \(vancore-app-1\.4\.0 != other\)/,
    ],
  ])('%s fails the deployment with the reason in the log', (_n, input, why) => {
    const s = at(
      { kind: 'download' },
      { update: { id: 'dep-1', artifactName: DEP.artifactName, uri: DEP.uri, stage: 'download', retries: 0 } },
    );
    const step = advance(s, ok, input, 0, T);
    expect(label(step.state.action)).toBe('status:failure');
    expect(step.state.update?.failReason).toMatch(why);
  });

  it('pending: retries auth every retry interval until accepted', () => {
    const r = drive(ok, oss({ answers: { auth: [401, 401, 401] } }), 7);
    expect(r.log).toEqual(['auth=401', 'auth=401', 'auth=401', ...BOOT]);
    expect(r.events).toEqual(['accepted']);
  });

  it('sends inventory again when the inventory interval passes', () => {
    let s = drive(ok, oss(), 4).state;
    expect(s.action.kind).toBe('wait');
    const woke = advance(s, ok, { kind: 'wake' }, 60_000, T);
    s = woke.state;
    expect(label(s.action)).toBe('inventory:PUT');
  });
});

describe('advance — the C++ client (mender-update-5), RECIPE-current.md', () => {
  const cpp = (b: Behaviour) => initialState(b, { ...BASE, client: 'mender-update-5' }, 0);
  const BOOT5 = ['auth=200', 'inventory:PUT=200', 'next-v2=404', 'next-v1:GET=204'];
  const label5 = (l: string) => l.replace(/^next-v1=/, 'next-v1:GET=');
  const drive5 = (b: Behaviour, server: Server, n: number) => {
    const r = drive(b, server, n, cpp(b));
    return { ...r, log: r.log.map(label5) };
  };
  it('falls back from v2 to a GET of v1 (deployments.cpp), and never PATCHes inventory', () => {
    const s = advance(at({ kind: 'next-v2' }, { client: 'mender-update-5' }), ok, reply(404), 0, T).state;
    expect(s.action).toEqual({ kind: 'next-v1', method: 'GET' });
    const inv = advance(at({ kind: 'inventory', method: 'PUT' }, { client: 'mender-update-5' }), ok, reply(405), 0, T);
    expect(inv.state.action.kind).toBe('wait');
    expect(inv.state.nextInventoryAt).toBe(T.retryIntervalMs);
  });

  it('§3.2 (d): downloading, installing, re-auth, installing, success — no rebooting', () => {
    const r = drive5(ok, oss({ deployment: true }), 13);
    expect(r.log).toEqual([
      ...BOOT5,
      'next-v2=404',
      'next-v1:GET=200',
      'status:downloading=204',
      'download=200',
      'status:installing=204',
      'auth=200',
      'status:installing=204',
      'status:success=204',
      'inventory:PUT=200',
    ]);
    expect(r.events).toEqual(['success']);
  });

  it('§3.2 (c): a Sync_Leave deferral reports nothing and shows Sync_Leave as the gate phase', () => {
    const b: Behaviour = { outcome: 'success', deferral: { polls: 1, reason: 'moving' } };
    const r = drive5(b, oss({ deployment: true }), 8);
    expect(r.log).toEqual([...BOOT5, 'next-v2=404', 'next-v1:GET=200', 'inventory:PUT=200', 'next-v2=404']);
    expect(r.events).toEqual(['deferred']);
    expect(r.state.gate).toMatchObject({ state: 'deferred', phase: 'Sync_Leave' });
  });

  it('§3.2 (a): a Download_Enter "not now" is downloading → failure → log, and counts as a failure', () => {
    const b: Behaviour = { outcome: 'success', deferral: { polls: 1, reason: 'moving', at: 'Download_Enter' } };
    const r = drive5(b, oss({ deployment: true }), 10);
    expect(r.log.slice(BOOT5.length)).toEqual([
      'next-v2=404',
      'next-v1:GET=200',
      'status:downloading=204',
      'status:failure=204',
      'log=204',
      'inventory:PUT=200',
    ]);
    expect(r.events).toEqual(['deferred', 'failure']);
    expect(r.state.lastUpdateStatus).toBe('failure');
  });

  it('§4: the commit gate runs after the second installing; its refusal is failure + log', () => {
    const r = drive5({ outcome: 'rollback' }, oss({ deployment: true }), 13);
    expect(r.log.slice(BOOT5.length + 4)).toEqual([
      'status:installing=204',
      'auth=200',
      'status:installing=204',
      'status:failure=204',
      'log=204',
    ]);
    expect(r.events).toEqual(['rolled_back']);
  });

  it('§3.3: an unchanged inventory is not sent; a new token makes the next one go out', () => {
    const s0 = at({ kind: 'inventory', method: 'PUT' }, { client: 'mender-update-5' });
    const sent = advance(s0, ok, { kind: 'reply', status: 200, sent: '[x]' }, 0, T).state;
    expect(sent.inventorySent).toBe('[x]');
    const skipped = advance({ ...sent, action: { kind: 'inventory', method: 'PUT' } }, ok, { kind: 'unchanged' }, 5, T);
    expect(skipped.state.action.kind).toBe('wait');
    expect(skipped.state.nextInventoryAt).toBe(5 + T.inventoryIntervalMs);
    const reauthed = advance({ ...sent, action: { kind: 'auth' } }, ok, reply(200), 6, T).state;
    expect(reauthed.inventorySent).toBeUndefined();
    // 3.4 keeps no such memory.
    expect(
      advance(at({ kind: 'inventory', method: 'PUT' }), ok, { kind: 'reply', status: 200, sent: '[x]' }, 0, T).state
        .inventorySent,
    ).toBeUndefined();
  });
});
