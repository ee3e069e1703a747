// The van-side rebuild of a layer-delta compose artifact (agent-hooks/compose/delta.ts) against an
// engine whose `docker save` streams a prepared tarball: both layouts docker has written (legacy, as
// dockerd 20.10 in the system test; OCI, as Docker ≥ 25), and each clean failure. The real dockerd +
// real client path is test/system/agent-hooks-compose-delta.test.ts.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Readable } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { rebuildDeltaImages } from '../../../agent-hooks/compose/delta.js';
import type { Engine } from '../../../agent-hooks/compose/engine.js';
import type { ComposeDelta } from '../../../core/schemas/payload-index.js';
import { blobName } from '../../../mender-artifacts/delta-plan.js';
import { indexTar, readSavedImages } from '../../../mender-artifacts/image-tar.js';
import { tempDir } from '../mender-artifacts/fixtures.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (d: string) => d.slice(7);

const base1 = Buffer.alloc(300_000, 1);
const base2 = Buffer.alloc(5_000_000, 2); // above the 4 MiB "small entry" bound: streamed to disk
const fresh = Buffer.alloc(2_000, 3);
const cfgOld = JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha(base1), sha(base2)] } });
const cfgNew = JSON.stringify({
  os: 'linux',
  rootfs: { type: 'layers', diff_ids: [sha(base1), sha(base2), sha(fresh)] },
});

function saveStream(entries: [string, Buffer | string | { link: string }][]): Readable {
  const pack = tar.pack();
  for (const [name, body] of entries) {
    if (typeof body === 'object' && !Buffer.isBuffer(body)) pack.entry({ name, type: 'symlink', linkname: body.link });
    else pack.entry({ name }, body);
  }
  pack.finalize();
  return pack;
}

const legacy = (layer2: Buffer = base2) =>
  saveStream([
    ['aaa/layer.tar', base1],
    ['aaa/json', '{}'],
    ['bbb/layer.tar', layer2],
    [`${hex(sha(cfgOld))}.json`, cfgOld],
    [
      'manifest.json',
      JSON.stringify([
        { Config: `${hex(sha(cfgOld))}.json`, RepoTags: ['app:1'], Layers: ['aaa/layer.tar', 'bbb/layer.tar'] },
      ]),
    ],
    ['repositories', '{}'],
  ]);

const oci = (layer1: Buffer = base1) =>
  saveStream([
    ['oci-layout', '{"imageLayoutVersion":"1.0.0"}'],
    [`blobs/sha256/${hex(sha(base1))}`, layer1],
    [`blobs/sha256/${hex(sha(base2))}`, base2],
    [`blobs/sha256/${hex(sha(cfgOld))}`, cfgOld],
    ['index.json', '{}'],
    [
      'manifest.json',
      JSON.stringify([
        {
          Config: `blobs/sha256/${hex(sha(cfgOld))}`,
          RepoTags: ['app:1'],
          Layers: [sha(base1), sha(base2)].map((d) => `blobs/sha256/${hex(d)}`),
        },
      ]),
    ],
  ]);

function engine(
  save: () => Readable,
  images = [{ id: sha(cfgOld), layers: [sha(base1), sha(base2)] }],
  code = 0,
): Engine {
  return {
    imageLayers: () => Promise.resolve(images),
    save: () => ({
      stdout: save(),
      done: Promise.resolve({
        code,
        signal: null,
        stdout: '',
        stderr: code ? 'Error: layer store broken' : '',
        timedOut: false,
      }),
      kill: () => undefined,
    }),
  } as unknown as Engine;
}

const delta: ComposeDelta = {
  format: 1,
  base: { version: '1.0.0', artifact_name: 'vancore-platform-1.0.0' },
  images: [{ path: 'images/app.tar', refs: ['app:2'], id: sha(cfgNew), layers: [sha(base1), sha(base2), sha(fresh)] }],
  blobs: [
    { name: blobName(sha(cfgNew)), digest: sha(cfgNew), size: cfgNew.length },
    { name: blobName(sha(fresh)), digest: sha(fresh), size: fresh.length },
  ],
};

async function payload(freshBytes: Buffer = fresh): Promise<{ files: string; work: string }> {
  const dir = await tempDir('vc-delta-');
  const files = join(dir, 'files');
  await mkdir(files);
  await writeFile(join(files, blobName(sha(cfgNew))), cfgNew);
  await writeFile(join(files, blobName(sha(fresh))), freshBytes);
  return { files, work: join(dir, 'work') };
}

describe('rebuildDeltaImages', () => {
  it.each([
    ['legacy (Docker ≤ 24)', () => legacy()],
    ['OCI layout (Docker ≥ 25)', () => oci()],
  ])('rebuilds the exact image from a %s docker save and the payload', async (_n, save) => {
    const { files, work } = await payload();
    const lines: string[] = [];
    const r = await rebuildDeltaImages(engine(save), delta, files, work, (l) => lines.push(l));
    const [img] = await readSavedImages(r.tarball);
    expect(img?.id).toBe(sha(cfgNew));
    expect(img?.refs).toEqual(['app:2']);
    expect(img?.layers.map((l) => l.digest)).toEqual([sha(base1), sha(base2), sha(fresh)]);
    // Each layer in the tarball is byte for byte the layer its digest names.
    const bytes = await readFile(r.tarball);
    for (const l of img?.layers ?? []) {
      expect(sha(bytes.subarray(l.entry.offset, l.entry.offset + l.entry.size))).toBe(l.digest);
    }
    expect(r.stats).toEqual({ payloadBlobs: 2, vanLayers: 2, vanBytes: base1.length + base2.length, savedImages: 1 });
    expect(lines.at(-1)).toMatch(
      /^delta: rebuilt 1 images .* from 2 payload blobs and 2 layers of the van in [\d.]+ s; every digest checked$/,
    );
    // Nothing but the tarball is left in the work dir.
    expect((await indexTar(r.tarball)).map((e) => e.name).at(-1)).toBe('manifest.json');
  });

  it('a payload blob that is not what the index names: delta_digest_mismatch, docker save never runs', async () => {
    const { files, work } = await payload(Buffer.alloc(2_000, 4));
    let saved = false;
    const e = engine(() => {
      saved = true;
      return legacy();
    });
    await expect(rebuildDeltaImages(e, delta, files, work, () => undefined)).rejects.toThrow(
      new RegExp(
        `^delta_digest_mismatch: payload file ${blobName(sha(fresh))} hashes to sha256:[0-9a-f]{12}…, the index says sha256:[0-9a-f]{12}…; nothing was loaded$`,
      ),
    );
    expect(saved).toBe(false);
  });

  it('a base layer in no image of the van: delta_base_missing naming the image and the count', async () => {
    const { files, work } = await payload();
    const e = engine(() => legacy(), [{ id: 'x', layers: [sha(base1)] }]);
    await expect(rebuildDeltaImages(e, delta, files, work, () => undefined)).rejects.toThrow(
      /^delta_base_missing: layer sha256:[0-9a-f]{12}… of images\/app\.tar is in no image on this van \(1 of 2 base layers missing; the delta is from 1\.0\.0\): install the full artifact$/,
    );
  });

  it.each([
    ['legacy, a big layer', () => legacy(Buffer.alloc(5_000_000, 9))],
    ['OCI, a small layer', () => oci(Buffer.alloc(300_000, 9))],
  ])('a base layer docker save re-exports with other bytes (%s): delta_digest_mismatch', async (_n, save) => {
    const { files, work } = await payload();
    await expect(rebuildDeltaImages(engine(save), delta, files, work, () => undefined)).rejects.toThrow(
      /^delta_digest_mismatch: base layer sha256:[0-9a-f]{12}… of images\/app\.tar re-exported by docker save hashes to sha256:[0-9a-f]{12}…: the van's copy is damaged; nothing was loaded$/,
    );
  });

  it('docker save failing: delta_base_missing with its reason', async () => {
    const { files, work } = await payload();
    await expect(
      rebuildDeltaImages(
        engine(() => legacy(), undefined, 1),
        delta,
        files,
        work,
        () => undefined,
      ),
    ).rejects.toThrow(/^delta_base_missing: docker save of the base images: exit 1 \(Error: layer store broken\)$/);
  });
});
