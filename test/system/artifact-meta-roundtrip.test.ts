// The meta-data contract against the real mender-artifact 3.9: what we write with `-m` is what the
// client and the server will read back, and our schema accepts it unchanged.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArtifactMetaData } from '../../core/schemas/artifact-meta.js';
import { metaDoc } from '../helpers/builders.js';

describe('artifact meta-data through the real mender-artifact', () => {
  it('survives write → dump unchanged and parses with the contract schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-art-'));
    const meta = metaDoc(
      {},
      { maintenance_window: { days: ['sat'], start: '22:00', end: '04:00', timezone: 'Europe/Berlin' } },
    );
    await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
    await writeFile(join(dir, 'docker-compose.yml'), 'services: {}\n');
    const out = join(dir, 'a.mender');
    execFileSync(
      'mender-artifact',
      [
        'write',
        'module-image',
        '-T',
        'vancore-compose',
        '-n',
        'vancore-platform-0.9.2',
        '-t',
        'vanpc',
        '--software-filesystem',
        'vancore',
        '--software-name',
        'platform',
        '--software-version',
        '0.9.2',
        '-m',
        join(dir, 'meta.json'),
        '-f',
        join(dir, 'docker-compose.yml'),
        '-o',
        out,
      ],
      { stdio: 'pipe' },
    );
    execFileSync('mender-artifact', ['dump', '--meta-data', join(dir, 'dump'), out], { stdio: 'pipe' });
    const dumped: unknown = JSON.parse(await readFile(join(dir, 'dump', '0000.meta-data'), 'utf8'));
    expect(dumped).toEqual(meta);
    const parsed = ArtifactMetaData.parse(dumped);
    expect(parsed.vancore.constraints.maintenance_window?.timezone).toBe('Europe/Berlin');

    const read = execFileSync('mender-artifact', ['read', '--no-progress', out], { encoding: 'utf8' });
    expect(read).toContain('vancore.platform.version: 0.9.2');
  });
});
