// core/artifact-file.ts against artifacts written by the real mender-artifact 3.9 (RECIPE §2).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mergedClearsProvides,
  mergedDepends,
  mergedProvides,
  readArtifactFile,
  readArtifactStream,
} from '../../../core/artifact-file.js';
import { VanError } from '../../../core/errors.js';
import { buildArtifact } from '../../../mender-sim/testkit.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-artfile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FULL = {
  name: 'vancore-1.2.3',
  deviceTypes: ['vanpc', 'vanpc-v2'],
  files: { 'docker-compose.yml': 'services: {}\n', VERSION: '1.2.3\n' },
  metaData: { vancore: { component: 'platform', version: '1.2.3' } },
  provides: { 'vancore.channel': 'stable' },
  depends: { 'vancore.hw': 'gen2' },
  scripts: ['ArtifactInstall_Enter_00_vangate', 'ArtifactCommit_Enter_00_vangate'],
  softwareName: 'platform',
  softwareVersion: '1.2.3',
};

async function rejection(p: Promise<unknown>): Promise<VanError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof VanError)) throw new Error(`expected a VanError, got ${String(e)}`);
  expect(e.code).toBe('INPUT_INVALID');
  return e;
}

describe('readArtifactFile', () => {
  it.each(['none', 'gzip', 'lzma'] as const)(
    'reads a module-image written with --compression %s',
    async (compression) => {
      const path = await buildArtifact(dir, { ...FULL, compression });
      const bytes = await readFile(path);
      const info = await readArtifactFile(path);
      expect(info).toMatchObject({
        name: 'vancore-1.2.3',
        format: 'mender',
        version: 3,
        deviceTypes: ['vanpc', 'vanpc-v2'],
        provides: { artifact_name: 'vancore-1.2.3' },
        depends: { device_type: ['vanpc', 'vanpc-v2'] },
        scripts: ['ArtifactCommit_Enter_00_vangate', 'ArtifactInstall_Enter_00_vangate'],
        signed: false,
        compression: compression === 'lzma' ? 'xz' : compression,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
      expect(info.payloads).toHaveLength(1);
      expect(info.payloads[0]).toMatchObject({
        index: 0,
        type: 'vancore-compose',
        provides: { 'rootfs-image.platform.version': '1.2.3', 'vancore.channel': 'stable' },
        depends: { 'vancore.hw': 'gen2' },
        clearsProvides: ['rootfs-image.platform.*'],
        metaData: FULL.metaData,
      });
      expect(info.payloads[0]?.files.map((f) => [f.name, f.size])).toEqual([
        ['docker-compose.yml', 13],
        ['VERSION', 6],
      ]);
      expect(info.payloads[0]?.files[0]?.checksum).toBe(createHash('sha256').update('services: {}\n').digest('hex'));
      expect(mergedProvides(info)).toEqual({
        artifact_name: 'vancore-1.2.3',
        'rootfs-image.platform.version': '1.2.3',
        'vancore.channel': 'stable',
      });
      expect(mergedDepends(info)).toEqual({ device_type: ['vanpc', 'vanpc-v2'], 'vancore.hw': 'gen2' });
      expect(mergedClearsProvides(info)).toEqual(['rootfs-image.platform.*']);
    },
  );

  it('sees a signature (manifest.sig) without needing the key', async () => {
    const info = await readArtifactFile(await buildArtifact(dir, { name: 'signed-1', signed: true }));
    expect(info.signed).toBe(true);
  });

  it('reads a rootfs-image (empty type-info type, no meta-data) and artifact-level depends', async () => {
    const payload = join(dir, 'rootfs.ext4');
    await writeFile(payload, Buffer.alloc(8192, 1));
    const out = join(dir, 'rootfs.mender');
    execFileSync(
      'mender-artifact',
      [
        'write',
        'rootfs-image',
        '-f',
        payload,
        '-n',
        'rootfs-1',
        '-t',
        'vanpc',
        '-N',
        'rootfs-0',
        '-g',
        'grp',
        '-o',
        out,
      ],
      { stdio: 'pipe' },
    );
    const info = await readArtifactFile(out);
    expect(info.payloads[0]).toMatchObject({ type: 'rootfs-image', files: [{ name: 'rootfs.ext4', size: 8192 }] });
    expect(info.payloads[0]?.metaData).toBeUndefined();
    expect(info.depends).toEqual({ device_type: ['vanpc'], artifact_name: ['rootfs-0'] });
    expect(info.provides).toEqual({ artifact_name: 'rootfs-1', artifact_group: 'grp' });
  });

  it('reads from a stream (an upload in flight)', async () => {
    const path = await buildArtifact(dir, { name: 'streamed-1' });
    const info = await readArtifactStream(createReadStream(path));
    expect(info.name).toBe('streamed-1');
  });

  it('reads a payload without files', async () => {
    const out = join(dir, 'empty-payload.mender');
    execFileSync(
      'mender-artifact',
      ['write', 'module-image', '-T', 'single-file', '-n', 'nofiles', '-t', 'x', '-o', out],
      {
        stdio: 'pipe',
      },
    );
    expect((await readArtifactFile(out)).payloads[0]?.files).toEqual([]);
  });
});

describe('readArtifactFile rejects anything else with INPUT_INVALID', () => {
  let good: Buffer;
  beforeAll(async () => {
    good = await readFile(await buildArtifact(dir, { name: 'base-1', files: { 'a.txt': 'x'.repeat(3000) } }));
  });

  const write = async (name: string, bytes: Buffer): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, bytes);
    return p;
  };

  it.each([
    ['an empty file', () => Buffer.alloc(0), /empty or not a tar/],
    ['random bytes', () => Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251)), /not a tar archive/],
    ['a truncated artifact', () => good.subarray(0, 3000), /truncated/],
    ['a JSON file', () => Buffer.from('{"hello":"world"}'), /too short to be a tar archive/],
  ])('%s', async (_n, bytes, message) => {
    const e = await rejection(readArtifactFile(await write(`bad-${Math.random()}.mender`, bytes())));
    expect(e.message).toMatch(/^not a valid Mender artifact \(format 3\): /);
    expect(e.message).toMatch(message);
  });

  it('a payload byte changed (checksum mismatch against the manifest)', async () => {
    const bytes = await readFile(
      await buildArtifact(dir, { name: 'raw-1', compression: 'none', files: { 'a.txt': 'x'.repeat(3000) } }),
    );
    const at = bytes.indexOf('x'.repeat(100));
    bytes[at + 10] = 'y'.charCodeAt(0);
    const e = await rejection(readArtifactFile(await write('flipped.mender', bytes)));
    expect(e.message).toMatch(/invalid checksum for 'data\/0000\/a.txt'/);
  });

  it('a corrupted compressed header', async () => {
    const bytes = Buffer.from(good);
    const at = bytes.indexOf('header.tar.gz') + 512 + 30;
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    const e = await rejection(readArtifactFile(await write('bad-header.mender', bytes)));
    expect(e.message).toMatch(/corrupted|checksum|not JSON|truncated/);
  });

  it('a plain tar that is not an artifact', async () => {
    const src = join(dir, 'plain');
    execFileSync('sh', ['-c', `mkdir -p ${src} && echo hi > ${src}/x && tar -C ${src} -cf ${src}.tar x`]);
    const e = await rejection(readArtifactFile(`${src}.tar`));
    expect(e.message).toMatch(/first entry must be 'version', found 'x'/);
  });

  it('format version 2', async () => {
    const payload = join(dir, 'v2.img');
    await writeFile(payload, 'x');
    const out = join(dir, 'v2.mender');
    execFileSync(
      'mender-artifact',
      ['write', 'rootfs-image', '-f', payload, '-n', 'v2', '-t', 'x', '-v', '2', '-o', out],
      {
        stdio: 'pipe',
      },
    );
    expect((await rejection(readArtifactFile(out))).message).toMatch(/unsupported version 2/);
  });

  it('an xz header without the xz tool says what to install', async () => {
    const path = await buildArtifact(dir, { name: 'xz-1', compression: 'lzma' });
    const e = await rejection(readArtifactFile(path, { xzCommand: '/nonexistent/xz' }));
    expect(e.message).toMatch(/needs the '\/nonexistent\/xz' tool \(apt-get install xz-utils\)/);
  });
});
