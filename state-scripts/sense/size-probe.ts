// The size of the pending download, asked of the Mender server the way the van's own client asks
// (issue #17 item 4, docs/gates.md "Size probe"). No Mender client tells a state script which artifact
// comes or how big it is, so when a size rule (roaming small_only, metered/hotspot max_mb) needs it the
// download gate:
//
// 1. gets the client's device token and server URL over D-Bus, `io.mender.Authentication1.GetJwtToken`
//    on `io.mender.AuthenticationManager` (mendersoftware/mender Documentation/io.mender.Authentication1.xml:
//    the API the client offers add-ons since 3.0; the C++ mender-auth serves the same interface);
// 2. repeats the client's own update check, `deployments/next`, with exactly the body that client sends:
//    - Go client 3.x (client/client_update.go makeUpdateCheckRequest): POST v2
//      `{"device_provides":{…provides, artifact_name, device_type},"update_control_map":true}`, on any
//      4xx/5xx but 401 POST v1 with the flat provides, then GET v1 `?artifact_name=…&device_type=…`;
//    - C++ mender-update ≥ 5 (src/mender-update/deployments/deployments.cpp CheckNewDeployments): POST v2
//      `{"device_provides":{"device_type":…, …provides}}`, on 404 GET v1 with the same query.
//    The body must be the client's: the server keeps the first request of a device deployment and fails
//    the deployment when a later one differs (mender-server backend/services/deployments/app/app.go
//    saveDeviceDeploymentRequest, reflect.DeepEqual → ErrConflictingRequestData, 409). An identical
//    request is answered again with the same artifact and a fresh link, and changes nothing
//    (getDeploymentInstructions assigns the artifact and adds its size only the first time);
// 3. asks the artifact link for one byte (`Range: bytes=0-0`): the size is the total of `Content-Range`,
//    or `Content-Length` of a 200 (the connection is then closed before the body). The Go client needs
//    the same Content-Length to download at all (client_update.go FetchUpdate).
//
// A few KB in all, only while a size rule is undecided. Any failure is a reason, never a guess: the rule
// stays "size unknown". Never throws.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_BINARY, type ClientFlavour, parseDeviceTypeFile } from '../../core/schemas/client.js';
import type { CommandRunner } from '../health.js';
import { httpFetch, type HttpResult } from '../../core/http-request.js';
import type { MenderServer } from '../../core/mender-conf.js';
import type { SizeHint, SizeProbeSummary } from '../policy/network.js';

export const SIZE_PROBE_SOURCE = 'deployments-next';

export interface SizeProbeInput {
  /** The van's client (core/schemas/client.ts CLIENT_FILE); null: unknown, so no probe (its body would be a guess). */
  flavour: ClientFlavour | null;
  /** The client's datastore (`device_type`, and `--data`/`--datastore` for show-provides). */
  menderDataDir: string;
  /** mender.conf's ServerCertificate / SkipVerify, trusted the way the client trusts them. */
  server: Pick<MenderServer, 'ca' | 'skipVerify'>;
  /** `dbus-send` (package dbus-bin). */
  dbusSend: string;
  runner: CommandRunner;
  /** Per request and per command. */
  timeoutMs: number;
  now: Date;
}

export type SizeProbe =
  | { outcome: 'sized'; hint: SizeHint; deployment_id: string; steps: string[] }
  | { outcome: 'no_deployment'; steps: string[] }
  | { outcome: 'failed'; problem: string; steps: string[] };

/** `dbus-send --print-reply` of GetJwtToken: two `string "…"` lines, the token then the server URL. */
export function parseJwtReply(stdout: string): { token: string; serverUrl: string } | null {
  const strings = [...stdout.matchAll(/^\s*string "(.*)"\s*$/gm)].map((m) => m[1] ?? '');
  if (strings.length !== 2) return null;
  const [token = '', serverUrl = ''] = strings;
  return { token, serverUrl };
}

/** `show-provides`: `key=value` lines (both clients print the datastore's provides so). */
export function parseProvides(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export interface NextRequest {
  method: 'POST' | 'GET';
  path: string;
  body?: string;
}

const V1 = '/api/devices/v1/deployments/device/deployments/next';
const V2 = '/api/devices/v2/deployments/device/deployments/next';

/**
 * The update checks the client would send, in its order, and when it moves on to the next one.
 * Go's url.Values.Encode sorts keys (artifact_name before device_type); the C++ client writes them so.
 */
export function nextRequests(
  flavour: ClientFlavour,
  deviceType: string,
  provides: Readonly<Record<string, string>>,
): { requests: NextRequest[]; fallBackOn: (status: number) => boolean } {
  const artifactName = provides.artifact_name ?? '';
  const query = `?${new URLSearchParams({ artifact_name: artifactName, device_type: deviceType }).toString()}`;
  if (flavour === 'mender-3') {
    const flat = { ...provides, artifact_name: artifactName, device_type: deviceType };
    return {
      requests: [
        { method: 'POST', path: V2, body: JSON.stringify({ device_provides: flat, update_control_map: true }) },
        { method: 'POST', path: V1, body: JSON.stringify(flat) },
        { method: 'GET', path: `${V1}${query}` },
      ],
      // findFirstWorkingEndpoint: 200, 204 and 401 are answers; any other 4xx/5xx tries the next endpoint.
      fallBackOn: (s) => s >= 400 && s < 600 && s !== 401,
    };
  }
  return {
    requests: [
      { method: 'POST', path: V2, body: JSON.stringify({ device_provides: { device_type: deviceType, ...provides } }) },
      { method: 'GET', path: `${V1}${query}` },
    ],
    fallBackOn: (s) => s === 404,
  };
}

/** The artifact's size from the answer to `Range: bytes=0-0`. */
export function sizeFromRangeAnswer(
  status: number,
  headers: Record<string, string | string[] | undefined>,
): number | null {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  if (status === 206) {
    const m = /^bytes\s+(?:\d+-\d+|\*)\/(\d+)$/.exec(one(headers['content-range'])?.trim() ?? '');
    return m?.[1] ? Number(m[1]) : null;
  }
  if (status === 200) {
    const len = one(headers['content-length']);
    return len && /^\d+$/.test(len) ? Number(len) : null;
  }
  return null;
}

const deploymentAnswer = (body: string): { id: string; name: string; uri: string } | null => {
  try {
    const j = JSON.parse(body) as { id?: unknown; artifact?: { artifact_name?: unknown; source?: { uri?: unknown } } };
    const id = j.id;
    const name = j.artifact?.artifact_name;
    const uri = j.artifact?.source?.uri;
    return typeof id === 'string' && typeof name === 'string' && typeof uri === 'string' && id && name && uri
      ? { id, name, uri }
      : null;
  } catch {
    return null;
  }
};

const short = (s: string) => s.trim().split('\n')[0]?.slice(0, 160) ?? '';

export async function probeDownloadSize(i: SizeProbeInput): Promise<SizeProbe> {
  const steps: string[] = [];
  const failed = (problem: string): SizeProbe => ({ outcome: 'failed', problem, steps });
  if (!i.flavour)
    return failed('the Mender client is not recorded (/etc/vancore/mender-client.json, written by device install)');

  // 1. The client's token.
  const jwt = await i.runner.run(
    [
      i.dbusSend,
      '--system',
      '--print-reply',
      `--reply-timeout=${i.timeoutMs}`,
      '--dest=io.mender.AuthenticationManager',
      '/io/mender/AuthenticationManager',
      'io.mender.Authentication1.GetJwtToken',
    ],
    { timeoutMs: i.timeoutMs + 1000 },
  );
  if (jwt.error === 'ENOENT') return failed(`${i.dbusSend} not found (package dbus-bin)`);
  if (jwt.code !== 0) return failed(`D-Bus GetJwtToken: ${short(jwt.stderr || jwt.error || `exit ${jwt.code}`)}`);
  const auth = parseJwtReply(jwt.stdout);
  if (!auth) return failed('D-Bus GetJwtToken: unexpected reply');
  if (!auth.token) return failed('the client has no device token yet (not authorized)');
  if (!/^https?:\/\//.test(auth.serverUrl)) return failed(`D-Bus GetJwtToken: no server URL ('${auth.serverUrl}')`);
  steps.push(`token from D-Bus (server ${auth.serverUrl})`);

  // 2. What the client sends: its device type and provides.
  let deviceType: string | undefined;
  try {
    deviceType = parseDeviceTypeFile(readFileSync(join(i.menderDataDir, 'device_type'), 'utf8'));
  } catch (e) {
    return failed(`${join(i.menderDataDir, 'device_type')}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!deviceType) return failed(`${join(i.menderDataDir, 'device_type')}: no device_type=`);
  const binary = CLIENT_BINARY[i.flavour];
  const dataFlag = i.flavour === 'mender-3' ? '--data' : '--datastore';
  const show = async (what: 'show-provides' | 'show-artifact') => {
    const r = await i.runner.run([binary, dataFlag, i.menderDataDir, what], { timeoutMs: i.timeoutMs });
    if (r.error === 'ENOENT') return { problem: `${binary} not found` };
    if (r.code !== 0) return { problem: `${binary} ${what}: ${short(r.stderr || `exit ${r.code}`)}` };
    return { out: r.stdout };
  };
  const shown = await show('show-provides');
  if (shown.out === undefined) return failed(shown.problem);
  const provides = parseProvides(shown.out);
  if (i.flavour === 'mender-3') {
    // The Go client sends the artifact name from GetCurrentArtifactName, which falls back to
    // /etc/mender/artifact_info before the first install; show-provides prints the datastore only
    // (empty until then). show-artifact prints the client's own name, fallback included.
    const name = await show('show-artifact');
    if (name.out === undefined) return failed(name.problem);
    const artifactName = name.out.trim().split('\n').pop()?.trim() ?? '';
    if (artifactName) provides.artifact_name = artifactName;
  }
  if (!provides.artifact_name) return failed(`${binary}: no artifact_name`);

  // 3. The update check, as the client makes it.
  // node:tls only when mender.conf names a certificate (a gate that sends nothing does not load it).
  const tls = {
    ...(i.server.ca ? { ca: [...(await import('node:tls')).rootCertificates, i.server.ca] } : {}),
    ...(i.server.skipVerify ? { rejectUnauthorized: false } : {}),
  };
  const base = auth.serverUrl.replace(/\/+$/, '');
  const { requests, fallBackOn } = nextRequests(i.flavour, deviceType, provides);
  let answer: Extract<HttpResult, { ok: true }> | null = null;
  for (const r of requests) {
    const res = await httpFetch(`${base}${r.path}`, {
      method: r.method,
      headers: {
        authorization: `Bearer ${auth.token}`,
        accept: 'application/json',
        ...(r.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(r.body ? { body: r.body } : {}),
      timeoutMs: i.timeoutMs,
      maxBodyBytes: 64 * 1024,
      ...tls,
    });
    const where = `${r.method} ${r.path.split('?')[0]?.replace('/api/devices/', '')}`;
    if (!res.ok) return failed(`${where}: ${res.error}`);
    steps.push(`${where} → ${res.status}`);
    if (fallBackOn(res.status)) continue;
    answer = res;
    break;
  }
  if (!answer) return failed('deployments/next: no endpoint answered');
  if (answer.status === 204) return { outcome: 'no_deployment', steps };
  if (answer.status === 409)
    return failed('deployments/next: 409, the server saw a request other than the client’s (this deployment failed)');
  if (answer.status !== 200) return failed(`deployments/next: HTTP ${answer.status}`);
  const dep = deploymentAnswer(answer.body);
  if (!dep) return failed('deployments/next: no id, artifact_name or source.uri in the answer');

  // 4. One byte of the artifact, for its size.
  const got = await httpFetch(dep.uri, {
    headers: { range: 'bytes=0-0' },
    timeoutMs: i.timeoutMs,
    headersOnly: true,
    ...tls,
  });
  if (!got.ok) return failed(`artifact link: ${got.error}`);
  steps.push(`GET artifact bytes=0-0 → ${got.status}`);
  const bytes = sizeFromRangeAnswer(got.status, got.headers);
  if (bytes === null) return failed(`artifact link: HTTP ${got.status} without a size`);
  return {
    outcome: 'sized',
    deployment_id: dep.id,
    hint: { bytes, artifact_name: dep.name, at: i.now.toISOString(), source: SIZE_PROBE_SOURCE },
    steps,
  };
}

/**
 * What the gate journals of a probe, and the size hint it decides on: the probe's answer, none for "no
 * deployment now", undefined (keep the hint file) when the probe failed.
 */
export function probeSummary(p: SizeProbe): SizeProbeSummary & { hint: SizeHint | null | undefined } {
  if (p.outcome === 'sized')
    return { outcome: p.outcome, steps: p.steps, deployment_id: p.deployment_id, hint: p.hint };
  if (p.outcome === 'no_deployment') return { outcome: p.outcome, steps: p.steps, hint: null };
  return { outcome: p.outcome, steps: p.steps, problem: p.problem, hint: undefined };
}
