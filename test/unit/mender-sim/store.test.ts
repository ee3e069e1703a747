// The simulator's deployment semantics (GUIDE §4) on the store directly: no HTTP, a manual clock.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../core/clock.js';
import type { ArtifactRec } from '../../../mender-sim/model.js';
import { SimStore } from '../../../mender-sim/store.js';
import { SimHttpError } from '../../../mender-sim/errors.js';

const PUB = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();

function newStore(clock = new ManualClock()): SimStore {
  return new SimStore({
    now: () => clock.now().getTime(),
    email: 'a@b',
    password: 'p',
    autoAccept: true,
    verifySignatures: false,
    onChange: () => undefined,
  });
}

function artifact(name: string, deviceTypes = ['vanpc'], id = `${name}-${deviceTypes.join('+')}`): ArtifactRec {
  return {
    id,
    name,
    description: '',
    deviceTypes,
    info: { format: 'mender', version: 3 },
    signed: false,
    updates: [],
    provides: { artifact_name: name },
    depends: { device_type: deviceTypes },
    clearsProvides: [],
    size: 100,
    modifiedMs: 0,
    file: `${id}.mender`,
    sha256: '0',
  };
}

/** An accepted device; returns its ID. */
function device(store: SimStore, mac: string): string {
  store.authRequest({ idData: JSON.stringify({ mac }), pubkey: PUB, rawBody: Buffer.alloc(0), signature: undefined });
  const d = [...store.devices()].find((x) => x.identityData.mac === mac);
  if (!d) throw new Error('no device');
  return d.id;
}

const req = (artifactName = 'factory', deviceType = 'vanpc') => ({ artifactName, deviceType });

function statusOf(store: SimStore, depId: string): string | undefined {
  return store.deployment(depId)?.status;
}

function httpError(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof SimHttpError) return e.status;
    throw e;
  }
  return 0;
}

describe('SimStore deployments', () => {
  it('assigns lazily, oldest first, and finishes when every target is final', () => {
    const clock = new ManualClock();
    const s = newStore(clock);
    s.addArtifact(artifact('app-1'));
    s.addArtifact(artifact('app-2'));
    const a = device(s, 'a');
    const b = device(s, 'b');
    const d1 = s.createDeployment({ name: 'one', artifactName: 'app-1', devices: [a, b], force: false });
    clock.advance(1000);
    const d2 = s.createDeployment({ name: 'two', artifactName: 'app-2', devices: [a], force: false });
    expect(s.deployment(d1)).toMatchObject({ status: 'pending', deviceCount: 0 });

    const first = s.next(a, req());
    expect(first?.deployment.id).toBe(d1);
    expect(s.deployment(d1)?.deviceCount).toBe(1);
    expect(statusOf(s, d1)).toBe('pending');
    s.reportStatus(d1, a, 'downloading', undefined);
    expect(statusOf(s, d1)).toBe('inprogress');
    // While active, the same deployment comes back.
    expect(s.next(a, req())?.deployment.id).toBe(d1);
    s.reportStatus(d1, a, 'success', undefined);
    expect(s.next(a, req('app-1'))?.deployment.id).toBe(d2);

    expect(s.next(b, req())?.deployment.id).toBe(d1);
    s.reportStatus(d1, b, 'failure', undefined);
    expect(s.deployment(d1)).toMatchObject({ status: 'finished', stats: { success: 1, failure: 1 } });
    expect(s.deployment(d1)?.rec.finishedMs).toBeDefined();
  });

  it('works through the deployments that target a device in creation order', () => {
    const s = newStore();
    s.addArtifact(artifact('old'));
    s.addArtifact(artifact('new'));
    const a = device(s, 'a');
    const b = device(s, 'b');
    const older = s.createDeployment({ name: 'older', artifactName: 'old', devices: [b], force: false });
    const newer = s.createDeployment({ name: 'newer', artifactName: 'new', devices: [a], force: false });
    s.next(a, req());
    s.reportStatus(newer, a, 'success', undefined);
    const both = s.createDeployment({ name: 'both', artifactName: 'old', devices: [a, b], force: false });
    expect(s.next(b, req())?.deployment.id).toBe(older);
    expect(s.next(a, req('new'))?.deployment.id).toBe(both);
  });

  it('takes part in a deployment once, and again after the history is reset', () => {
    const s = newStore();
    s.addArtifact(artifact('app'));
    const a = device(s, 'a');
    const b = device(s, 'b');
    const d = s.createDeployment({ name: 'd', artifactName: 'app', devices: [a, b], force: false });
    s.next(a, req());
    s.reportStatus(d, a, 'failure', undefined);
    expect(s.next(a, req())).toBeUndefined();
    s.deleteHistory(a);
    expect(s.deviceHistory(a)).toEqual([]);
    expect(s.next(a, req())?.deployment.id).toBe(d);
    expect(s.deployment(d)).toMatchObject({ deviceCount: 1, stats: { failure: 0, pending: 1 } });
  });

  it('marks noartifact and already-installed without an update, and force_installation skips the latter', () => {
    const s = newStore();
    s.addArtifact(artifact('app', ['vanpc']));
    const a = device(s, 'a');
    const b = device(s, 'b');
    const c = device(s, 'c');
    const d = s.createDeployment({ name: 'd', artifactName: 'app', devices: [a, b], force: false });
    expect(s.next(a, req('factory', 'truck'))).toBeUndefined();
    expect(s.next(b, req('app'))).toBeUndefined();
    expect(s.deployment(d)).toMatchObject({ status: 'finished', stats: { noartifact: 1, 'already-installed': 1 } });
    const forced = s.createDeployment({ name: 'f', artifactName: 'app', devices: [c], force: true });
    expect(s.next(c, req('app'))?.deployment.id).toBe(forced);
  });

  it('answers 409 and fails the device when it reports other data mid-deployment', () => {
    const s = newStore();
    s.addArtifact(artifact('app'));
    const a = device(s, 'a');
    const d = s.createDeployment({ name: 'd', artifactName: 'app', devices: [a], force: false });
    s.next(a, req());
    s.reportStatus(d, a, 'installing', undefined);
    expect(httpError(() => s.next(a, req('something-else')))).toBe(409);
    expect(s.deviceDeployment(d, a)?.status).toBe('failure');
  });

  it('abort: finished devices keep their status, active ones get 409 and stay aborted, unseen ones never join', () => {
    const s = newStore();
    s.addArtifact(artifact('app'));
    const [a, b, c] = [device(s, 'a'), device(s, 'b'), device(s, 'c')];
    const d = s.createDeployment({ name: 'd', artifactName: 'app', devices: [a, b, c], force: false });
    s.next(a, req());
    s.reportStatus(d, a, 'success', undefined);
    s.next(b, req());
    s.reportStatus(d, b, 'installing', undefined);
    s.abort(d);
    expect(statusOf(s, d)).toBe('finished');
    expect(httpError(() => s.reportStatus(d, b, 'failure', undefined))).toBe(409);
    expect(s.deviceDeployment(d, b)?.status).toBe('aborted');
    expect(s.deviceDeployment(d, a)?.status).toBe('success');
    expect(s.next(c, req())).toBeUndefined();
    expect(httpError(() => s.abort(d))).toBe(422);
  });

  it('decommission ends the active and every pending targeting deployment as decommissioned', () => {
    const s = newStore();
    s.addArtifact(artifact('app'));
    s.addArtifact(artifact('app-2'));
    const a = device(s, 'a');
    const d1 = s.createDeployment({ name: 'd1', artifactName: 'app', devices: [a], force: false });
    const d2 = s.createDeployment({ name: 'd2', artifactName: 'app-2', devices: [a], force: false });
    s.next(a, req());
    s.reportStatus(d1, a, 'downloading', undefined);
    s.decommission(a);
    expect(s.deviceDeployment(d1, a)?.status).toBe('decommissioned');
    expect(s.deviceDeployment(d2, a)?.status).toBe('decommissioned');
    expect(statusOf(s, d1)).toBe('finished');
    expect(statusOf(s, d2)).toBe('finished');
    expect(s.device(a)).toBeUndefined();
  });

  it('resolves group and all_devices targets at creation: later members are not included', () => {
    const s = newStore();
    s.addArtifact(artifact('app'));
    const a = device(s, 'a');
    expect(httpError(() => s.createDeployment({ name: 'g', artifactName: 'app', group: 'pilot', force: false }))).toBe(
      400,
    );
    s.setGroup(a, 'pilot');
    const d = s.createDeployment({ name: 'g', artifactName: 'app', group: 'pilot', force: false });
    const b = device(s, 'b');
    s.setGroup(b, 'pilot');
    expect(s.deployment(d)?.rec.targets).toEqual([a]);
    expect(s.next(b, req())).toBeUndefined();
    expect(httpError(() => s.createDeployment({ name: 'x', artifactName: 'nope', devices: [a], force: false }))).toBe(
      422,
    );
  });

  it('survives a snapshot → restore with its indexes rebuilt', () => {
    const clock = new ManualClock();
    const s = newStore(clock);
    s.addArtifact(artifact('app'));
    const a = device(s, 'a');
    const b = device(s, 'b');
    s.setGroup(a, 'pilot');
    const d = s.createDeployment({ name: 'd', artifactName: 'app', devices: [a, b], force: false });
    s.next(a, req());
    s.reportStatus(d, a, 'downloading', undefined);
    const snap = JSON.parse(JSON.stringify(s.snapshot())) as ReturnType<SimStore['snapshot']>;
    const r = new SimStore(
      {
        now: () => clock.now().getTime(),
        email: 'a@b',
        password: 'p',
        autoAccept: true,
        verifySignatures: false,
        onChange: () => undefined,
      },
      snap,
    );
    expect(r.deployment(d)).toMatchObject({ status: 'inprogress', deviceCount: 1, stats: { downloading: 1 } });
    expect(r.groupMembers('pilot')).toEqual([a]);
    expect(r.next(a, req())?.deployment.id).toBe(d);
    expect(r.next(b, req())?.deployment.id).toBe(d);
  });
});

describe('SimStore auth', () => {
  it('keeps a device pending until accepted, then issues tokens that a reject revokes', () => {
    const s = new SimStore({
      now: () => Date.now(),
      email: 'a@b',
      password: 'p',
      autoAccept: false,
      verifySignatures: false,
      onChange: () => undefined,
    });
    const auth = () =>
      s.authRequest({ idData: '{"mac":"m"}', pubkey: PUB, rawBody: Buffer.alloc(0), signature: undefined });
    expect(httpError(auth)).toBe(401);
    const dev = [...s.devices()][0];
    if (!dev) throw new Error('no device');
    const aid = dev.authSets[0]?.id ?? '';
    s.setAuthStatus(dev.id, aid, 'accepted');
    const token = auth();
    expect(s.verifyDevice(token)).toBe(dev.id);
    s.setAuthStatus(dev.id, aid, 'rejected');
    expect(s.verifyDevice(token)).toBeUndefined();
    expect(httpError(() => s.setAuthStatus(dev.id, aid, 'preauthorized'))).toBe(400);
  });

  it('limits a user to 10 sessions: the oldest logins stop working', () => {
    const s = newStore();
    const tokens = Array.from({ length: 11 }, () => s.login('a@b', 'p', false));
    expect(s.verifyManagement(tokens[0] ?? '')).toBeUndefined();
    expect(s.verifyManagement(tokens[10] ?? '')).toBeDefined();
    expect(httpError(() => s.login('a@b', 'wrong', false))).toBe(401);
  });
});
