// `vancore-ota vpn-migration create|status|hold|release|rollback|cancel`: the VPN migration through the
// bridge API ($VANCORE_BRIDGE_URL, $VANCORE_BRIDGE_TOKEN or --bridge, --token-file).
import { type CommandSpec, defineCommand, opt, type RunContext } from '../../core/command.js';
import { neutraliseTerminalOutput, terminalJson } from '../../core/safe-text.js';
import { VanError } from '../../core/errors.js';
import { reasonOption, requireReason } from '../lib/audit-reason.js';
import { common, getJson, postJson, target } from '../cli.js';
import { renderTable } from '../table.js';

interface Line {
  van_id: string;
  state: string | null;
  step: string | null;
  detail: string;
  code?: string;
}
interface Report {
  totals: Record<string, number>;
  per_step: { step: string; vans: number; states: Record<string, number> }[];
  stuck: Line[];
  reverted: Line[];
  attention: Line[];
  held: Line[];
  rolled_back: Line[];
  notes?: string[];
}
interface MigrationView extends Report {
  id: string;
  status: string;
  artifacts: Record<string, string>;
  scope?: { stages?: string[]; tag?: { name: string; value: string }; vans?: string[] } | null;
  starts_per_day?: { day: string; vans: number }[];
  next?: { kind: string; reason?: string }[];
}

/** The report as a terminal view: totals, vans per step, the lists that need a human. */
export function renderMigration(m: Partial<MigrationView> & Report): string {
  const t = m.totals;
  const lines: string[] = [];
  if (m.id) lines.push(`VPN migration ${m.id}  ${(m.status ?? '').toUpperCase()}`);
  if (m.scope) lines.push(`scope: ${describeScope(m.scope)}`);
  lines.push(
    `vans ${t.vans ?? 0}: done ${t.done ?? 0}, deploying ${t.in_flight ?? 0}, awaiting inventory ${t.awaiting_inventory ?? 0}, ` +
      `soaking ${t.soaking ?? 0}, ready ${t.ready ?? 0}, held ${t.held ?? 0}, attention ${t.attention ?? 0}, ` +
      `stuck ${t.stuck ?? 0}, reverted ${t.reverted ?? 0}, rolled back ${t.rolled_back ?? 0}`,
    '',
    renderTable(
      ['step', 'vans', 'states'],
      m.per_step.map((s) => [
        s.step,
        String(s.vans),
        Object.entries(s.states)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ]),
    ),
  );
  const list = (title: string, rows: Line[]) => {
    if (rows.length === 0) return;
    lines.push(
      '',
      `${title}:`,
      renderTable(
        ['van', 'state', 'step', 'why'],
        rows.map((r) => [r.van_id, r.state ?? '-', r.step ?? '-', `${r.code ? `${r.code}: ` : ''}${r.detail}`]),
      ),
    );
  };
  list('Need attention', m.attention);
  list('Stuck', m.stuck);
  list('Held', m.held);
  list('Rolled back', m.rolled_back);
  for (const n of m.notes ?? []) lines.push('', `Note: ${n}`);
  if (m.next?.length)
    lines.push('', `Next: ${m.next.map((n) => `${n.kind}${n.reason ? ` (${n.reason})` : ''}`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function describeScope(s: NonNullable<MigrationView['scope']>): string {
  const parts = [
    ...(s.stages ? [`stage ${s.stages.join('|')}`] : []),
    ...(s.tag ? [`tag ${s.tag.name}=${s.tag.value}`] : []),
    ...(s.vans ? [`${s.vans.length} named van${s.vans.length === 1 ? '' : 's'}`] : []),
  ];
  return parts.join(' and ');
}

/** `--stage S` (repeatable), `--tag NAME=VALUE`, `--van ID` (repeatable) → the API's scope, or none. */
export function scopeFromFlags(values: RunContext['values']): Record<string, unknown> | undefined {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const stages = list(values.stage);
  const vans = list(values.van);
  const tag = opt.string(values, 'tag');
  let tagPair: { name: string; value: string } | undefined;
  if (tag !== undefined) {
    const eq = tag.indexOf('=');
    if (eq <= 0) throw new VanError('USAGE', `--tag must be NAME=VALUE, got '${tag}'`);
    tagPair = { name: tag.slice(0, eq), value: tag.slice(eq + 1) };
  }
  const scope = {
    ...(stages.length ? { stages } : {}),
    ...(tagPair ? { tag: tagPair } : {}),
    ...(vans.length ? { vans } : {}),
  };
  return Object.keys(scope).length ? scope : undefined;
}

function positiveNumber(ctx: RunContext, flag: string, integer: boolean): number | undefined {
  const v = opt.string(ctx.values, flag);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))
    throw new VanError('USAGE', `--${flag} must be a ${integer ? 'whole ' : ''}number ≥ 0, got '${v}'`);
  return n;
}

function print(ctx: RunContext, body: Report): void {
  // Reports carry device text (step details): never raw control characters on a terminal (#16).
  ctx.io.stdout.write(
    ctx.values.json === true ? `${terminalJson(body)}\n` : neutraliseTerminalOutput(renderMigration(body)),
  );
}

function vanAction(action: 'hold' | 'release' | 'rollback', summary: string): CommandSpec {
  return defineCommand({
    name: action,
    summary,
    positionals: [
      { name: 'id', description: 'migration id' },
      { name: 'van', description: 'van id' },
    ],
    options: { ...common, ...reasonOption },
    examples: [`vancore-ota vpn-migration ${action} m0123456789 van-00042 --reason "…"`],
    async run(ctx) {
      const why = requireReason(ctx);
      const [id, van] = ctx.positionals as [string, string];
      print(
        ctx,
        await postJson<Report>(
          await target(ctx),
          `/api/v1/vpn-migrations/${encodeURIComponent(id)}/vans/${encodeURIComponent(van)}/${action}`,
          { reason: why },
        ),
      );
    },
  });
}

export const vpnMigrationCommand = defineCommand({
  name: 'vpn-migration',
  summary: 'Drive the Tailscale → Headscale migration van by van (add, verify, cutover, retire)',
  description:
    'The bridge deploys each van the next vancore-vpn step only after inventory shows the previous one,\n' +
    'under a daily limit; vans that fail or are reverted are listed for attention. See docs/vpn-migration.md.',
  subcommands: [
    defineCommand({
      name: 'create',
      summary: 'Start the migration with one artifact per step',
      options: {
        ...common,
        ...reasonOption,
        add: { type: 'string', value: 'ARTIFACT', description: 'artifact name of the add step' },
        verify: { type: 'string', value: 'ARTIFACT', description: 'artifact name of the verify step' },
        cutover: { type: 'string', value: 'ARTIFACT', description: 'artifact name of the cutover step' },
        retire: { type: 'string', value: 'ARTIFACT', description: 'artifact name of the retire step' },
        'daily-limit': { type: 'string', value: 'N', description: 'vans starting a step per 24 h (default: config)' },
        'retire-soak-hours': {
          type: 'string',
          value: 'H',
          description: 'cut-over soak before retire (default: config)',
        },
        'max-retries': { type: 'string', value: 'N', description: 'retries of a failed step (default: config)' },
        stage: {
          type: 'string',
          value: 'S',
          multiple: true,
          description: 'only vans of this stage: internal, pilot, fleet (default: every stage)',
        },
        tag: { type: 'string', value: 'NAME=VALUE', description: 'only vans with this Mender tag' },
        van: { type: 'string', value: 'ID', multiple: true, description: 'only these vans (van ids)' },
      },
      examples: [
        'vancore-ota vpn-migration create --add vancore-vpn-1.0.0 --verify vancore-vpn-1.1.0 \\\n' +
          '    --cutover vancore-vpn-1.2.0 --retire vancore-vpn-1.3.0 --daily-limit 20 --reason "Headscale go-live"',
        'vancore-ota vpn-migration create --add … --verify … --cutover … --retire … --stage internal \\\n' +
          '    --reason "lab vans first"',
      ],
      async run(ctx) {
        const artifacts: Record<string, string> = {};
        for (const step of ['add', 'verify', 'cutover', 'retire']) {
          const a = opt.string(ctx.values, step);
          if (!a) throw new VanError('USAGE', `missing --${step} ARTIFACT (the artifact of the ${step} step)`);
          artifacts[step] = a;
        }
        const limit = positiveNumber(ctx, 'daily-limit', true);
        const soak = positiveNumber(ctx, 'retire-soak-hours', false);
        const retries = positiveNumber(ctx, 'max-retries', true);
        const why = opt.string(ctx.values, 'reason');
        const scope = scopeFromFlags(ctx.values);
        const settings = {
          ...(limit !== undefined ? { daily_batch_limit: limit } : {}),
          ...(soak !== undefined ? { retire_soak_hours: soak } : {}),
          ...(retries !== undefined ? { max_retries_per_van: retries } : {}),
        };
        const body = await postJson<MigrationView>(await target(ctx), '/api/v1/vpn-migrations', {
          artifacts,
          ...(Object.keys(settings).length ? { settings } : {}),
          ...(scope ? { scope } : {}),
          ...(why ? { reason: why } : {}),
        });
        print(ctx, body);
      },
    }),
    defineCommand({
      name: 'status',
      summary: 'Show a migration: vans per step, attention, stuck, held, next step',
      positionals: [{ name: 'id', description: 'migration id' }],
      options: { ...common },
      async run(ctx) {
        const { body } = await getJson<MigrationView>(
          await target(ctx),
          `/api/v1/vpn-migrations/${encodeURIComponent(ctx.positionals[0]!)}`,
        );
        print(ctx, body);
      },
    }),
    vanAction('hold', 'Hold a van: no further migration step'),
    vanAction('release', 'Release a van: clear its hold or rollback and forgive earlier failures'),
    vanAction('rollback', 'Roll a van back one step (what that means per step: docs/vpn-migration.md)'),
    defineCommand({
      name: 'cancel',
      summary: 'Cancel the migration (deployments in flight finish)',
      positionals: [{ name: 'id', description: 'migration id' }],
      options: { ...common, ...reasonOption },
      async run(ctx) {
        const why = requireReason(ctx);
        print(
          ctx,
          await postJson<MigrationView>(
            await target(ctx),
            `/api/v1/vpn-migrations/${encodeURIComponent(ctx.positionals[0]!)}/cancel`,
            { reason: why },
          ),
        );
      },
    }),
  ],
});
