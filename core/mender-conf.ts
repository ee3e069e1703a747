// What the gates and sensord need from the client's own config (/etc/mender/mender.conf): the
// server, and how the client trusts it, so a reachability probe trusts it the same way.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import * as z from 'zod/mini';
import type { HostPaths } from './host-paths.js';

const MenderConf = z.looseObject({
  ServerURL: z.optional(z.string()),
  Servers: z.optional(z.array(z.looseObject({ ServerURL: z.optional(z.string()) }))),
  ServerCertificate: z.optional(z.string()),
  SkipVerify: z.optional(z.boolean()),
});

export interface MenderServer {
  url: string | null;
  /** PEM of ServerCertificate when configured and readable. */
  ca?: string;
  skipVerify: boolean;
}

/** Never throws: a missing or unreadable mender.conf means "no server known". Small local file: sync. */
export function readMenderServer(paths: HostPaths): MenderServer {
  try {
    const raw: unknown = JSON.parse(readFileSync(join(paths.menderEtc, 'mender.conf'), 'utf8'));
    const c = MenderConf.safeParse(raw);
    if (!c.success) return { url: null, skipVerify: false };
    const url = c.data.ServerURL || c.data.Servers?.[0]?.ServerURL || null;
    let ca: string | undefined;
    if (c.data.ServerCertificate) {
      const file = c.data.ServerCertificate;
      try {
        ca = readFileSync(isAbsolute(file) ? paths.resolve(file) : file, 'utf8');
      } catch {
        ca = undefined;
      }
    }
    return { url, ...(ca ? { ca } : {}), skipVerify: c.data.SkipVerify === true };
  } catch {
    return { url: null, skipVerify: false };
  }
}

/** Where a cloud-reachability check goes, trusted as the client trusts its server. */
export interface CloudTarget {
  url: string;
  ca?: string;
  skipVerify?: boolean;
}

/**
 * The cloud target of a check: an explicit URL (ota.yaml `validation.cloud_url` or `mender.server_url`),
 * with the client's trust settings when it is the client's own server; else the client's server from
 * mender.conf; null when neither is known.
 */
export function cloudTarget(explicit: string | undefined, server: MenderServer): CloudTarget | null {
  if (explicit) {
    const same = server.url !== null && new URL(explicit).host === new URL(server.url).host;
    return { url: explicit, ...(same && server.ca ? { ca: server.ca } : {}), skipVerify: same && server.skipVerify };
  }
  return server.url
    ? { url: server.url, ...(server.ca ? { ca: server.ca } : {}), skipVerify: server.skipVerify }
    : null;
}
