// The virtual device as a vancore-vpn van: the step comes from the payload index of a real artifact, a
// step is refused out of order like the module does, scripted probe failures roll back, and the
// deadman's revert shows in the inventory after the one that reported the commit. Plus the scenario's
// vpnFailure / vpnRevert shares.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../../core/schemas/inventory.js';
import { readArtifactFile } from '../../../core/artifact-file.js';
import { artifactFacts, readPayloadIndex } from '../../../mender-sim/fleet/artifact.js';
import { inventoryAttributes, makeProfile } from '../../../mender-sim/fleet/inventory.js';
import {
  advance,
  initialState,
  type ArtifactFacts,
  type DeviceState,
  type StepInput,
  type Timing,
} from '../../../mender-sim/fleet/machine.js';
import { assignBehaviours, type Behaviour } from '../../../mender-sim/fleet/scenario.js';
import { buildArtifact } from '../../../mender-sim/testkit.js';

const T: Timing = {
  pollIntervalMs: 1_000,
  inventoryIntervalMs: 60_000,
  retryIntervalMs: 500,
  stepDelayMs: 0,
  reauthBeforeCommit: true,
  statusAttempts: 3,
};
const BASE = {
  artifactName: 'vancore-factory-0.9.0',
  versions: { platform: '0.9.0' },
  vpn: { state: 'tailscale', step: 'none' } as const,
};
const facts = (step: 'add' | 'verify' | 'cutover' | 'retire', version: string): ArtifactFacts => ({
  name: `vancore-vpn-${version}`,
  versions: { vpn: version },
  provides: { artifact_name: `vancore-vpn-${version}`, 'vancore.vpn.version': version },
  vpnStep: step,
});

/** Boot, be offered `a`, answer everything the OSS way; returns the state once idle again and the outcome. */
function install(s0: DeviceState, b: Behaviour, a: ArtifactFacts): { state: DeviceState; outcome?: string } {
  let s = s0;
  let now = 0;
  let outcome: string | undefined;
  for (let i = 0; i < 60; i++) {
    const act = s.action;
    let input: StepInput;
    if (act.kind === 'wait') input = { kind: 'wake' };
    else if (act.kind === 'next-v1' || act.kind === 'next-v2')
      input =
        s.update || outcome
          ? { kind: 'reply', status: 204 }
          : { kind: 'reply', status: 200, deployment: { id: 'd1', artifactName: a.name, uri: 'http://s/a.mender' } };
    else if (act.kind === 'download') input = { kind: 'reply', status: 200, artifact: a };
    else if (act.kind === 'status' || act.kind === 'log') input = { kind: 'reply', status: 204 };
    else input = { kind: 'reply', status: 200 };
    const step = advance(s, b, input, now, T);
    s = step.state;
    if (step.event && step.event !== 'accepted') outcome ??= step.event;
    if (outcome && s.action.kind === 'wait' && !s.inventoryDue) return { state: s, outcome };
    now = Math.max(now, step.at);
  }
  return { state: s, ...(outcome ? { outcome } : {}) };
}

const booted = (): DeviceState => ({
  ...initialState({ outcome: 'success' }, BASE, 0),
  booted: true,
  activity: 'idle',
  inventoryDue: false,
  nextInventoryAt: 60_000,
  action: { kind: 'next-v2' },
});
const ok: Behaviour = { outcome: 'success' };

describe('a virtual vancore-vpn van', () => {
  it('walks add → verify → cutover → retire; inventory carries vancore.vpn.state/step', () => {
    let s = booted();
    const profile = makeProfile({
      seed: 1,
      index: 0,
      count: 1,
      vanIdPrefix: 'van-',
      deviceType: 'vanpc',
      stage: undefined,
    });
    const seen: [string, string][] = [];
    for (const [step, v] of [
      ['add', '1.0.0'],
      ['verify', '1.1.0'],
      ['cutover', '1.2.0'],
      ['retire', '1.3.0'],
    ] as const) {
      const r = install({ ...s, action: { kind: 'next-v2' } }, ok, facts(step, v));
      expect(r.outcome).toBe('success');
      s = r.state;
      const inv = parseInventory(inventoryAttributes(profile, s).map((x) => ({ ...x, scope: 'inventory' })));
      expect(inv.dropped).toEqual([]);
      seen.push([inv.vancore.vpn.state!, inv.vancore.vpn.step!]);
    }
    expect(seen).toEqual([
      ['dual', 'add'],
      ['dual', 'verify'],
      ['headscale', 'cutover'],
      ['retired', 'retire'],
    ]);
    expect(s.versions.vpn).toBe('1.3.0');
  });

  it('refuses a step out of order (the module would): failure, state unchanged', () => {
    const r = install(booted(), ok, facts('cutover', '1.2.0'));
    expect(r.outcome).toBe('failure');
    expect(r.state.vpn).toEqual({ state: 'tailscale', step: 'none' });
    expect(r.state.artifactName).toBe('vancore-factory-0.9.0');
  });

  it('a scripted probe failure at verify rolls back; vpn.json stays at add', () => {
    const added = install(booted(), ok, facts('add', '1.0.0')).state;
    const b: Behaviour = { outcome: 'success', vpn: { failStep: 'verify' } };
    const r = install({ ...added, action: { kind: 'next-v2' } }, b, facts('verify', '1.1.0'));
    expect(r.outcome).toBe('rolled_back');
    expect(r.state.vpn).toEqual({ state: 'dual', step: 'add' });
    expect(r.state.lastUpdateStatus).toBe('rolled_back');
  });

  it('the deadman reverts a committed cut-over after the inventory that reported it', () => {
    const b: Behaviour = { outcome: 'success', vpn: { revertStep: 'cutover' } };
    let s = install(booted(), b, facts('add', '1.0.0')).state;
    s = install({ ...s, action: { kind: 'next-v2' } }, b, facts('verify', '1.1.0')).state;
    // Stop right after the commit's inventory went out: it said headscale / cutover.
    let st: DeviceState = { ...s, action: { kind: 'next-v2' } };
    const a = facts('cutover', '1.2.0');
    let sawCommitted = false;
    for (let i = 0; i < 40 && !(sawCommitted && st.vpn?.state === 'reverted'); i++) {
      const act = st.action;
      if (act.kind === 'inventory' && st.vpn?.state === 'headscale') sawCommitted = true;
      const input: StepInput =
        act.kind === 'next-v2' || act.kind === 'next-v1'
          ? st.artifactName === a.name
            ? { kind: 'reply', status: 204 }
            : { kind: 'reply', status: 200, deployment: { id: 'd', artifactName: a.name, uri: 'http://s/a' } }
          : act.kind === 'download'
            ? { kind: 'reply', status: 200, artifact: a }
            : act.kind === 'status' || act.kind === 'log'
              ? { kind: 'reply', status: 204 }
              : act.kind === 'wait'
                ? { kind: 'wake' }
                : { kind: 'reply', status: 200 };
      st = advance(st, b, input, i * 1000, T).state;
    }
    expect(sawCommitted).toBe(true);
    expect(st.vpn).toEqual({ state: 'reverted', step: 'verify' });
    // Artifact and version stay (the deadman does not touch them); the revert is reported next.
    expect(st.artifactName).toBe('vancore-vpn-1.2.0');
    expect(st.inventoryDue).toBe(true);
  });
});

describe('scenario: vpnFailure and vpnRevert shares', () => {
  it('draws exact, disjoint slices after the other behaviours', () => {
    const b = assignBehaviours(200, 's', {
      failure: 0.05,
      vpnFailure: { share: 0.02, step: 'cutover' },
      vpnRevert: 0.015,
    });
    const failStep = b.filter((x) => x.vpn?.failStep);
    const revert = b.filter((x) => x.vpn?.revertStep);
    expect([failStep.length, revert.length]).toEqual([4, 3]);
    expect(failStep.every((x) => x.vpn?.failStep === 'cutover' && x.outcome === 'success')).toBe(true);
    expect(revert.every((x) => x.vpn?.revertStep === 'cutover' && !x.vpn.failStep)).toBe(true);
    expect(assignBehaviours(200, 's', { vpnFailure: 0.02 }).filter((x) => x.vpn?.failStep === 'verify')).toHaveLength(
      4,
    );
  });

  it.each([
    [{ vpnRevert: { share: 0.1, step: 'retire' } }, /^scenario: vpnRevert/],
    [{ vpnFailure: { share: 0.1, step: 'none' } }, /^scenario: vpnFailure/],
    [{ vpnFailure: 1.5 }, /^scenario: vpnFailure/],
    [{ failure: 0.6, vpnRevert: 0.6 }, /^scenario: the shares add up to 240 devices, more than the fleet's 200$/],
    [{ overrides: { '3': { vpn: { revertStep: 'retire' } } } }, /^scenario: overrides\.3\.vpn\.revertStep/],
  ])('%j is refused with one line', (scenario, msg) => {
    expect(() => assignBehaviours(200, 's', scenario)).toThrow(msg);
  });

  it('an override sets one van’s vpn behaviour', () => {
    const b = assignBehaviours(10, 's', { overrides: { '3': { vpn: { failStep: 'add' } } } });
    expect(b[3]).toEqual({ outcome: 'success', vpn: { failStep: 'add' } });
  });
});

describe('the step from a real vancore-vpn artifact', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vc-fleet-vpn-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads vancore-index.json from the payload; other artifacts have no step', async () => {
    const index = {
      format: 1,
      type: 'vancore-vpn',
      component: 'vpn',
      version: '1.2.0',
      step: 'cutover',
      login_server: 'https://headscale.example.com',
      authkey: null,
    };
    const file = await buildArtifact(dir, {
      name: 'vancore-vpn-1.2.0',
      type: 'vancore-vpn',
      files: { 'vancore-index.json': JSON.stringify(index) },
      provides: { 'vancore.vpn.version': '1.2.0' },
      metaData: { vancore: { component: 'vpn', version: '1.2.0' } },
    });
    const info = await readArtifactFile(file);
    const idx = await readPayloadIndex(createReadStream(file));
    expect(idx).toEqual(index);
    expect(artifactFacts(info, idx)).toMatchObject({ versions: { vpn: '1.2.0' }, vpnStep: 'cutover' });
    // lzma (the default of `artifact build`) and none are read too.
    for (const compression of ['lzma', 'none'] as const) {
      const f = await buildArtifact(dir, {
        name: 'vancore-vpn-1.2.0',
        type: 'vancore-vpn',
        compression,
        files: { 'vancore-index.json': JSON.stringify(index) },
      });
      expect(await readPayloadIndex(createReadStream(f)), compression).toEqual(index);
    }
    // A compose artifact carrying the same file is no VPN step.
    const other = await buildArtifact(dir, {
      name: 'vancore-app-1.4.0',
      files: { 'vancore-index.json': JSON.stringify(index) },
    });
    const info2 = await readArtifactFile(other);
    expect(artifactFacts(info2, await readPayloadIndex(createReadStream(other))).vpnStep).toBeUndefined();
    // Garbage never throws.
    expect(
      await readPayloadIndex(createReadStream(join(dir, '..', 'nonexistent-' + String(Date.now())))),
    ).toBeUndefined();
    expect((await readFile(file)).length).toBeGreaterThan(0);
  });
});
