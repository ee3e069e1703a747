// Which Mender client runs on a van, and where each one lets a gate say "not now, ask again at the
// next poll" without the server seeing a failure (ARCHITECTURE.md "Exit codes of state scripts").
//
// * `mender-3`: Debian's Go client 3.x. A failing `Download_Enter` under the daemon is a transient
//   error: no failure status, the deployment is fetched again at the next poll
//   (shared/mender-client/RECIPE-current.md §6, verified on 3.4).
// * `mender-update-5`: the C++ client, `mender-update` ≥ 5.0.1 (Mender Client 6.0). A failing
//   `Download_Enter` is reported as a deployment failure (RECIPE-current §0, §3.2 (a)); a failing
//   `Sync_Leave` reports nothing and the deployment stays pending (§3.2 (c)). 4.0.x–5.0.0 are refused:
//   they can stay idle forever after a Sync error (MEN-7900, §0).
import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';

export const ClientFlavours = ['mender-3', 'mender-update-5'] as const;
export const ClientFlavour = z.enum(ClientFlavours);
export type ClientFlavour = z.infer<typeof ClientFlavour>;

/** The rootfs state where the download gate runs, per client (the only per-client difference of the policy). */
export const NOT_NOW_STATE = {
  'mender-3': 'Download_Enter',
  'mender-update-5': 'Sync_Leave',
} as const satisfies Record<ClientFlavour, string>;
export type NotNowState = (typeof NOT_NOW_STATE)[ClientFlavour];

/** The executable each client's daemon binary is, as found on PATH. */
export const CLIENT_BINARY = {
  'mender-3': 'mender',
  'mender-update-5': 'mender-update',
} as const satisfies Record<ClientFlavour, string>;

/** `vancore.client` inventory value: `<binary>/<version>`, e.g. `mender/3.4.0`, `mender-update/5.1.0`. */
export interface ClientInfo {
  flavour: ClientFlavour;
  version: string;
}

const CLIENT_ATTR = /^(mender|mender-update)\/(\d+\.\d+\.\d+[0-9A-Za-z.+-]*)$/;

export function formatClientAttribute(info: ClientInfo): string {
  return `${CLIENT_BINARY[info.flavour]}/${info.version}`;
}

/** Parses `vancore.client`; undefined for anything that is not `<binary>/<semver>` (devices are untrusted). */
export function parseClientAttribute(value: string): ClientInfo | undefined {
  const m = CLIENT_ATTR.exec(value);
  if (!m?.[1] || !m[2]) return undefined;
  return { flavour: m[1] === 'mender' ? 'mender-3' : 'mender-update-5', version: m[2] };
}

/**
 * Which flavour a client version is, or why it is refused. Go 3.x → `mender-3`; C++ ≥ 5.0.1 →
 * `mender-update-5`; 4.0.x–5.0.0 are refused (MEN-7900); anything else is unknown.
 */
export function classifyClientVersion(
  binary: 'mender' | 'mender-update',
  version: string,
): { ok: true; flavour: ClientFlavour } | { ok: false; reason: string } {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return { ok: false, reason: `cannot read the version of ${binary} from '${version}'` };
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (binary === 'mender' && major === 3) return { ok: true, flavour: 'mender-3' };
  if (binary === 'mender-update' && (major > 5 || (major === 5 && (minor > 0 || patch >= 1))))
    return { ok: true, flavour: 'mender-update-5' };
  if (major === 4 || (major === 5 && minor === 0 && patch === 0))
    return {
      ok: false,
      reason: `${binary} ${version} is not supported: 4.0.x–5.0.0 can stay idle forever after a Sync error (MEN-7900); upgrade to mender-update ≥ 5.0.1`,
    };
  return {
    ok: false,
    reason: `${binary} ${version} is not a supported Mender client (mender 3.x or mender-update ≥ 5.0.1)`,
  };
}

/** `<binary> --version` output → the version (3.4: `3.4.0+ds1-5+b1\truntime: go1.19.8`; 5.x: `5.1.0`). */
export function parseVersionOutput(text: string): string | undefined {
  const m = /^\s*(\d+\.\d+\.\d+[0-9A-Za-z.+~-]*)/.exec(text);
  return m?.[1];
}

/**
 * Which client `vancore-ota device install` laid the hooks out for, kept on the van so the gates,
 * `gate check` and the inventory can say it without starting the client (a state script must start
 * fast; the inventory runs every poll).
 */
export const CLIENT_FILE = '/etc/vancore/mender-client.json';
export const InstalledClient = z.object({
  flavour: ClientFlavour,
  version: z.string().check(z.regex(/^\d+\.\d+\.\d+[0-9A-Za-z.+~-]*$/), z.maxLength(64)),
});
export type InstalledClient = z.infer<typeof InstalledClient>;

/** Never throws: an absent or unusable file is `null` with the problem (callers keep working). */
export function readInstalledClient(path: string): { client: InstalledClient | null; problem?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { client: null } : { client: null, problem: `${path}: ${code ?? String(e)}` };
  }
  try {
    const r = InstalledClient.safeParse(JSON.parse(text));
    return r.success ? { client: r.data } : { client: null, problem: `${path}: not a client record` };
  } catch {
    return { client: null, problem: `${path}: not JSON` };
  }
}

/** `device_type=<name>` from the client's datastore file (`<datastore>/device_type`); undefined when malformed. */
export function parseDeviceTypeFile(text: string): string | undefined {
  const m = /^device_type=([A-Za-z0-9._-]{1,64})\s*$/m.exec(text);
  return m?.[1];
}
