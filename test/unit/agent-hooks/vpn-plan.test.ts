// The vancore-vpn planners, probe verdicts, deadman decisions and tailscale output
// parsing: all pure.
import { describe, expect, it } from 'vitest';
import type { VpnStep } from '../../../core/schemas/payload-index.js';
import { decideDeadman, type Deadman } from '../../../agent-hooks/vpn/deadman.js';
import {
  planVpnCommit,
  planVpnInstall,
  planVpnRollback,
  vpnActionLabel,
  type VpnAction,
  type VpnJournal,
} from '../../../agent-hooks/vpn/plan.js';
import { probeFailures, type ProbeFacts } from '../../../agent-hooks/vpn/probes.js';
import { VpnSettings } from '../../../agent-hooks/vpn/settings.js';
import { isOnline, parsePrefs, parseStatus } from '../../../agent-hooks/vpn/tailscale.js';

const journal = (over: Partial<VpnJournal> = {}): VpnJournal => ({
  format: 1,
  artifact_name: 'vpn-a',
  version: '1.0.0',
  step: 'add',
  login_server: 'https://hs.example',
  before: { state: 'tailscale', step: 'none' },
  versions_before: null,
  outcome: 'installing',
  started: [],
  done: [],
  updated_at: '2026-11-22T10:00:00Z',
  ...over,
});

const labels = (steps: VpnAction[]) => steps.map(vpnActionLabel);

describe('planVpnInstall', () => {
  it.each<[VpnStep, string[]]>([
    ['add', ['daemon:start:hs', 'join:hs', 'forget-key', 'validate', 'finish:installed']],
    ['verify', ['validate', 'finish:installed']],
    ['cutover', ['primary:hs', 'daemon:stop:saas', 'validate', 'finish:installed']],
    ['retire', ['stash:saas', 'validate', 'finish:installed']],
  ])('%s after begin', (step, expected) => {
    expect(labels(planVpnInstall({ artifact: 'vpn-a', journal: journal({ step }) }))).toEqual(expected);
  });

  it('begins without a journal or after a finished deployment', () => {
    expect(labels(planVpnInstall({ artifact: 'vpn-a', journal: null }))).toEqual(['begin']);
    expect(labels(planVpnInstall({ artifact: 'vpn-b', journal: journal({ outcome: 'committed' }) }))).toEqual([
      'begin',
    ]);
  });

  it('resumes after the last done effect (a started one runs again)', () => {
    const j = journal({ started: ['daemon:start:hs', 'join:hs'], done: ['daemon:start:hs'] });
    expect(labels(planVpnInstall({ artifact: 'vpn-a', journal: j }))).toEqual([
      'join:hs',
      'forget-key',
      'validate',
      'finish:installed',
    ]);
  });

  it('is stuck on another unfinished deployment', () => {
    expect(planVpnInstall({ artifact: 'vpn-b', journal: journal() })[0]?.kind).toBe('stuck');
  });
});

describe('planVpnCommit', () => {
  it.each<[VpnStep, string[]]>([
    ['add', ['commit:record', 'finish:committed']],
    ['cutover', ['commit:record', 'finish:committed']],
    ['retire', ['commit:record', 'purge:saas', 'finish:committed']],
  ])('%s', (step, expected) => {
    expect(labels(planVpnCommit({ artifact: 'vpn-a', journal: journal({ step, outcome: 'installed' }) }))).toEqual(
      expected,
    );
  });

  it('a repeated commit is a no-op; an uninstalled artifact is refused', () => {
    expect(planVpnCommit({ artifact: 'vpn-a', journal: journal({ outcome: 'committed' }) })).toEqual([]);
    expect(planVpnCommit({ artifact: 'vpn-x', journal: journal({ outcome: 'installed' }) })[0]?.kind).toBe('stuck');
  });
});

describe('planVpnRollback', () => {
  it.each<[string, Partial<VpnJournal>, string[]]>([
    ['add before any effect', { step: 'add' }, ['rollback:begin', 'rollback:restore', 'finish:rolled_back']],
    [
      'add after the daemon started',
      { step: 'add', started: ['daemon:start:hs'] },
      [
        'rollback:begin',
        'rollback:logout:hs',
        'rollback:daemon:stop:hs',
        'rollback:wipe:hs',
        'rollback:restore',
        'finish:rolled_back',
      ],
    ],
    [
      'cutover after SaaS was stopped',
      { step: 'cutover', started: ['primary:hs', 'daemon:stop:saas'], done: ['primary:hs'] },
      [
        'rollback:begin',
        'rollback:daemon:start:saas',
        'rollback:secondary:hs',
        'rollback:restore',
        'finish:rolled_back',
      ],
    ],
    [
      'cutover after only the DNS switch',
      { step: 'cutover', started: ['primary:hs'] },
      ['rollback:begin', 'rollback:secondary:hs', 'rollback:restore', 'finish:rolled_back'],
    ],
    [
      'retire before the purge',
      { step: 'retire', started: ['stash:saas'] },
      ['rollback:begin', 'rollback:unstash:saas', 'rollback:restore', 'finish:rolled_back'],
    ],
    [
      'retire after the purge (nothing can come back)',
      { step: 'retire', outcome: 'committed', started: ['stash:saas', 'commit:record', 'purge:saas'] },
      ['rollback:begin', 'rollback:restore', 'finish:rolled_back'],
    ],
    [
      'a rollback resumed mid-way',
      {
        step: 'cutover',
        outcome: 'rolling_back',
        started: ['primary:hs', 'daemon:stop:saas', 'rollback:daemon:start:saas'],
        done: ['rollback:daemon:start:saas'],
      },
      ['rollback:secondary:hs', 'rollback:restore', 'finish:rolled_back'],
    ],
  ])('%s', (_name, over, expected) => {
    expect(labels(planVpnRollback({ artifact: 'vpn-a', journal: journal(over) }))).toEqual(expected);
  });

  it('does nothing without a journal, when rolled back, or for another committed artifact', () => {
    expect(planVpnRollback({ artifact: 'vpn-a', journal: null })).toEqual([]);
    expect(planVpnRollback({ artifact: 'vpn-a', journal: journal({ outcome: 'rolled_back' }) })).toEqual([]);
    expect(planVpnRollback({ artifact: 'vpn-b', journal: journal({ outcome: 'committed' }) })).toEqual([]);
  });
});

const online = { running: true as const, backend: 'Running', online: true, controlUrl: 'https://hs.example' };
const facts = (over: Partial<ProbeFacts> = {}): ProbeFacts => ({
  loginServer: 'https://hs.example/',
  saas: { running: false, why: 'not running' },
  hs: online,
  control: { ok: true },
  support: { ok: true },
  ...over,
});

describe('probeFailures', () => {
  it.each<[string, VpnStep, Partial<ProbeFacts>, RegExp | null]>([
    ['cutover holds', 'cutover', {}, null],
    ['add needs SaaS running', 'add', {}, /SaaS instance is not running/],
    [
      'add holds with SaaS running',
      'add',
      { saas: { ...online, controlUrl: 'https://controlplane.tailscale.com' } },
      null,
    ],
    ['verify: offline node', 'verify', { hs: { ...online, online: false } }, /headscale node is Running, offline/],
    [
      'verify: wrong control server',
      'verify',
      { hs: { ...online, controlUrl: 'https://other' } },
      /uses https:\/\/other/,
    ],
    [
      'verify: control URL down',
      'verify',
      { control: { ok: false, why: 'ECONNREFUSED' } },
      /control URL: ECONNREFUSED/,
    ],
    ['verify: support probe fails', 'verify', { support: { ok: false, why: 'exit 1' } }, /support probe: exit 1/],
    ['verify: no support probe configured', 'verify', { support: undefined }, /no support_probe/],
    ['cutover: SaaS still up', 'cutover', { saas: online }, /SaaS instance is still running/],
    ['retire: daemon gone', 'retire', { hs: { running: false, why: 'no socket' } }, /not running: no socket/],
  ])('%s', (_name, step, over, expected) => {
    const out = probeFailures(step, facts(over));
    if (expected === null) expect(out).toEqual([]);
    else expect(out.join('; ')).toMatch(expected);
  });
});

const armed = (over: Partial<Deadman> = {}): Deadman => ({
  format: 1,
  artifact_name: 'vpn-cutover',
  step: 'cutover',
  login_server: 'https://hs.example',
  before: { state: 'dual', step: 'verify' },
  armed_at: '2026-11-22T10:00:00Z',
  until: '2026-11-23T10:00:00Z',
  failures: 0,
  phase: 'armed',
  ...over,
});
const now = new Date('2026-11-22T12:00:00Z');

describe('decideDeadman', () => {
  it.each<[string, Parameters<typeof decideDeadman>[0], number, string]>([
    ['nothing armed', { now, deadman: null, busy: false }, 3, 'idle'],
    ['a deployment is running', { now, deadman: armed(), busy: true }, 3, 'idle'],
    ['armed: probe first', { now, deadman: armed(), busy: false }, 3, 'probe'],
    ['watch over', { now: new Date('2026-11-24T00:00:00Z'), deadman: armed(), busy: false }, 3, 'disarm'],
    ['probes hold', { now, deadman: armed({ failures: 2 }), busy: false, failures: [] }, 3, 'healthy'],
    ['one failure of three', { now, deadman: armed(), busy: false, failures: ['x'] }, 3, 'count'],
    ['third failure in a row', { now, deadman: armed({ failures: 2 }), busy: false, failures: ['x'] }, 3, 'revert'],
    ['a revert cut short resumes', { now, deadman: armed({ phase: 'reverting' }), busy: false }, 3, 'revert'],
  ])('%s', (_name, f, n, kind) => {
    expect(decideDeadman(f, n).kind).toBe(kind);
  });
});

describe('tailscale output', () => {
  it('parses status --json, ignoring fields it does not know', () => {
    const s = parseStatus(
      JSON.stringify({
        Version: '1.76.1',
        BackendState: 'Running',
        Self: { HostName: 'van-0042', Online: true, TailscaleIPs: ['100.64.0.7'], Capabilities: [] },
        Peer: { k: {} },
      }),
    );
    expect(s.BackendState).toBe('Running');
    expect(s.Self?.Online).toBe(true);
  });

  it('accepts a logged-out status (Self without Online, null IPs)', () => {
    expect(parseStatus('{"BackendState":"NeedsLogin","Self":{"TailscaleIPs":null}}').Self?.Online).toBeUndefined();
  });

  it.each(['not json', '{"Self":{}}'])('rejects %s with a one-line error', (text) => {
    expect(() => parseStatus(text)).toThrow(/tailscale status --json/);
  });

  it('reads ControlURL from debug prefs', () => {
    expect(parsePrefs('{"ControlURL":"https://hs.example","WantRunning":true}').ControlURL).toBe('https://hs.example');
  });

  it.each([
    [{ running: true as const, backend: 'Running', online: true }, true],
    [{ running: true as const, backend: 'Running', online: false }, false],
    [{ running: true as const, backend: 'Stopped', online: true }, false],
    [{ running: false as const, why: 'x' }, false],
  ])('isOnline(%o) = %s', (v, expected) => {
    expect(isOnline(v)).toBe(expected);
  });
});

describe('VpnSettings', () => {
  it('has every default', () => {
    const s = VpnSettings.parse({});
    expect(s.saas).toMatchObject({
      socket: '/run/tailscale/tailscaled.sock',
      start: ['systemctl', 'enable', '--now', 'tailscaled.service'],
      stop: ['systemctl', 'disable', '--now', 'tailscaled.service'],
    });
    expect(s.headscale).toMatchObject({ state_dir: '/var/lib/tailscale-headscale', interface: 'tailscale-hs' });
    expect(s.deadman).toEqual({ watch_seconds: 86_400, failures_to_revert: 3 });
    expect(s.support_probe).toBeNull();
  });

  it('rejects unknown keys', () => {
    expect(VpnSettings.safeParse({ sass: {} }).success).toBe(false);
  });
});
