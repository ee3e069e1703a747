// The download gate's network policy (issue #17, docs/gates.md "Network policy"), pure: what the link a
// download would use now may cost, against ota.yaml `download.{roaming, metered, hotspot}`.
//
// * Roaming: only when the default route goes through the modem and ModemManager says it roams
//   (roaming, roaming-sms-only, roaming-csfb-not-preferred). A visited network whose MCC is in
//   `roam_like_home_mcc` (EU roam-like-at-home) counts as home.
// * Metered: a cellular link unless NetworkManager says an explicit `no` (an unlimited plan the owner
//   declared); any other link when NetworkManager says an explicit `yes`.
// * Hotspot: a Wi-Fi, Ethernet or Bluetooth link NetworkManager guessed metered (`yes (guessed)`): it
//   guesses so from the DHCP vendor option ANDROID_METERED that Android tethering sends, the Wi-Fi AP's
//   advertised metered flag, or a Bluetooth PANU/DUN connection to a phone.
// * Size: at Download_Enter no Mender client tells a script which artifact comes or how big it is, so a
//   size rule (small_only, max_mb) uses the size hint when one is fresh, else refuses with its own
//   *_size_unknown code. Never a guess.
// Unknown link facts never let a restricted download through (`link_unknown`); an all-`allow` policy
// needs no facts at all.
import type { MeteredRule } from '../../core/config/device-config.js';
import type { LinkFacts } from '../sense/link.js';
import type { Check, ReasonCode } from './types.js';

export interface NetworkPolicy {
  roaming: 'never' | 'small_only' | 'allow';
  roaming_small_mb: number;
  roam_like_home_mcc: readonly string[];
  metered: MeteredRule;
  hotspot: MeteredRule;
  size_hint_max_age_seconds: number;
}

/** `<state_dir>/download-size.json`: the size of the pending download, from whoever learnt it first. */
export interface SizeHint {
  bytes: number;
  artifact_name: string | null;
  /** When it was learnt (ISO time). */
  at: string;
  /** Who wrote it, for the journal (e.g. "bridge", "deployments-next-probe"). */
  source: string | null;
}

export interface NetworkFacts {
  /** null: not sensed (the gate skips sensing when every rule is `allow`). */
  link: LinkFacts | null;
  /** The size hint as read; the policy checks its age. */
  size_hint: SizeHint | null;
  /** The gate's size probe (sense/size-probe.ts), when a size rule needed the size and the gate asked. */
  size_probe?: SizeProbeSummary;
}

/** What the size probe found, for the journal and the refusal's words. */
export interface SizeProbeSummary {
  /** not_asked: `gate check`, or other checks hold the download anyway. */
  outcome: 'sized' | 'no_deployment' | 'failed' | 'not_asked';
  problem?: string;
  deployment_id?: string;
  steps: string[];
}

const MB = 1_000_000;

/** The codes this policy refuses with: facts sensord does not sample, so no readings can lift them (wake.ts). */
export const NETWORK_CODES: ReadonlySet<string> = new Set<ReasonCode>([
  'roaming',
  'roaming_over_small',
  'roaming_size_unknown',
  'metered_deferred',
  'metered_over_max',
  'metered_size_unknown',
  'hotspot_metered',
  'hotspot_over_max',
  'link_unknown',
]);

/** Does the policy need to know anything about the link? */
export function networkPolicyRestricts(p: NetworkPolicy): boolean {
  return p.roaming !== 'allow' || p.metered !== 'allow' || p.hotspot !== 'allow';
}

const ok = (code: ReasonCode, message: string): Check => ({ code, ok: true, message, clears_in_s: null });
// A link does not change on a schedule: no predictable wait, so the gate says "not now" (exit 1).
const bad = (code: ReasonCode, message: string): Check => ({ code, ok: false, message, clears_in_s: null });

const mb = (bytes: number) => `${(bytes / MB).toFixed(bytes < 10 * MB ? 1 : 0)} MB`;

/** The download size the policy may use: a hint no older than allowed and not from the future. */
export function usableSize(hint: SizeHint | null, now: Date, maxAgeS: number): number | null {
  if (!hint) return null;
  const age = (now.getTime() - Date.parse(hint.at)) / 1000;
  if (!Number.isFinite(age) || age < -60 || age > maxAgeS) return null;
  return hint.bytes;
}

/** Why the size is unknown, after a probe: appended to the *_size_unknown refusal. */
function unknownWhy(probe: SizeProbeSummary | undefined): string {
  if (!probe) return '';
  if (probe.outcome === 'failed' || probe.outcome === 'not_asked')
    return ` (size probe: ${probe.problem ?? probe.outcome})`;
  if (probe.outcome === 'no_deployment') return ' (size probe: the server has no deployment for this van now)';
  return '';
}

function sizeRule(
  rule: MeteredRule,
  size: number | null,
  what: string,
  codes: { deferred: ReasonCode; over: ReasonCode; unknown: ReasonCode },
  why = '',
): Check {
  if (rule === 'allow') return ok(codes.deferred, `${what}: downloads allowed`);
  if (rule === 'defer') return bad(codes.deferred, `${what}: downloads wait for another link`);
  const max = rule.max_mb * MB;
  if (size === null) return bad(codes.unknown, `${what}: update size unknown, at most ${rule.max_mb} MB allowed${why}`);
  if (size > max) return bad(codes.over, `${what}: update ${mb(size)} > ${rule.max_mb} MB allowed`);
  return ok(codes.over, `${what}: update ${mb(size)} ≤ ${rule.max_mb} MB allowed`);
}

function describeModem(link: LinkFacts): string {
  const m = link.modem;
  if (!m) return link.iface ?? 'modem';
  const op = [m.operator_name, m.operator_code && `(${m.operator_code})`].filter(Boolean).join(' ');
  const tech = m.access_technologies.join('/');
  return [op || 'unknown operator', tech, m.registration].filter(Boolean).join(', ');
}

export function assessNetwork(p: NetworkPolicy, f: NetworkFacts, now: Date): Check[] {
  if (!networkPolicyRestricts(p)) return [];
  const link = f.link;
  // No /proc under the host root (a sandbox or test tree): there is no link to judge. On a van /proc is
  // always there, and a default route missing from it is unknown, below.
  if (link && !link.routes_visible)
    return [ok('link_unknown', 'no routing table under the host root: network rules not applied')];
  if (!link || link.iface === null || link.kind === null) {
    const why = link?.problems.join('; ') || 'not sensed';
    return [bad('link_unknown', `link unknown (${why})`)];
  }
  const size = usableSize(f.size_hint, now, p.size_hint_max_age_seconds);
  const why = unknownWhy(f.size_probe);
  const checks: Check[] = [];
  const cellular = link.kind === 'cellular';

  if (cellular && p.roaming !== 'allow') {
    const roaming = link.modem?.roaming ?? null;
    const mcc = link.modem?.operator_code?.slice(0, 3) ?? null;
    if (roaming === null)
      checks.push(
        bad(
          'link_unknown',
          `${link.iface}: roaming state unknown (${link.problems.join('; ') || describeModem(link)})`,
        ),
      );
    else if (!roaming) checks.push(ok('roaming', `${link.iface}: home network (${describeModem(link)})`));
    else if (mcc !== null && p.roam_like_home_mcc.includes(mcc))
      checks.push(ok('roaming', `${link.iface}: roaming like at home (MCC ${mcc}; ${describeModem(link)})`));
    else if (p.roaming === 'never') checks.push(bad('roaming', `roaming on ${describeModem(link)}`));
    else if (size === null)
      checks.push(
        bad(
          'roaming_size_unknown',
          `roaming on ${describeModem(link)}; update size unknown, only ≤ ${p.roaming_small_mb} MB allowed${why}`,
        ),
      );
    else if (size > p.roaming_small_mb * MB)
      checks.push(
        bad('roaming_over_small', `roaming on ${describeModem(link)}; update ${mb(size)} > ${p.roaming_small_mb} MB`),
      );
    else checks.push(ok('roaming', `roaming; update ${mb(size)} ≤ ${p.roaming_small_mb} MB`));
  }

  if (cellular) {
    if (link.nm_metered === 'no')
      checks.push(ok('metered_deferred', `${link.iface}: cellular, marked unmetered in NetworkManager`));
    else
      checks.push(
        sizeRule(
          p.metered,
          size,
          `${link.iface}: metered (cellular)`,
          {
            deferred: 'metered_deferred',
            over: 'metered_over_max',
            unknown: 'metered_size_unknown',
          },
          why,
        ),
      );
    return checks;
  }

  const needsNm = p.metered !== 'allow' || p.hotspot !== 'allow';
  if (link.nm_metered === null) {
    // Without NetworkManager nothing on the van can tell a hotspot or a metered Wi-Fi: said, not refused.
    if (!link.nm_installed)
      checks.push(ok('hotspot_metered', `${link.iface}: NetworkManager not installed, taken as unmetered`));
    else if (needsNm)
      checks.push(
        bad(
          'link_unknown',
          `${link.iface}: metered state unknown (${link.problems.join('; ') || 'no NetworkManager answer'})`,
        ),
      );
    return checks;
  }
  if (link.nm_metered === 'yes (guessed)')
    checks.push(
      sizeRule(
        p.hotspot,
        size,
        `${link.iface}: phone hotspot (${link.kind}, metered guessed by NetworkManager)`,
        {
          deferred: 'hotspot_metered',
          over: 'hotspot_over_max',
          unknown: 'metered_size_unknown',
        },
        why,
      ),
    );
  else if (link.nm_metered === 'yes')
    checks.push(
      sizeRule(
        p.metered,
        size,
        `${link.iface}: metered (${link.kind}, set in NetworkManager)`,
        {
          deferred: 'metered_deferred',
          over: 'metered_over_max',
          unknown: 'metered_size_unknown',
        },
        why,
      ),
    );
  else checks.push(ok('metered_deferred', `${link.iface}: ${link.kind}, not metered (${link.nm_metered})`));
  return checks;
}

/** The network part of a decision's facts (journaled). */
export function networkSummary(p: NetworkPolicy, f: NetworkFacts, now: Date): Record<string, unknown> {
  const size = usableSize(f.size_hint, now, p.size_hint_max_age_seconds);
  return {
    link: f.link,
    download_bytes: size,
    ...(f.size_hint ? { size_hint: { ...f.size_hint, used: size !== null } } : {}),
    ...(f.size_probe ? { size_probe: f.size_probe } : {}),
  };
}
