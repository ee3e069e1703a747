// The device identity Mender authenticates with (RECIPE §7): `van_id` and the primary MAC. It must be
// stable across reboots — a changed identity is a new device to the server — so when a part is
// missing the script fails (the client retries auth later) instead of sending something different.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VanError } from '../../core/errors.js';
import { VanId } from '../../core/schemas/common.js';
import type { DeviceContext } from '../lib/device.js';

export interface NetInterface {
  name: string;
  ifindex: number;
  address: string;
  /** ARPHRD type: 1 = Ethernet (wired and Wi-Fi); raw-IP modems and loopback differ. */
  type: number;
  /** Has a `device` link: backed by hardware, not a bridge/veth/tun. */
  physical: boolean;
  /** 0 = permanent (burned-in) address; 1–3 = random, stolen or set by userspace. */
  addrAssignType: number | null;
}

export interface IdentityFacts {
  /** `van_id` from ota.yaml, if set. */
  configVanId?: string;
  /** Content of /etc/vancore/van-id (trimmed), if the file exists. */
  fileVanId?: string;
  interfaces: NetInterface[];
}

const ZERO_MAC = '00:00:00:00:00:00';
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Pure: the primary MAC — a physical Ethernet/Wi-Fi interface, burned-in first, lowest ifindex. */
export function primaryMac(interfaces: readonly NetInterface[]): string | undefined {
  const candidates = interfaces
    .filter((i) => i.name !== 'lo' && i.type === 1 && i.physical && MAC.test(i.address) && i.address !== ZERO_MAC)
    .sort((a, b) => {
      const pa = a.addrAssignType === 0 || a.addrAssignType === null ? 0 : 1;
      const pb = b.addrAssignType === 0 || b.addrAssignType === null ? 0 : 1;
      return pa - pb || a.ifindex - b.ifindex || a.name.localeCompare(b.name);
    });
  return candidates[0]?.address;
}

/** Pure: the identity attributes, or an error naming what is missing. */
export function formIdentity(f: IdentityFacts): { van_id: string; mac: string } {
  // ota.yaml wins: the file is the factory default, the config is what ops set deliberately.
  const vanId = f.configVanId ?? f.fileVanId;
  if (vanId === undefined || vanId === '') {
    throw new VanError('INPUT_INVALID', 'no van id: set van_id in ota.yaml or write it to /etc/vancore/van-id');
  }
  if (!VanId.safeParse(vanId).success) {
    throw new VanError('INPUT_INVALID', `van id '${vanId.slice(0, 70)}' is not valid (letters, digits, . _ -; max 64)`);
  }
  const mac = primaryMac(f.interfaces);
  if (!mac) throw new VanError('INPUT_INVALID', 'no primary MAC: no physical Ethernet or Wi-Fi interface found');
  return { mac, van_id: vanId };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function readInterfaces(netDir: string): Promise<NetInterface[]> {
  let names: string[];
  try {
    names = await readdir(netDir);
  } catch {
    return [];
  }
  const out: NetInterface[] = [];
  for (const name of names.sort()) {
    const dir = join(netDir, name);
    const address = (await readText(join(dir, 'address')))?.toLowerCase();
    const ifindex = Number(await readText(join(dir, 'ifindex')));
    const type = Number(await readText(join(dir, 'type')));
    const assign = await readText(join(dir, 'addr_assign_type'));
    const physical = await stat(join(dir, 'device')).then(
      () => true,
      () => false,
    );
    if (address === undefined || !Number.isFinite(ifindex)) continue;
    out.push({
      name,
      ifindex,
      address,
      type: Number.isFinite(type) ? type : -1,
      physical,
      addrAssignType: assign === undefined || !/^\d+$/.test(assign) ? null : Number(assign),
    });
  }
  return out;
}

export async function vanIdFromFile(ctx: DeviceContext): Promise<string | undefined> {
  return readText(ctx.paths.vanIdFile);
}

/** The van id as every hook sees it (config first, then the file), or undefined. */
export async function resolveVanId(ctx: DeviceContext): Promise<string | undefined> {
  return ctx.config.van_id ?? (await vanIdFromFile(ctx));
}

export async function gatherIdentity(ctx: DeviceContext): Promise<IdentityFacts> {
  const fileVanId = await vanIdFromFile(ctx);
  return {
    ...(ctx.config.van_id ? { configVanId: ctx.config.van_id } : {}),
    ...(fileVanId !== undefined ? { fileVanId } : {}),
    interfaces: await readInterfaces(ctx.paths.resolve('/sys/class/net')),
  };
}
