// Decide what a layer-delta compose artifact carries (issue #17, `artifact build --base`): pure, from
// the target images (read from the bundle's `docker save` tarballs) and the layers the base release
// has. Every target image is described layer by layer (its diff ids, in order); its config travels
// always (a few KiB: it *is* the image id), a layer only when the base release does not have it.
import type { ComposeDelta } from '../core/schemas/payload-index.js';
import type { SavedImage, TarEntry } from './image-tar.js';

export interface TargetTarball {
  /** Path inside the bundle (`images/web.tar`). */
  path: string;
  /** Absolute path on the build machine. */
  abs: string;
  images: SavedImage[];
}

export interface DeltaBase {
  version: string;
  artifactName: string;
  /** Every layer diff id the base release's images have. */
  layers: readonly string[];
}

export interface DeltaBlob {
  /** Payload file name. */
  name: string;
  digest: string;
  size: number;
  kind: 'config' | 'layer';
  /** Where the bytes are: a byte range of a tarball in the bundle. */
  source: { abs: string; offset: number; size: number };
}

export interface DeltaPlan {
  delta: ComposeDelta;
  blobs: DeltaBlob[];
  stats: { new_layers: number; new_layer_bytes: number; reused_layers: number; reused_layer_bytes: number };
}

/** `sha256:<hex>` → `blob-sha256-<hex>` (a flat payload file name). */
export function blobName(digest: string): string {
  return `blob-${digest.replace(':', '-')}`;
}

function range(abs: string, e: TarEntry): DeltaBlob['source'] {
  return { abs, offset: e.offset, size: e.size };
}

export function planDelta(targets: readonly TargetTarball[], base: DeltaBase): DeltaPlan {
  const have = new Set(base.layers);
  const blobs = new Map<string, DeltaBlob>();
  const reused = new Map<string, number>();
  const images: ComposeDelta['images'] = [];
  const seenIds = new Set<string>();
  for (const t of targets) {
    for (const img of t.images) {
      if (seenIds.has(img.id)) continue;
      seenIds.add(img.id);
      images.push({ path: t.path, refs: img.refs, id: img.id, layers: img.layers.map((l) => l.digest) });
      if (!blobs.has(img.id)) {
        blobs.set(img.id, {
          name: blobName(img.id),
          digest: img.id,
          size: img.config.size,
          kind: 'config',
          source: range(t.abs, img.config),
        });
      }
      for (const l of img.layers) {
        if (have.has(l.digest)) {
          reused.set(l.digest, l.entry.size);
        } else if (!blobs.has(l.digest)) {
          blobs.set(l.digest, {
            name: blobName(l.digest),
            digest: l.digest,
            size: l.entry.size,
            kind: 'layer',
            source: range(t.abs, l.entry),
          });
        }
      }
    }
  }
  const list = [...blobs.values()];
  const layers = list.filter((b) => b.kind === 'layer');
  return {
    delta: {
      format: 1,
      base: { version: base.version, artifact_name: base.artifactName },
      images,
      blobs: list.map((b) => ({ name: b.name, digest: b.digest, size: b.size })),
    },
    blobs: list,
    stats: {
      new_layers: layers.length,
      new_layer_bytes: layers.reduce((n, b) => n + b.size, 0),
      reused_layers: reused.size,
      reused_layer_bytes: [...reused.values()].reduce((n, s) => n + s, 0),
    },
  };
}
