// The migration's probes: sense (both instances, the Headscale control URL over HTTPS, the support
// probe) into one facts object, then a pure verdict per step. Used by `validate` (install) and by
// the deadman (after commit).
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { rootCertificates } from 'node:tls';
import type { VpnStep } from '../../core/schemas/payload-index.js';
import { describeResult, type CommandRunner } from '../lib/runner.js';
import type { VpnSettings } from './settings.js';
import { isOnline, sameUrl, type InstanceView, type Tailscale } from './tailscale.js';

export type Check = { ok: true } | { ok: false; why: string };

export interface ProbeFacts {
  loginServer: string;
  saas: InstanceView;
  hs: InstanceView;
  /** GET <login_server>/health over HTTPS (Headscale answers 200 there). */
  control: Check;
  /** undefined = no support probe configured. */
  support: Check | undefined;
}

/** Pure: the reasons the probes of `step` fail (empty = they hold). */
export function probeFailures(step: VpnStep, f: ProbeFacts): string[] {
  const out: string[] = [];
  const hsOk = () => {
    if (!f.hs.running) out.push(`headscale instance not running: ${f.hs.why}`);
    else if (!isOnline(f.hs)) out.push(`headscale node is ${f.hs.backend}${f.hs.online ? '' : ', offline'}`);
    else if (f.hs.controlUrl !== undefined && !sameUrl(f.hs.controlUrl, f.loginServer)) {
      out.push(`headscale instance uses ${f.hs.controlUrl}, not ${f.loginServer}`);
    }
  };
  const controlOk = () => {
    if (!f.control.ok) out.push(`control URL: ${f.control.why}`);
  };
  const supportOk = () => {
    if (f.support === undefined) out.push('no support_probe configured in vpn.yaml');
    else if (!f.support.ok) out.push(`support probe: ${f.support.why}`);
  };
  switch (step) {
    case 'add':
      hsOk();
      // SaaS must keep running beside the new instance: it is the way back.
      if (!f.saas.running || f.saas.backend !== 'Running') out.push('SaaS instance is not running');
      break;
    case 'verify':
      hsOk();
      controlOk();
      supportOk();
      break;
    case 'cutover':
    case 'retire':
      hsOk();
      controlOk();
      supportOk();
      if (f.saas.running) out.push('SaaS instance is still running');
      break;
  }
  return out;
}

/** Which probes a step needs (the HTTPS and support probes are skipped where the verdict ignores them). */
const needsControl = (step: VpnStep) => step !== 'add';

export interface ProbeDeps {
  settings: VpnSettings;
  tailscale: Tailscale;
  runner: CommandRunner;
  /** Host path of the CA bundle, resolved from settings.ca_file under the root. */
  caFile?: string;
}

export async function checkControl(url: string, caFile: string | undefined, timeoutMs: number): Promise<Check> {
  const target = new URL('health', url.endsWith('/') ? url : `${url}/`);
  const ca = caFile ? [...rootCertificates, await readFile(caFile, 'utf8')] : undefined;
  return new Promise((resolve) => {
    const opts = { method: 'GET', timeout: timeoutMs, ...(ca ? { ca } : {}) };
    const done = (c: Check) => resolve(c);
    // http:// is only accepted by packaging for localhost (docs/packaging.md); it is probed as such.
    const req = (target.protocol === 'https:' ? request : httpRequest)(target, opts, (res) => {
      res.resume();
      const s = res.statusCode ?? 0;
      done(s >= 200 && s < 300 ? { ok: true } : { ok: false, why: `${target.origin}/health answered ${s}` });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, why: `${target.origin}: ${e.code ?? e.message}` }));
    req.end();
  });
}

export async function senseProbes(d: ProbeDeps, step: VpnStep, loginServer: string): Promise<ProbeFacts> {
  const timeoutMs = d.settings.probe_timeout_seconds * 1000;
  const [saas, hs] = await Promise.all([d.tailscale.view(d.settings.saas), d.tailscale.view(d.settings.headscale)]);
  const control: Check = needsControl(step) ? await checkControl(loginServer, d.caFile, timeoutMs) : { ok: true };
  let support: Check | undefined;
  const sp = d.settings.support_probe;
  if (sp && step !== 'add') {
    const [cmd, ...args] = sp.command;
    const r = await d.runner.run(cmd ?? '', args, { timeoutMs: sp.timeout_seconds * 1000 });
    support = r.code === 0 ? { ok: true } : { ok: false, why: describeResult(sp.command.join(' '), r) };
  } else if (step === 'add') {
    support = { ok: true };
  }
  return { loginServer, saas, hs, control, support };
}
