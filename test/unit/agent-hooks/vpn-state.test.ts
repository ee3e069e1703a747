// The vpn.json contract: what vancore-vpn writes (core/vpn-state.ts) is what the inventory script
// reads (agent-hooks/inventory: VpnFile), so vancore.vpn.state/.step reach the bridge.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VpnFile, VPN_FILE } from '../../../agent-hooks/inventory/inventory.js';
import { VpnStates, VpnSteps } from '../../../core/schemas/inventory.js';
import { readVpnState, VPN_STATE_FILE, writeVpnState } from '../../../core/vpn-state.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-vpn-state-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('vpn.json', () => {
  it('has the file name the inventory reads', () => {
    expect(VPN_STATE_FILE).toBe(VPN_FILE);
  });

  it.each(VpnStates.filter((s) => s !== 'unknown').flatMap((state) => VpnSteps.map((step) => [state, step] as const)))(
    '%s/%s round-trips and the inventory reads it',
    async (state, step) => {
      await writeVpnState(dir, {
        state,
        step,
        artifact_name: 'vancore-vpn-1.2.0',
        detail: 'x',
        updated_at: '2026-11-22T10:00:00Z',
      });
      expect(await readVpnState(dir)).toMatchObject({ state, step });
      const forInventory = VpnFile.parse(JSON.parse(await readFile(join(dir, VPN_STATE_FILE), 'utf8')));
      expect(forInventory).toEqual({ state, step });
    },
  );

  it.each(['not json', '{"state":"moon","step":"add","updated_at":"2026-11-22T10:00:00Z"}'])(
    'reads %s as unknown (null), never throws',
    async (text) => {
      await writeFile(join(dir, VPN_STATE_FILE), text);
      expect(await readVpnState(dir)).toBeNull();
    },
  );
});
