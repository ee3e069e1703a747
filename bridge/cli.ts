// `vancore-ota bridge` and `vancore-ota report`.
import { readFile } from 'node:fs/promises';
import { type CommandSpec, defineCommand, opt, type RunContext } from '../core/command.js';
import { BridgeConfig } from '../core/config/bridge-config.js';
import { loadConfigFile, parseConfig } from '../core/config/load.js';
import { VanError } from '../core/errors.js';
import { reasonOption, requireReason } from './lib/audit-reason.js';
import { createLogger } from '../core/logger.js';
import { redactUrl } from '../core/redact.js';
import { neutraliseTerminalOutput, terminalJson } from '../core/safe-text.js';
import { renderTable } from './table.js';
import type { ForecastBytes } from './rollout/forecast.js';
import type { RolloutData, VanData } from './store/data-ledger.js';

export const bridgeCommand = defineCommand({
  name: 'bridge',
  summary: 'Run the bridge service (Mender sync, reports API)',
  description:
    'Run the bridge: sync Mender into the fleet records and serve the reports API (OpenAPI at /docs).\n' +
    'Config: --config FILE, else $VANCORE_BRIDGE_CONFIG, else the defaults (SQLite under ./data/, Mender at 127.0.0.1:8081).',
  options: {
    config: { type: 'string', value: 'FILE', description: 'bridge.yaml' },
    port: { type: 'string', value: 'N', description: 'override http.port (0 = pick one)' },
    'no-sync': { type: 'boolean', description: 'serve the API without syncing (read-only inspection of a database)' },
  },
  examples: [
    'vancore-ota bridge --config /etc/vancore/bridge.yaml',
    'VANCORE_BRIDGE_CONFIG=bridge.yaml vancore-ota bridge --port 0',
  ],
  async run(ctx: RunContext) {
    const file = opt.string(ctx.values, 'config') ?? ctx.io.env.VANCORE_BRIDGE_CONFIG;
    let config = file
      ? await loadConfigFile(BridgeConfig, file, { missingMeansDefaults: false })
      : parseConfig(BridgeConfig, {}, '(defaults)');
    const port = opt.string(ctx.values, 'port');
    if (port !== undefined) {
      if (!/^\d+$/.test(port) || Number(port) > 65_535)
        throw new VanError('USAGE', `--port must be 0–65535, got '${port}'`);
      config = parseConfig(BridgeConfig, { ...config, http: { ...config.http, port: Number(port) } }, '--port');
    }
    const logger = createLogger({ name: 'bridge', level: config.log_level });
    // Loaded here, not at the top: other commands must not pay for fastify and the database drivers.
    const { startBridge } = await import('./server.js');
    const bridge = await startBridge(config, { logger, env: ctx.io.env, startSync: ctx.values['no-sync'] !== true });
    ctx.io.stdout.write(
      `bridge listening on ${bridge.url} (database ${redactUrl(bridge.store.where)}, mender ${redactUrl(config.mender.url)}; API docs ${bridge.url}/docs)\n`,
    );
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    logger.info('shutting down');
    await bridge.stop();
  },
});

export interface ReportTarget {
  url: string;
  token?: string | undefined;
}

export async function target(ctx: RunContext): Promise<ReportTarget> {
  const url = (opt.string(ctx.values, 'bridge') ?? ctx.io.env.VANCORE_BRIDGE_URL ?? 'http://127.0.0.1:8080').replace(
    /\/+$/,
    '',
  );
  const tokenFile = opt.string(ctx.values, 'token-file');
  let token = ctx.io.env.VANCORE_BRIDGE_TOKEN;
  if (tokenFile) {
    try {
      token = (await readFile(tokenFile, 'utf8')).trim();
    } catch (e) {
      throw new VanError(
        'CONFIG_UNREADABLE',
        `cannot read token file ${tokenFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
  }
  return { url, token };
}

export async function getJson<T>(t: ReportTarget, path: string): Promise<{ body: T; total?: number }> {
  let res: Response;
  try {
    res = await fetch(`${t.url}${path}`, {
      headers: t.token ? { authorization: `Bearer ${t.token}` } : {},
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new VanError(
      'TOOL_FAILED',
      `cannot reach the bridge at ${t.url}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`,
    );
  }
  const text = await res.text();
  if (!res.ok) {
    let msg = text.slice(0, 200);
    try {
      msg = (JSON.parse(text) as { error?: string }).error ?? msg;
    } catch {
      /* not JSON: keep the text */
    }
    throw new VanError(
      res.status === 401 || res.status === 403 ? 'MENDER_UNAUTHORIZED' : 'TOOL_FAILED',
      `bridge ${path}: ${res.status} ${msg}`,
    );
  }
  const total = res.headers.get('x-total-count');
  return {
    body: (path.includes('format=csv') ? text : JSON.parse(text)) as T,
    ...(total ? { total: Number(total) } : {}),
  };
}

export const common = {
  bridge: {
    type: 'string',
    value: 'URL',
    description: 'the bridge (default $VANCORE_BRIDGE_URL or http://127.0.0.1:8080)',
  },
  'token-file': {
    type: 'string',
    value: 'FILE',
    description: 'file with a bearer token (default $VANCORE_BRIDGE_TOKEN)',
  },
  json: { type: 'boolean', description: 'print the JSON answer instead of a table' },
} as const;

interface VanRow {
  van_id: string;
  stage: string;
  components: Record<string, string>;
  gate: { state: string | null; reason: string | null; since: string | null };
  health: { battery_soc: number | null; signal_quality: number | null; last_update_status: string | null };
  /** Absent from bridges older than issue #13. */
  client?: { reported: string } | null;
  last_check_in: string | null;
}
interface FleetRow {
  vans_total: number;
  by_stage: Record<string, number>;
  gate_states: Record<string, number>;
  versions: Record<string, { version: string; vans: number }[]>;
  deferral_reasons: { reason: string; vans: number }[];
  outcomes: { day: string; success: number; failure: number; aborted: number; already_installed: number }[];
  /** Absent from bridges older than issue #13/#14. */
  updates_in_progress?: Record<string, number>;
  quarantined_attributes: number;
  quarantined_records?: Record<string, number>;
}
interface AttentionRow {
  van_id: string;
  code: string;
  detail: string;
}

export const reportCommand = defineCommand({
  name: 'report',
  summary: 'Fleet and attention reports for support (from the bridge API)',
  subcommands: [
    defineCommand({
      name: 'fleet',
      summary: 'Versions per component, stages, gate states, deferral reasons, outcomes',
      options: { ...common },
      async run(ctx) {
        const { body } = await getJson<FleetRow>(await target(ctx), '/api/v1/reports/fleet');
        if (ctx.values.json === true) return void ctx.io.stdout.write(`${terminalJson(body)}\n`);
        const out = [
          `Vans: ${body.vans_total}   stages: ${
            Object.entries(body.by_stage)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || '-'
          }   gates: ${
            Object.entries(body.gate_states)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || '-'
          }`,
          '',
          renderTable(
            ['component', 'version', 'vans'],
            Object.entries(body.versions).flatMap(([c, list]) => list.map((v) => [c, v.version, String(v.vans)])),
          ),
          '',
          renderTable(
            ['deferred because', 'vans'],
            body.deferral_reasons.map((r) => [r.reason, String(r.vans)]),
          ),
          '',
          renderTable(
            ['day', 'success', 'failure', 'aborted', 'already installed'],
            body.outcomes.map((o) => [
              o.day,
              String(o.success),
              String(o.failure),
              String(o.aborted),
              String(o.already_installed),
            ]),
          ),
          '',
          // A van its gate holds counts as `waiting`, never `downloading` (bridge/lib/waiting.ts).
          `Updates in progress: ${
            Object.entries(body.updates_in_progress ?? {})
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || '-'
          }`,
          `Inventory attributes quarantined: ${body.quarantined_attributes}`,
          `Mender records quarantined: ${
            Object.entries(body.quarantined_records ?? {})
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || '-'
          }`,
        ];
        ctx.io.stdout.write(neutraliseTerminalOutput(`${out.join('\n')}\n`));
      },
    }),
    defineCommand({
      name: 'vans',
      summary: 'Vans with versions, gate state and health',
      options: {
        ...common,
        stage: { type: 'string', value: 'STAGE', description: 'internal | pilot | fleet' },
        'gate-state': { type: 'string', value: 'STATE', description: 'open | deferred | blocked' },
        component: { type: 'string', value: 'NAME', description: 'only vans with this component' },
        version: { type: 'string', value: 'SEMVER', description: 'with --component: only this version' },
        attention: { type: 'boolean', description: 'only vans that need attention' },
        page: { type: 'string', value: 'N', description: 'page (default 1)' },
        'per-page': { type: 'string', value: 'N', description: 'vans per page, 1–500 (default 50)' },
      },
      async run(ctx) {
        const q = new URLSearchParams();
        const map: [string, string][] = [
          ['stage', 'stage'],
          ['gate-state', 'gate_state'],
          ['component', 'component'],
          ['version', 'version'],
          ['page', 'page'],
          ['per-page', 'per_page'],
        ];
        for (const [flag, param] of map) {
          const v = opt.string(ctx.values, flag);
          if (v !== undefined) q.set(param, v);
        }
        if (!q.has('per_page')) q.set('per_page', '50');
        if (ctx.values.attention === true) q.set('needs_attention', 'true');
        const { body, total } = await getJson<VanRow[]>(await target(ctx), `/api/v1/vans?${q.toString()}`);
        if (ctx.values.json === true) return void ctx.io.stdout.write(`${terminalJson(body)}\n`);
        const rows = body.map((v) => [
          v.van_id,
          v.stage,
          Object.entries(v.components)
            .map(([c, ver]) => `${c} ${ver}`)
            .join(', '),
          v.gate.state ?? '-',
          v.gate.reason ?? '',
          v.health.battery_soc === null ? '-' : `${v.health.battery_soc}%`,
          v.health.last_update_status ?? '-',
          v.client?.reported ?? '-',
          v.last_check_in ?? 'never',
        ]);
        ctx.io.stdout.write(
          `${renderTable(['van', 'stage', 'versions', 'gate', 'why', 'battery', 'last update', 'client', 'last seen'], rows)}\n${body.length} of ${total ?? body.length} vans\n`,
        );
      },
    }),
    defineCommand({
      name: 'attention',
      summary: 'Vans that need a human, with the reason',
      options: { ...common, csv: { type: 'boolean', description: 'print CSV' } },
      async run(ctx) {
        const t = await target(ctx);
        if (ctx.values.csv === true)
          // The bridge defuses its CSV; an older bridge may not, so control characters are neutralised here too.
          return void ctx.io.stdout.write(
            neutraliseTerminalOutput((await getJson<string>(t, '/api/v1/reports/attention?format=csv')).body).replace(
              /\\x0d\n/g,
              '\r\n',
            ),
          );
        const { body } = await getJson<AttentionRow[]>(t, '/api/v1/reports/attention');
        if (ctx.values.json === true) return void ctx.io.stdout.write(`${terminalJson(body)}\n`);
        ctx.io.stdout.write(
          `${renderTable(
            ['van', 'reason', 'detail'],
            body.map((a) => [a.van_id, a.code, a.detail]),
          )}\n${body.length} item(s)\n`,
        );
      },
    }),
    defineCommand({
      name: 'data',
      summary: "A van's data ledger: cellular and OTA bytes this month against its budget, every deployment's bytes",
      positionals: [{ name: 'van', description: 'van id' }],
      options: { ...common },
      async run(ctx) {
        const path = `/api/v1/vans/${encodeURIComponent(ctx.positionals[0]!)}/data`;
        const { body } = await getJson<VanData>(await target(ctx), path);
        if (ctx.values.json === true) return void ctx.io.stdout.write(`${terminalJson(body)}\n`);
        const budget = body.budget_bytes === null ? 'no budget' : `budget ${formatBytes(body.budget_bytes)}`;
        ctx.io.stdout.write(
          neutraliseTerminalOutput(
            `${body.van_id} in ${body.month}: cellular ${body.link_bytes === null ? 'not reported' : formatBytes(body.link_bytes)}, OTA ${formatBytes(body.ota_bytes)}; ${budget}${body.over_budget ? ' — OVER BUDGET' : ''}\n\n${renderTable(
              ['deployment', 'artifact', 'kind', 'status', 'bytes', 'finished'],
              body.deployments.map((d) => [
                d.deployment,
                d.artifactName,
                d.kind,
                d.status,
                d.count === 'none' ? '-' : `${formatBytes(d.bytes)}${d.count === 'at_most' ? ' (at most)' : ''}`,
                d.finished ?? '-',
              ]),
            )}\n`,
          ),
        );
      },
    }),
  ],
});

export async function postJson<T>(t: ReportTarget, path: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(t.token ? { authorization: `Bearer ${t.token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (e) {
    throw new VanError('TOOL_FAILED', `cannot reach the bridge at ${t.url}: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let msg = text.slice(0, 200);
    try {
      msg = (JSON.parse(text) as { error?: string }).error ?? msg;
    } catch {
      /* not JSON: keep the text */
    }
    throw new VanError(
      res.status === 401 || res.status === 403
        ? 'MENDER_UNAUTHORIZED'
        : res.status === 409
          ? 'CONFLICT'
          : 'TOOL_FAILED',
      `bridge ${path}: ${res.status} ${msg}`,
    );
  }
  return JSON.parse(text) as T;
}

interface RolloutView {
  id: string;
  release: string;
  status: string;
  pause_reason: string | null;
  vans: { eligible: number; done: number; failed: number; excluded: number; held: number };
  waves: {
    label: string;
    vans: number;
    opened_at: string;
    closed_at: string | null;
    deployments: { component: string; status: string; targets: number; outcomes: Record<string, number> }[];
  }[];
  next: { kind: string; reason?: string }[];
  revert?: {
    status: string;
    previous_release: string | null;
    reason: string;
    targets: number;
    landed: number;
    not_landed: number;
  } | null;
  events: { at: string; actor: string; action: string; reason: string | null }[];
}

/** `rollout create`'s revert flags → the per-rollout policy (undefined: the config's applies). */
export function revertPolicyOf(
  values: Parameters<typeof opt.string>[0],
): { failed_count?: number; failed_pct?: number; window_hours?: number; soak_regressed_vans?: boolean } | undefined {
  const count = opt.int(values, 'revert-failed-count', 1, 100_000);
  const num = (name: string, min: number, max: number) => {
    const v = opt.string(values, name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || !(n > min) || n > max)
      throw new VanError('USAGE', `--${name} must be a number above ${min} and at most ${max}, got '${v}'`);
    return n;
  };
  const pct = num('revert-failed-pct', 0, 100);
  const hours = num('revert-window-hours', 0, 24 * 14);
  const soak = opt.bool(values, 'revert-soak-regressed-vans');
  if (opt.bool(values, 'no-auto-revert')) {
    if (count !== undefined || pct !== undefined || hours !== undefined || soak)
      throw new VanError('USAGE', '--no-auto-revert cannot be combined with the --revert-* flags');
    return {};
  }
  if (count === undefined && pct === undefined && hours === undefined && !soak) return undefined;
  if (hours !== undefined && count === undefined && pct === undefined)
    throw new VanError('USAGE', '--revert-window-hours needs --revert-failed-count or --revert-failed-pct');
  return {
    ...(count !== undefined ? { failed_count: count } : {}),
    ...(pct !== undefined ? { failed_pct: pct } : {}),
    ...(hours !== undefined ? { window_hours: hours } : {}),
    ...(soak ? { soak_regressed_vans: true } : {}),
  };
}

/** The rollout as a terminal view: totals, waves with per-component outcomes, next step, recent audit. */
export function renderRollout(r: RolloutView): string {
  const bar = (n: number, of: number, w = 30) => {
    const k = of === 0 ? 0 : Math.round((w * n) / of);
    return `[${'#'.repeat(k)}${'.'.repeat(w - k)}] ${n}/${of}`;
  };
  const lines = [
    `Rollout ${r.id}  release ${r.release}  ${r.status.toUpperCase()}${r.pause_reason ? ` — ${r.pause_reason}` : ''}`,
    `${bar(r.vans.done, r.vans.eligible)} vans done   failed ${r.vans.failed}   excluded ${r.vans.excluded}   on hold ${r.vans.held}`,
    '',
    renderTable(
      ['wave', 'vans', 'opened', 'closed', 'deployments'],
      r.waves.map((w) => [
        w.label,
        String(w.vans),
        w.opened_at,
        w.closed_at ?? '-',
        w.deployments
          .map(
            (d) =>
              `${d.component}: ${Object.entries(d.outcomes)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')}`,
          )
          .join('; ') || '-',
      ]),
    ),
    ...(r.revert
      ? [
          '',
          `Revert to ${r.revert.previous_release ?? '(no previous release)'}  ${r.revert.status.toUpperCase()}  ${bar(r.revert.landed, r.revert.targets)} vans back   not landed ${r.revert.not_landed}`,
          `  why: ${r.revert.reason}`,
        ]
      : []),
    '',
    `Next: ${r.next.map((n) => `${n.kind}${n.reason ? ` (${n.reason})` : ''}`).join(', ') || '-'}`,
    '',
    renderTable(
      ['at', 'who', 'action', 'why'],
      r.events.slice(-8).map((e) => [e.at, e.actor, e.action, e.reason ?? '']),
    ),
  ];
  return neutraliseTerminalOutput(`${lines.join('\n')}\n`);
}

/** The forecast's figures as the API sends them (bridge/rollout/forecast.ts). */
type ForecastNumbers = ForecastBytes;

interface ForecastView extends ForecastNumbers {
  release: string;
  blocked_by: string | null;
  vans: number;
  fleet: { total: number; current: number; held: number; excluded: number };
  waves: (ForecastNumbers & { label: string; vans: number; opens_at_earliest: string })[];
  notes: string[];
}

/** Bytes for people: exact count plus a MB/GB figure (decimal units, as the data plans count them). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let x = n;
  let u = -1;
  do {
    x /= 1000;
    u++;
  } while (x >= 1000 && u < units.length - 1);
  return `${x.toFixed(x < 10 ? 2 : 1)} ${units[u]}`;
}

/** The dry-run forecast as a terminal view: one row per wave and a total row. */
export function renderForecast(f: ForecastView): string {
  const row = (label: string, vans: number, opens: string, n: ForecastNumbers) => [
    label,
    String(vans),
    opens,
    formatBytes(n.full_bytes),
    n.delta_vans ? `${formatBytes(n.delta_bytes)} (${n.delta_vans} vans)` : formatBytes(n.delta_bytes),
    String(n.bytes),
    `${n.waiting_unmetered}${n.waiting_unmetered ? ` (${formatBytes(n.waiting_unmetered_bytes)})` : ''}`,
    String(n.size_unknown),
  ];
  const lines = [
    `Forecast for a rollout of ${f.release} (dry run: nothing stored or deployed)`,
    `${f.vans} of ${f.fleet.total} vans would download; ${f.fleet.current} already current, ${f.fleet.held} on hold, ${f.fleet.excluded} excluded`,
    ...(f.blocked_by ? [`A real create is refused now: ${f.blocked_by}`] : []),
    '',
    renderTable(
      ['wave', 'vans', 'opens at the earliest', 'full', 'delta', 'bytes', 'wait unmetered', 'size unknown'],
      [...f.waves.map((w) => row(w.label, w.vans, w.opens_at_earliest, w)), row('total', f.vans, '', f)],
    ),
    '',
    ...f.notes.map((n) => `Note: ${n}`),
  ];
  return neutraliseTerminalOutput(`${lines.join('\n')}\n`);
}

const rolloutIdArg = [{ name: 'id', description: 'rollout id' }];

function rolloutAction(action: 'pause' | 'resume' | 'advance' | 'abort', summary: string): CommandSpec {
  return defineCommand({
    name: action,
    summary,
    positionals: rolloutIdArg,
    options: { ...common, ...reasonOption },
    examples: [`vancore-ota rollout ${action} r0123456789 --reason "…"`],
    async run(ctx) {
      const reason = requireReason(ctx);
      const r = await postJson<RolloutView>(
        await target(ctx),
        `/api/v1/rollouts/${encodeURIComponent(ctx.positionals[0]!)}/${action}`,
        { reason },
      );
      ctx.io.stdout.write(ctx.values.json === true ? `${terminalJson(r)}\n` : renderRollout(r));
    },
  });
}

export const rolloutCommand = defineCommand({
  name: 'rollout',
  summary: 'Plan and drive staged rollouts (internal → pilot → fleet)',
  description:
    'Staged rollouts of a release through the bridge: internal, then pilot, then daily fleet waves, each gated on\n' +
    'success, soak time and health; the bridge pauses a rollout itself when a wave fails too often.',
  subcommands: [
    defineCommand({
      name: 'create',
      summary: 'Start a rollout of a release (--dry-run: forecast vans and bytes per wave, start nothing)',
      positionals: [{ name: 'release', description: 'release name (POST /api/v1/releases)' }],
      options: {
        ...common,
        ...reasonOption,
        'dry-run': {
          type: 'boolean',
          description:
            'forecast the waves, vans, bytes and vans waiting for an unmetered link; store and deploy nothing',
        },
        'revert-failed-count': {
          type: 'string',
          value: 'N',
          description: "automatic revert at N failed updates in the window (replaces the config's rollout.revert)",
        },
        'revert-failed-pct': {
          type: 'string',
          value: 'P',
          description: 'automatic revert when more than P % of the updates finished in the window failed',
        },
        'revert-window-hours': {
          type: 'string',
          value: 'H',
          description: 'the window the revert policy counts failures in (default 24)',
        },
        'revert-soak-regressed-vans': {
          type: 'boolean',
          description:
            "take each van whose post-commit soak of the release regressed back on its own, without a threshold (like every --revert-* flag, the flags given replace the config's rollout.revert for this rollout)",
        },
        'no-auto-revert': {
          type: 'boolean',
          description: 'no automatic revert for this rollout, whatever the config says',
        },
      },
      examples: [
        'vancore-ota rollout create 2026.11.1 --dry-run',
        'vancore-ota rollout create 2026.11.1 --reason "November release"',
        'vancore-ota rollout create 2026.11.1 --revert-failed-count 5 --revert-failed-pct 20 --revert-window-hours 24',
      ],
      async run(ctx) {
        const reason = opt.string(ctx.values, 'reason');
        // Bad revert flags are one usage line even with --dry-run (which forecasts bytes, not the policy).
        const revert = revertPolicyOf(ctx.values);
        if (ctx.values['dry-run'] === true) {
          const f = await postJson<ForecastView>(await target(ctx), '/api/v1/rollouts', {
            release: ctx.positionals[0],
            dry_run: true,
          });
          ctx.io.stdout.write(ctx.values.json === true ? `${terminalJson(f)}\n` : renderForecast(f));
          return;
        }
        const r = await postJson<RolloutView>(await target(ctx), '/api/v1/rollouts', {
          release: ctx.positionals[0],
          ...(reason ? { reason } : {}),
          ...(revert ? { revert } : {}),
        });
        ctx.io.stdout.write(ctx.values.json === true ? `${terminalJson(r)}\n` : renderRollout(r));
      },
    }),
    defineCommand({
      name: 'status',
      summary: 'Show a rollout (--watch: a live progress view until it ends or Ctrl-C)',
      positionals: rolloutIdArg,
      options: {
        ...common,
        watch: { type: 'boolean', description: 'refresh every --interval seconds' },
        interval: { type: 'string', value: 'S', description: 'refresh interval with --watch (default 2)' },
      },
      async run(ctx) {
        const t = await target(ctx);
        const path = `/api/v1/rollouts/${encodeURIComponent(ctx.positionals[0]!)}`;
        const interval = Number(opt.string(ctx.values, 'interval') ?? '2');
        if (!(interval > 0)) throw new VanError('USAGE', '--interval must be a positive number of seconds');
        for (;;) {
          const { body } = await getJson<RolloutView>(t, path);
          if (ctx.values.json === true) ctx.io.stdout.write(`${terminalJson(body)}\n`);
          else
            ctx.io.stdout.write(
              `${ctx.values.watch === true && ctx.io.isTTY ? '\x1b[2J\x1b[H' : ''}${renderRollout(body)}`,
            );
          if (
            ctx.values.watch !== true ||
            ctx.signal.aborted ||
            body.status === 'completed' ||
            body.status === 'aborted'
          )
            return;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, interval * 1000);
            ctx.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
          });
          if (ctx.signal.aborted) return;
        }
      },
    }),
    rolloutAction('pause', 'Pause a rollout'),
    rolloutAction('resume', 'Resume a paused rollout (acknowledges the wave that paused it)'),
    rolloutAction('advance', 'Close the open wave now, skipping its remaining soak and success gate'),
    rolloutAction('abort', 'Abort a rollout and every open Mender deployment of it'),
    defineCommand({
      name: 'data',
      summary: 'Bytes a rollout sent over the air: per wave and in total, delta and full',
      positionals: rolloutIdArg,
      options: { ...common },
      async run(ctx) {
        const path = `/api/v1/rollouts/${encodeURIComponent(ctx.positionals[0]!)}/data`;
        const { body } = await getJson<RolloutData>(await target(ctx), path);
        if (ctx.values.json === true) return void ctx.io.stdout.write(`${terminalJson(body)}\n`);
        const row = (label: string, w: RolloutData['total']) => [
          label,
          String(w.vans),
          `${formatBytes(w.delta_bytes)} (${w.delta_vans} vans)`,
          `${formatBytes(w.full_bytes)} (${w.full_vans} vans)`,
          formatBytes(w.failed_bytes_at_most),
          String(w.size_unknown),
        ];
        ctx.io.stdout.write(
          `${renderTable(
            ['wave', 'vans', 'delta', 'full', 'failed (at most)', 'size unknown'],
            [...body.waves.map((w) => row(String(w.wave), w)), row('total', body.total)],
          )}\n`,
        );
      },
    }),
    defineCommand({
      name: 'revert',
      summary:
        "Revert a rollout: pause it and deploy the previous release's revert artifacts to every van that took it",
      positionals: rolloutIdArg,
      options: {
        ...common,
        ...reasonOption,
        to: {
          type: 'string',
          value: 'RELEASE',
          description: 'go back to this release (default: the last one rolled out completely before)',
        },
      },
      examples: ['vancore-ota rollout revert r0123456789 --reason "app crashes on gen2 hubs"'],
      async run(ctx) {
        const reason = requireReason(ctx);
        const to = opt.string(ctx.values, 'to');
        const r = await postJson<RolloutView>(
          await target(ctx),
          `/api/v1/rollouts/${encodeURIComponent(ctx.positionals[0]!)}/revert`,
          { reason, ...(to ? { to } : {}) },
        );
        ctx.io.stdout.write(ctx.values.json === true ? `${terminalJson(r)}\n` : renderRollout(r));
      },
    }),
  ],
});
