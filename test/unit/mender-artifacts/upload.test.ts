import { AxiosError } from 'axios';
import { describe, expect, it } from 'vitest';
import { VanError } from '../../../core/errors.js';
import { MenderApiError } from '../../../core/mender/errors.js';
import { silentProgress } from '../../../mender-artifacts/progress.js';
import {
  type ArtifactRegistry,
  type LocalArtifact,
  type RemoteArtifact,
  decideUpload,
  uploadDescription,
  uploadIdempotently,
} from '../../../mender-artifacts/upload.js';

const SHA = 'ab'.repeat(32);
const local: LocalArtifact = {
  name: 'vancore-app-1.4.0',
  sha256: SHA,
  size: 6144,
  deviceTypes: ['vanpc'],
  checksums: { 'vancore-index.json': '11'.repeat(32), '0000-app.tar': '22'.repeat(32) },
};

function remote(over: Partial<RemoteArtifact> = {}): RemoteArtifact {
  return {
    id: 'art-1',
    name: local.name,
    description: uploadDescription(local),
    deviceTypes: ['vanpc'],
    size: 6144,
    checksums: { ...local.checksums },
    ...over,
  };
}

describe('decideUpload', () => {
  it.each<[string, RemoteArtifact[], ReturnType<typeof decideUpload>['kind']]>([
    ['nothing there', [], 'upload'],
    ['a longer name matched by the substring filter', [remote({ name: 'vancore-app-1.4.0-rc1' })], 'upload'],
    ['the same name for other device types', [remote({ deviceTypes: ['truck'] })], 'upload'],
    ['the same name and sha256', [remote()], 'present'],
    ['the same name, another sha256', [remote({ description: `x sha256:${'cd'.repeat(32)}` })], 'conflict'],
    ['uploaded by other means, same payload and size', [remote({ description: 'manual upload' })], 'present'],
    [
      'uploaded by other means, other payload',
      [remote({ description: '', checksums: { ...local.checksums, '0000-app.tar': '33'.repeat(32) } })],
      'conflict',
    ],
    ['uploaded by other means, other size', [remote({ description: '', size: 7000 })], 'conflict'],
    [
      'same content but overlapping, not equal, device types',
      [remote({ description: '', deviceTypes: ['vanpc', 'truck'] })],
      'conflict',
    ],
  ])('%s → %s', (_name, list, kind) => {
    expect(decideUpload(local, list).kind).toBe(kind);
  });
});

/** A registry scripted per call: each upload() answer is taken in turn; the list follows what "landed". */
function fakeRegistry(uploadAnswers: (() => string | Error)[], initially: RemoteArtifact[] = []) {
  const listed: RemoteArtifact[] = [...initially];
  const calls: string[] = [];
  const registry: ArtifactRegistry = {
    findByName(name) {
      calls.push('list');
      return Promise.resolve(listed.filter((a) => a.name === name));
    },
    upload(_file, opts) {
      calls.push('upload');
      const answer = uploadAnswers.shift()?.() ?? new Error('unexpected upload');
      opts.onProgress(10, 10);
      if (answer instanceof Error) return Promise.reject(answer);
      listed.push(remote({ id: answer, description: opts.description }));
      return Promise.resolve(answer);
    },
  };
  return { registry, calls, listed };
}

const deps = (registry: ArtifactRegistry, sleeps: number[] = []) => ({
  registry,
  progress: silentProgress,
  sleep: (ms: number) => {
    sleeps.push(ms);
    return Promise.resolve();
  },
  random: () => 0.5,
  retry: { retries: 3, baseDelayMs: 100, maxDelayMs: 1000 },
});

const status = (code: number) => new MenderApiError('POST', '/artifacts', code, 'x', undefined);
const network = () =>
  new VanError('MENDER_API', 'Mender POST /artifacts: ECONNRESET', { cause: new AxiosError('reset', 'ECONNRESET') });

describe('uploadIdempotently', () => {
  it('uploads once when the server does not have it', async () => {
    const { registry, calls } = fakeRegistry([() => 'new-id']);
    await expect(uploadIdempotently('a.mender', local, deps(registry))).resolves.toMatchObject({
      status: 'uploaded',
      id: 'new-id',
    });
    expect(calls).toEqual(['list', 'upload']);
  });

  it('succeeds without uploading when the same artifact is there', async () => {
    const { registry, calls } = fakeRegistry([], [remote()]);
    await expect(uploadIdempotently('a.mender', local, deps(registry))).resolves.toMatchObject({
      status: 'already-uploaded',
      id: 'art-1',
    });
    expect(calls).toEqual(['list']);
  });

  it('refuses to replace different content under the same name', async () => {
    const { registry } = fakeRegistry([], [remote({ description: `sha256:${'cd'.repeat(32)}` })]);
    const e: unknown = await uploadIdempotently('a.mender', local, deps(registry)).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'CONFLICT' });
    expect((e as Error).message).toMatch(/^vancore-app-1\.4\.0 is already on the server with different content/);
  });

  it('after a 5xx or a reset, looks again before resending (backing off)', async () => {
    const sleeps: number[] = [];
    const { registry, calls } = fakeRegistry([() => status(503), () => network(), () => 'id-3']);
    await expect(uploadIdempotently('a.mender', local, deps(registry, sleeps))).resolves.toMatchObject({
      status: 'uploaded',
    });
    expect(calls).toEqual(['list', 'upload', 'list', 'upload', 'list', 'upload']);
    expect(sleeps).toEqual([50, 100]);
  });

  it('recognises its own upload that landed although the answer was lost', async () => {
    const { registry, listed } = fakeRegistry([
      () => {
        listed.push(remote({ id: 'landed' }));
        return status(502);
      },
    ]);
    await expect(uploadIdempotently('a.mender', local, deps(registry))).resolves.toMatchObject({
      status: 'already-uploaded',
      id: 'landed',
    });
  });

  it('after a 409, judges what is there: same content is success', async () => {
    const { registry, listed } = fakeRegistry([
      () => {
        listed.push(remote({ id: 'racer' }));
        return status(409);
      },
    ]);
    await expect(uploadIdempotently('a.mender', local, deps(registry))).resolves.toMatchObject({
      status: 'already-uploaded',
      id: 'racer',
    });
  });

  it('a 409 with nothing listed is a conflict, not a loop', async () => {
    const { registry, calls } = fakeRegistry([() => status(409)]);
    await expect(uploadIdempotently('a.mender', local, deps(registry))).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(calls).toEqual(['list', 'upload', 'list']);
  });

  it('gives up after the retries, with the last error', async () => {
    const { registry, calls } = fakeRegistry([
      () => status(500),
      () => status(500),
      () => status(500),
      () => status(500),
    ]);
    await expect(uploadIdempotently('a.mender', local, deps(registry))).rejects.toBeInstanceOf(MenderApiError);
    expect(calls.filter((c) => c === 'upload')).toHaveLength(4);
  });

  it('does not retry a 400 (an invalid artifact) or a 401', async () => {
    for (const code of [400, 401]) {
      const { registry, calls } = fakeRegistry([() => status(code)]);
      await expect(uploadIdempotently('a.mender', local, deps(registry))).rejects.toMatchObject({ status: code });
      expect(calls).toEqual(['list', 'upload']);
    }
  });
});
