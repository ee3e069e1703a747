// Layer-delta compose artifacts (issue #17 item 1), the pure and file-level parts: reading `docker save`
// tarballs by their headers (legacy and OCI layouts, symlinked layers, pax names), the delta planner,
// the delta variant of the build plan and its mender-artifact command line, the --base flag, the
// van-side image choice and index checks, and `artifact verify` on a delta.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { validateComposePayload } from '../../../agent-hooks/compose/bundle.js';
import { chooseImages } from '../../../agent-hooks/compose/delta.js';
import { Constraints } from '../../../core/schemas/artifact-meta.js';
import { ComposeIndex } from '../../../core/schemas/payload-index.js';
import { parseBuildOptions } from '../../../mender-artifacts/build-options.js';
import {
  artifactName,
  type BuildFacts,
  menderArtifactWriteArgs,
  planBuild,
} from '../../../mender-artifacts/build-plan.js';
import { blobName, planDelta, type TargetTarball } from '../../../mender-artifacts/delta-plan.js';
import { indexTar, readSavedImages } from '../../../mender-artifacts/image-tar.js';
import { artifactCli, tempDir } from './fixtures.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const d = (c: string) => `sha256:${c.repeat(64)}`;

/** A tar of [name, content | {link}] entries, as `docker save` writes them. */
async function writeTar(path: string, entries: [string, Buffer | string | { link: string }][]): Promise<void> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: Buffer) => chunks.push(c));
  const end = new Promise((r) => pack.on('end', r));
  for (const [name, body] of entries) {
    if (typeof body === 'object' && !Buffer.isBuffer(body)) pack.entry({ name, type: 'symlink', linkname: body.link });
    else pack.entry({ name }, body);
  }
  pack.finalize();
  await end;
  await writeFile(path, Buffer.concat(chunks));
}

function config(diffIds: string[]): string {
  return JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } });
}

describe('readSavedImages', () => {
  it('reads a legacy docker save (Docker ≤ 24): refs, image id, diff ids, a repeated layer through its symlink', async () => {
    const dir = await tempDir();
    const l1 = Buffer.alloc(3000, 1);
    const l2 = Buffer.alloc(700, 2);
    const cfgA = config([sha(l1), sha(l2)]);
    const cfgB = config([sha(l1)]);
    const idA = sha(cfgA).slice(7);
    const idB = sha(cfgB).slice(7);
    const file = join(dir, 'legacy.tar');
    await writeTar(file, [
      ['aaaa/layer.tar', l1],
      ['bbbb/layer.tar', l2],
      ['cccc/layer.tar', { link: '../aaaa/layer.tar' }],
      [`${idA}.json`, cfgA],
      [`${idB}.json`, cfgB],
      [
        'manifest.json',
        JSON.stringify([
          { Config: `${idA}.json`, RepoTags: ['app:1'], Layers: ['aaaa/layer.tar', 'bbbb/layer.tar'] },
          { Config: `${idB}.json`, RepoTags: null, Layers: ['cccc/layer.tar'] },
        ]),
      ],
    ]);
    const images = await readSavedImages(file);
    expect(images.map((i) => [i.id, i.refs, i.layers.map((l) => [l.digest, l.entry.name, l.entry.size])])).toEqual([
      [
        sha(cfgA),
        ['app:1'],
        [
          [sha(l1), 'aaaa/layer.tar', 3000],
          [sha(l2), 'bbbb/layer.tar', 700],
        ],
      ],
      [sha(cfgB), [], [[sha(l1), 'aaaa/layer.tar', 3000]]],
    ]);
    // The offsets point at the bytes (what staging copies and hashes).
    const entries = await indexTar(file);
    expect(entries.find((e) => e.name === 'aaaa/layer.tar')?.offset).toBe(512);
  });

  it('reads an OCI-layout docker save (Docker ≥ 25) with a pax long name', async () => {
    const dir = await tempDir();
    const layer = Buffer.alloc(1234, 9);
    const cfg = config([sha(layer)]);
    const long = `blobs/sha256/${sha(layer).slice(7)}/${'x'.repeat(120)}`;
    const file = join(dir, 'oci.tar');
    await writeTar(file, [
      ['oci-layout', '{"imageLayoutVersion":"1.0.0"}'],
      [`blobs/sha256/${sha(cfg).slice(7)}`, cfg],
      [long, layer],
      ['index.json', '{}'],
      [
        'manifest.json',
        JSON.stringify([{ Config: `blobs/sha256/${sha(cfg).slice(7)}`, RepoTags: ['web:2'], Layers: [long] }]),
      ],
    ]);
    const [img] = await readSavedImages(file);
    expect(img?.id).toBe(sha(cfg));
    expect(img?.layers[0]?.entry.name).toBe(long);
  });

  it.each([
    ['no manifest.json', [['x', 'y']], 'has no manifest.json: not a docker save tarball'],
    [
      'a layer count that differs',
      [
        ['c.json', config([d('1')])],
        ['manifest.json', '[{"Config":"c.json","Layers":[]}]'],
      ],
      'lists 1 layers, manifest.json 0',
    ],
    [
      'a layer path that is not there',
      [
        ['c.json', config([d('1')])],
        ['manifest.json', '[{"Config":"c.json","Layers":["l.tar"]}]'],
      ],
      'manifest.json names l.tar, which is not in the tarball',
    ],
  ] as [string, [string, string][], string][])('refuses %s in one line', async (_n, entries, msg) => {
    const file = join(await tempDir(), 'bad.tar');
    await writeTar(file, entries);
    await expect(readSavedImages(file)).rejects.toThrow(msg);
  });
});

function target(path: string, images: { id: string; refs: string[]; layers: [string, number][] }[]): TargetTarball {
  return {
    path,
    abs: `/b/${path}`,
    images: images.map((i, n) => ({
      id: i.id,
      refs: i.refs,
      config: { name: `${n}.json`, offset: 100 + n, size: 500, type: '0', linkname: '' },
      layers: i.layers.map(([digest, size], k) => ({
        digest,
        entry: { name: `${k}/layer.tar`, offset: 1000 * (k + 1), size, type: '0', linkname: '' },
      })),
    })),
  };
}

const targets = [
  target('images/a.tar', [
    {
      id: d('a'),
      refs: ['a:1'],
      layers: [
        [d('1'), 100],
        [d('2'), 200],
      ],
    },
  ]),
  target('images/b.tar', [
    {
      id: d('b'),
      refs: ['b:1'],
      layers: [
        [d('1'), 100],
        [d('3'), 300],
        [d('4'), 400],
      ],
    },
  ]),
];

describe('planDelta', () => {
  it('carries every config, only the layers the base lacks (once), and lists every layer of every image', () => {
    const p = planDelta(targets, {
      version: '1.0.0',
      artifactName: 'vancore-platform-1.0.0',
      layers: [d('1'), d('2'), d('9')],
    });
    expect(p.delta.images).toEqual([
      { path: 'images/a.tar', refs: ['a:1'], id: d('a'), layers: [d('1'), d('2')] },
      { path: 'images/b.tar', refs: ['b:1'], id: d('b'), layers: [d('1'), d('3'), d('4')] },
    ]);
    expect(p.blobs.map((b) => [b.kind, b.digest, b.name, b.source])).toEqual([
      ['config', d('a'), blobName(d('a')), { abs: '/b/images/a.tar', offset: 100, size: 500 }],
      ['config', d('b'), blobName(d('b')), { abs: '/b/images/b.tar', offset: 100, size: 500 }],
      ['layer', d('3'), `blob-sha256-${'3'.repeat(64)}`, { abs: '/b/images/b.tar', offset: 2000, size: 300 }],
      ['layer', d('4'), blobName(d('4')), { abs: '/b/images/b.tar', offset: 3000, size: 400 }],
    ]);
    expect(p.stats).toEqual({ new_layers: 2, new_layer_bytes: 700, reused_layers: 2, reused_layer_bytes: 300 });
    expect(p.delta.base).toEqual({ version: '1.0.0', artifact_name: 'vancore-platform-1.0.0' });
  });

  it('a base with none of the layers carries them all', () => {
    const p = planDelta(targets, { version: '0.1.0', artifactName: 'x', layers: [] });
    expect(p.stats).toMatchObject({ new_layers: 4, reused_layers: 0, new_layer_bytes: 1000 });
  });
});

function facts(): BuildFacts {
  return {
    options: parseBuildOptions({
      type: 'compose', component: 'platform', version: '2.0.0', 'device-type': ['vanpc'], bundle: '/b', base: 'v1.mender',
    }), // prettier-ignore
    constraints: Constraints.parse({}),
    payload: {
      type: 'compose',
      composeFile: 'docker-compose.yml',
      images: ['images/a.tar', 'images/b.tar'],
      files: [
        { path: 'docker-compose.yml', abs: '/b/docker-compose.yml', size: 40, mode: 0o644 },
        { path: 'images/a.tar', abs: '/b/images/a.tar', size: 5000, mode: 0o644 },
        { path: 'images/b.tar', abs: '/b/images/b.tar', size: 5000, mode: 0o644 },
      ],
      saved: targets,
    },
    scripts: [],
    signing: null,
    base: {
      file: 'v1.mender',
      component: 'platform',
      version: '1.0.0',
      artifactName: 'vancore-platform-1.0.0',
      layers: [d('1'), d('2')],
    },
    menderArtifactVersion: '3.9.0',
    now: new Date('2026-12-06T21:00:00Z'),
  };
}

describe('planBuild, delta variant', () => {
  it('has its own name, the full provides, depends on the base version, delta_of in the meta-data', () => {
    const full = planBuild(facts());
    const delta = planBuild(facts(), 'delta');
    expect(artifactName('platform', '2.0.0', null, '1.0.0')).toBe('vancore-platform-2.0.0-delta-from-1.0.0');
    expect(delta.name).toBe('vancore-platform-2.0.0-delta-from-1.0.0');
    expect(delta.provides).toEqual({ ...full.provides, artifact_name: delta.name });
    expect(delta.depends).toEqual({ device_type: ['vanpc'], 'vancore.platform.version': ['1.0.0'] });
    expect(full.depends).toEqual({ device_type: ['vanpc'] });
    expect(delta.metaData.vancore.delta_of).toBe('1.0.0');
    expect(full.metaData.vancore.delta_of).toBeUndefined();
    // The index: no tarballs, the delta section; it parses as a van will parse it.
    const index = ComposeIndex.parse(delta.index);
    expect(index.images).toEqual([]);
    expect(index.files.map((f) => f.path)).toEqual(['docker-compose.yml']);
    expect(index.delta?.blobs.map((b) => b.digest)).toEqual([d('a'), d('b'), d('3'), d('4')]);
    expect(delta.staged.filter((s) => s.kind === 'range').map((s) => s.name)).toEqual(
      [d('a'), d('b'), d('3'), d('4')].map(blobName),
    );
    expect(delta.manifest.delta).toEqual({
      base_version: '1.0.0',
      base_artifact: 'vancore-platform-1.0.0',
      full_artifact: 'vancore-platform-2.0.0',
      new_layers: 2,
      new_layer_bytes: 700,
      reused_layers: 2,
      reused_layer_bytes: 300,
    });
    // Both manifests list the release's images: a later --base can be this manifest.
    expect(full.manifest.images).toEqual(delta.manifest.images);
    expect(full.manifest.images?.[1]).toEqual({
      path: 'images/b.tar',
      id: d('b'),
      refs: ['b:1'],
      layers: [d('1'), d('3'), d('4')],
    });
    const args = menderArtifactWriteArgs(delta, { stageDir: '/s', metaDataFile: '/m', keyFile: null, output: '/o' });
    expect(args.join(' ')).toContain('--software-version 2.0.0 --depends vancore.platform.version:1.0.0 --meta-data');
    expect(
      menderArtifactWriteArgs(full, { stageDir: '/s', metaDataFile: '/m', keyFile: null, output: '/o' }),
    ).not.toContain('--depends');
  });
});

describe('--base', () => {
  it.each([
    [
      { type: 'config', component: 'config', file: ['a:/etc/vancore/a'], bundle: undefined, base: 'x' },
      '--base is only for --type compose, not --type config',
    ],
    [{ base: 'x', 'revert-of': '3.0.0', 'sign-key': 'k' }, '--base cannot be combined with --revert-of'],
    [{ base: '' }, '--base needs a FILE'],
  ] as [Record<string, unknown>, string][])('refuses %j in one line', (over, msg) => {
    const values = {
      type: 'compose',
      component: 'platform',
      version: '2.0.0',
      'device-type': ['vanpc'],
      bundle: '/b',
      ...over,
    };
    expect(() => parseBuildOptions(values as never)).toThrow(msg);
  });

  it('refuses a base that is missing, newer, or a manifest without layers — nothing is written', async () => {
    const dir = await tempDir();
    const bundle = join(dir, 'bundle');
    await import('node:fs/promises').then((fs) => fs.mkdir(bundle));
    await writeFile(join(bundle, 'docker-compose.yml'), 'services:\n  a:\n    image: a:1\n');
    const run = (base: string) =>
      artifactCli([
        'build', '--type', 'compose', '--component', 'platform', '--version', '2.0.0', '--device-type', 'vanpc',
        '--bundle', bundle, '--no-gate-scripts', '--out', join(dir, 'out'), '--base', base,
      ]); // prettier-ignore
    const missing = await run(join(dir, 'nope.manifest.json'));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('does not exist');
    const old = { manifest_format: 1, name: 'vancore-platform-3.0.0', file: 'f', type: 'vancore-compose', component: 'platform', version: '3.0.0',
      sha256: 'a'.repeat(64), size: 1, provides: {}, clears_provides: [], depends: {}, device_types: [], requires: {},
      constraints: Constraints.parse({}), validation: { window_seconds: 300, require_cloud: true }, scripts: [],
      payload: { files: 1, bytes: 1 }, signed_by: null, built_at: '2026-12-06T00:00:00Z', mender_artifact_version: '3.9.0' }; // prettier-ignore
    await writeFile(join(dir, 'old.manifest.json'), JSON.stringify(old));
    const noLayers = await run(join(dir, 'old.manifest.json'));
    expect(noLayers.stderr).toContain(
      'lists no image layers (built before delta support): pass the base .mender instead',
    );
    await writeFile(join(dir, 'new.manifest.json'), JSON.stringify({ ...old, images: [] }));
    const newer = await run(join(dir, 'new.manifest.json'));
    expect(newer.stderr).toContain('is version 3.0.0: a delta goes from an older release to --version 2.0.0');
    expect(await import('node:fs/promises').then((fs) => fs.readdir(join(dir, 'out')).catch(() => []))).toEqual([]);
  });
});

describe('van side', () => {
  it('chooseImages: the fewest images covering the layers; what none has is missing', () => {
    const images = [
      { id: 'x', layers: [d('1')] },
      { id: 'y', layers: [d('1'), d('2'), d('3')] },
      { id: 'z', layers: [d('4')] },
    ];
    expect(chooseImages(new Set([d('1'), d('2'), d('4')]), images)).toEqual({ ids: ['y', 'z'], missing: [] });
    expect(chooseImages(new Set([d('1'), d('7')]), images)).toEqual({ ids: ['x'], missing: [d('7')] });
  });

  const deltaIndex = (over: Record<string, unknown> = {}) => ({
    format: 1,
    type: 'vancore-compose',
    component: 'platform',
    version: '2.0.0',
    compose_file: 'docker-compose.yml',
    files: [{ name: '0000-docker-compose.yml', path: 'docker-compose.yml', mode: '0644', size: 10 }],
    images: [],
    delta: {
      format: 1,
      base: { version: '1.0.0', artifact_name: 'vancore-platform-1.0.0' },
      images: [{ path: 'images/a.tar', refs: ['a:1'], id: d('a'), layers: [d('1'), d('2')] }],
      blobs: [
        { name: blobName(d('a')), digest: d('a'), size: 5 },
        { name: blobName(d('2')), digest: d('2'), size: 7 },
      ],
    },
    ...over,
  });
  const present = [
    { name: '0000-docker-compose.yml', size: 10 },
    { name: blobName(d('a')), size: 5 },
    { name: blobName(d('2')), size: 7 },
  ];
  const meta = (deltaOf?: string) => ({
    vancore: { component: 'platform', version: '2.0.0', ...(deltaOf ? { delta_of: deltaOf } : {}) },
  });

  it('validateComposePayload takes a delta: blobs are payload files, the base matches the meta-data', () => {
    const b = validateComposePayload(deltaIndex(), meta('1.0.0'), present);
    expect(b.images).toEqual([]);
    expect(b.delta?.images[0]?.id).toBe(d('a'));
  });

  it.each([
    [
      'a blob missing from the payload',
      deltaIndex(),
      present.slice(0, 2),
      meta('1.0.0'),
      `payload file '${blobName(d('2'))}' is missing`,
    ],
    [
      'a payload file not in the index',
      deltaIndex(),
      [...present, { name: 'blob-extra', size: 1 }],
      meta('1.0.0'),
      "payload file 'blob-extra' is not in the signed",
    ],
    [
      'an image without its config',
      deltaIndex({ delta: { ...deltaIndex().delta, blobs: [deltaIndex().delta.blobs[1]] } }),
      [present[0]!, present[2]!],
      meta('1.0.0'),
      'delta: the config of images/a.tar (sha256:aaaaaaaaaaaa…) is not in the payload',
    ],
    [
      'meta-data naming another base',
      deltaIndex(),
      present,
      meta('1.5.0'),
      'delta: meta-data says delta of 1.5.0, vancore-index.json of 1.0.0',
    ],
    [
      'tarballs beside a delta',
      deltaIndex({ images: ['docker-compose.yml'] }),
      present,
      meta('1.0.0'),
      'cannot be both compose file and image',
    ],
  ] as [string, unknown, { name: string; size: number }[], unknown, string][])(
    'refuses %s',
    (_n, index, files, m, msg) => {
      expect(() => validateComposePayload(index, m, files)).toThrow(msg);
    },
  );
});
