// The verdict of `artifact verify` from what mender-artifact printed and what the file holds, including
// the 3.9 exit-code bugs of RECIPE §2.3 (validate exits 0 on an unsupported key; read exits 0 on a
// wrong key).
import { describe, expect, it } from 'vitest';
import type { ArtifactFileInfo } from '../../../core/artifact-file.js';
import type { BuildManifest } from '../../../mender-artifacts/manifest.js';
import { type VerifyFacts, formatVerifyReport, judgeVerification } from '../../../mender-artifacts/verify.js';
import { metaDoc } from '../../helpers/builders.js';

const FP = 'a1'.repeat(32);
const SHA = 'c3'.repeat(32);
const OK_VALIDATE = { exitCode: 0, stdout: "Artifact file 'a.mender' validated successfully\n", stderr: '' };
const OK_READ = {
  exitCode: 0,
  stdout: 'Mender artifact:\n  Name: vancore-platform-0.9.2\n  Signature: signed and verified correctly\n',
  stderr: '',
};

function artifact(over: Partial<ArtifactFileInfo> = {}): ArtifactFileInfo {
  return {
    name: 'vancore-platform-0.9.2',
    format: 'mender',
    version: 3,
    deviceTypes: ['vanpc'],
    provides: { artifact_name: 'vancore-platform-0.9.2' },
    depends: { device_type: ['vanpc'] },
    payloads: [
      {
        index: 0,
        type: 'vancore-compose',
        provides: { 'vancore.platform.version': '0.9.2' },
        depends: {},
        clearsProvides: ['vancore.platform.*'],
        metaData: metaDoc(),
        files: [],
      },
    ],
    scripts: [],
    signed: true,
    compression: 'gzip',
    size: 6144,
    sha256: SHA,
    ...over,
  };
}

function manifest(over: Partial<BuildManifest> = {}): BuildManifest {
  return {
    manifest_format: 1,
    name: 'vancore-platform-0.9.2',
    file: 'vancore-platform-0.9.2.mender',
    type: 'vancore-compose',
    component: 'platform',
    version: '0.9.2',
    sha256: SHA,
    size: 6144,
    provides: { artifact_name: 'vancore-platform-0.9.2', 'vancore.platform.version': '0.9.2' },
    clears_provides: ['vancore.platform.*'],
    depends: { device_type: ['vanpc'] },
    device_types: ['vanpc'],
    requires: {},
    constraints: {
      must_be_stationary: true,
      stationary_minutes: 3,
      min_signal_quality: 0.6,
      min_battery_soc: 30,
      shore_power_overrides_battery: true,
      maintenance_window: null,
    },
    validation: { window_seconds: 300, require_cloud: true },
    scripts: [],
    payload: { files: 1, bytes: 10 },
    signed_by: { algorithm: 'ecdsa-p256', bits: 256, fingerprint: FP },
    built_at: '2026-11-22T10:00:00Z',
    mender_artifact_version: '3.9.0+ds1-1+b5',
    ...over,
  };
}

function facts(over: Partial<VerifyFacts> = {}): VerifyFacts {
  return {
    file: 'a.mender',
    key: { algorithm: 'ecdsa-p256', bits: 256, fingerprint: FP },
    keyFile: 'k.pub',
    validate: OK_VALIDATE,
    read: OK_READ,
    artifact: artifact(),
    manifest: { path: '/x/vancore-platform-0.9.2.manifest.json', value: manifest() },
    ...over,
  };
}

describe('judgeVerification', () => {
  it('passes a signed artifact whose manifest, meta-data and provides agree', () => {
    expect(judgeVerification(facts())).toEqual([]);
    expect(judgeVerification(facts({ manifest: null }))).toEqual([]);
  });

  it.each<[string, Partial<VerifyFacts>, string]>([
    [
      'validate exits 0 but complains about the key (the ed25519 bug)',
      { validate: { exitCode: 0, stdout: '', stderr: 'unsupported public key type: [8 212]' } },
      'mender-artifact validate failed: unsupported public key type: [8 212]',
    ],
    [
      'validate exits 0 without saying validated',
      { validate: { exitCode: 0, stdout: '', stderr: '' } },
      'mender-artifact validate failed: no output',
    ],
    [
      'wrong RSA key',
      { validate: { exitCode: 4, stdout: '', stderr: 'crypto/rsa: verification error' } },
      'the signature does not match the key k.pub',
    ],
    [
      'RSA-signed checked with an EC key',
      { validate: { exitCode: 4, stdout: '', stderr: 'signer: invalid ecdsa key size: 256' } },
      'the signature does not match the key k.pub',
    ],
    [
      'unsigned artifact',
      { validate: { exitCode: 4, stdout: '', stderr: 'missing signature' } },
      'the artifact is not signed',
    ],
    [
      'read exits 0 with a failed verification (validate fooled)',
      {
        read: {
          exitCode: 0,
          stdout: '  Name: vancore-platform-0.9.2\n  Signature: signed; verification using provided key failed\n',
          stderr: '',
        },
      },
      'the signature does not match the key k.pub',
    ],
    ['header carries no signature', { artifact: artifact({ signed: false }) }, 'the artifact is not signed'],
    [
      'manifest sha256 differs',
      { artifact: artifact({ sha256: 'd4'.repeat(32) }) },
      `manifest vancore-platform-0.9.2.manifest.json: sha256 differs (file ${'d4'.repeat(32)})`,
    ],
    [
      'manifest size differs',
      { artifact: artifact({ size: 7000, sha256: SHA }) },
      'manifest vancore-platform-0.9.2.manifest.json: size 6144 but the file has 7000',
    ],
    [
      'manifest signed by another key',
      {
        manifest: {
          path: 'm.json',
          value: manifest({ signed_by: { algorithm: 'rsa', bits: 2048, fingerprint: 'ee'.repeat(32) } }),
        },
      },
      `manifest m.json: signed by key ${'ee'.repeat(8)}…, not by ${'a1'.repeat(8)}…`,
    ],
    [
      'manifest of another device set',
      { manifest: { path: 'm.json', value: manifest({ device_types: ['vanpc', 'truck'] }) } },
      "manifest m.json: device types differ from the artifact's",
    ],
    [
      'manifest naming a vpn step the meta-data does not carry',
      { manifest: { path: 'm.json', value: manifest({ vpn_step: 'cutover' }) } },
      'manifest m.json: vpn step cutover but meta-data says (none)',
    ],
    [
      'meta-data that breaks the contract',
      {
        artifact: artifact({
          payloads: [{ ...artifact().payloads[0]!, metaData: metaDoc({}, { min_battery_soc: 130 }) }],
        }),
      },
      'meta-data: vancore.constraints.min_battery_soc: must be ≤ 100',
    ],
    [
      'provides that disagree with meta-data',
      {
        artifact: artifact({
          payloads: [{ ...artifact().payloads[0]!, provides: { 'vancore.platform.version': '0.9.1' } }],
        }),
      },
      'provides vancore.platform.version=0.9.1 but meta-data says 0.9.2',
    ],
    [
      'a revert whose name does not say so',
      {
        artifact: artifact({
          payloads: [{ ...artifact().payloads[0]!, metaData: metaDoc({ version: '0.9.2', revert_of: '1.0.0' }) }],
        }),
        manifest: null,
      },
      'artifact name vancore-platform-0.9.2 does not match meta-data (vancore-platform-0.9.2-revert-1.0.0)',
    ],
    [
      'manifest naming a revert the meta-data does not carry',
      { manifest: { path: 'm.json', value: manifest({ revert_of: '1.0.0' }) } },
      'manifest m.json: revert of 1.0.0 but meta-data says (none)',
    ],
  ])('%s', (_name, over, first) => {
    const problems = judgeVerification(facts(over));
    expect(problems[0]).toBe(first);
  });

  it('passes a signed revert artifact whose name, meta-data and manifest agree; refuses a revert_of that is not newer', () => {
    const name = 'vancore-platform-0.9.2-revert-1.0.0';
    const revert = (revertOf: string) =>
      facts({
        read: { ...OK_READ, stdout: OK_READ.stdout.replace('vancore-platform-0.9.2', name) },
        artifact: artifact({
          name,
          payloads: [{ ...artifact().payloads[0]!, metaData: metaDoc({ revert_of: revertOf }) }],
        }),
        manifest: null,
      });
    expect(judgeVerification(revert('1.0.0'))).toEqual([]);
    const older = judgeVerification({
      ...revert('0.9.0'),
      artifact: { ...revert('0.9.0').artifact, name: 'vancore-platform-0.9.2-revert-0.9.0' },
    });
    expect(older).toContain('meta-data revert_of 0.9.0 is not newer than version 0.9.2: not a revert');
  });
});

describe('judgeVerification: layer-delta artifacts (issue #17)', () => {
  const name = 'vancore-platform-0.9.2-delta-from-0.9.1';
  const delta = (depends: Record<string, string | string[]>, deltaOf = '0.9.1', manifestDelta?: string) =>
    facts({
      read: { ...OK_READ, stdout: OK_READ.stdout.replace('vancore-platform-0.9.2', name) },
      artifact: artifact({
        name,
        payloads: [{ ...artifact().payloads[0]!, depends, metaData: metaDoc({ delta_of: deltaOf }) }],
      }),
      manifest:
        manifestDelta === undefined
          ? null
          : {
              path: 'm.json',
              value: manifest({
                name,
                provides: { artifact_name: name, 'vancore.platform.version': '0.9.2' },
                delta: {
                  base_version: manifestDelta,
                  base_artifact: 'vancore-platform-0.9.1',
                  full_artifact: 'vancore-platform-0.9.2',
                  new_layers: 1,
                  new_layer_bytes: 10,
                  reused_layers: 2,
                  reused_layer_bytes: 20,
                },
              }),
            },
    });

  it('passes a delta named for its base that depends on the base version', () => {
    expect(judgeVerification(delta({ 'vancore.platform.version': '0.9.1' }, '0.9.1', '0.9.1'))).toEqual([]);
  });

  it('refuses a delta without the depends, a misnamed one, a newer base, a manifest naming another base', () => {
    expect(judgeVerification(delta({}))).toContain(
      'delta of 0.9.1 but it depends on vancore.platform.version=(nothing)',
    );
    expect(judgeVerification(delta({ 'vancore.platform.version': '0.9.1' }, '0.9.0'))[0]).toBe(
      `artifact name ${name} does not match meta-data (vancore-platform-0.9.2-delta-from-0.9.0)`,
    );
    expect(judgeVerification(delta({ 'vancore.platform.version': '0.9.1' }, '0.9.1', '0.9.0'))).toEqual([
      'manifest m.json: delta of 0.9.0 but meta-data says 0.9.1',
    ]);
  });

  it('verify prints that it is a delta and of which base', () => {
    const text = formatVerifyReport({
      file: 'd.mender',
      name,
      type: 'vancore-compose',
      size: 5,
      key: { algorithm: 'ecdsa-p256', bits: 256, fingerprint: FP },
      provides: {},
      deviceTypes: ['vanpc'],
      scripts: [],
      manifest: null,
      revertOf: null,
      deltaOf: '0.9.1',
    });
    expect(text).toContain('  delta     layer delta from 0.9.1: installs only on vans running 0.9.1\n');
  });
});
