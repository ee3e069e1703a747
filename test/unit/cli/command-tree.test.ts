// One way to declare a command (issue #15 item 6): every node of the `vancore-ota` tree is made with
// core/command.ts's defineCommand and has a shape the dispatcher can run and render; and the lint
// rule keeps core/ and the product folders from importing cli/, with no exceptions.
import { join } from 'node:path';
import { ESLint, Linter } from 'eslint';
import { describe, expect, it } from 'vitest';
import { parseCommandArgs, renderHelp } from '../../../cli/command.js';
import { rootCommand } from '../../../cli/root.js';
import { type CommandSpec, defineCommand, isCommandSpec } from '../../../core/command.js';
import { deviceCommand, healthCommand, soakCommand } from '../../../agent-hooks/cli.js';
import { bridgeCommand, reportCommand, rolloutCommand } from '../../../bridge/cli.js';
import { vpnMigrationCommand } from '../../../bridge/vpn/cli.js';
import { artifactCommand } from '../../../mender-artifacts/cli.js';
import { menderSimCommand } from '../../../mender-sim/cli.js';
import { gateCommand, sensordCommand } from '../../../state-scripts/cli.js';

const repo = join(import.meta.dirname, '../../..');

interface Node {
  path: string;
  node: unknown;
}

/** Every node of the tree with its command path; `node` stays unknown until checked. */
function walk(node: unknown, path: string): Node[] {
  const subs = (node as { subcommands?: unknown[] }).subcommands ?? [];
  return [{ path, node }, ...subs.flatMap((s) => walk(s, `${path} ${String((s as { name?: unknown }).name)}`))];
}

const NAME = /^[a-z][a-z0-9-]*$/;

/** What is wrong with one node's shape, as lines (empty: nothing). */
function shapeProblems(spec: CommandSpec): string[] {
  const p: string[] = [];
  if (!NAME.test(spec.name)) p.push(`name '${spec.name}' is not lower-case words joined by -`);
  if (!spec.summary.trim() || spec.summary.includes('\n')) p.push('summary must be one non-empty line');
  const subs = spec.subcommands ?? [];
  if (subs.length > 0 === (spec.run !== undefined)) p.push('needs exactly one of run and subcommands');
  if (subs.length > 0 && (spec.options || spec.positionals)) p.push('a group takes no options or arguments');
  const names = subs.map((s) => s.name);
  if (new Set(names).size !== names.length) p.push(`subcommand names repeat: ${names.join(', ')}`);
  const shorts = new Set<string>();
  for (const [name, o] of Object.entries(spec.options ?? {})) {
    if (!NAME.test(name) || name === 'help') p.push(`option --${name}: bad name`);
    if (!o.description.trim()) p.push(`option --${name}: no description`);
    if (o.value !== undefined && o.type !== 'string') p.push(`option --${name}: VALUE on a boolean`);
    if (o.multiple && o.type !== 'string') p.push(`option --${name}: repeatable boolean`);
    if (o.default !== undefined && typeof o.default !== (o.type === 'string' ? 'string' : 'boolean'))
      p.push(`option --${name}: default of the wrong type`);
    if (o.short !== undefined) {
      if (!/^[a-zA-Z]$/.test(o.short) || o.short === 'h' || shorts.has(o.short))
        p.push(`option --${name}: short -${o.short} is not a free letter`);
      shorts.add(o.short);
    }
  }
  const pos = spec.positionals ?? [];
  if (pos.some((x, i) => x.optional && pos.slice(i + 1).some((y) => !y.optional)))
    p.push('an optional argument before a required one');
  return p;
}

describe('the vancore-ota command tree', () => {
  const root = rootCommand();
  const nodes = walk(root, root.name);

  it('registers every product folder’s commands (and cli/’s own)', () => {
    const products = [
      menderSimCommand,
      bridgeCommand,
      artifactCommand,
      gateCommand,
      sensordCommand,
      healthCommand,
      soakCommand,
      deviceCommand,
      rolloutCommand,
      vpnMigrationCommand,
      reportCommand,
    ];
    for (const c of products) expect(root.subcommands).toContain(c);
    expect(root.subcommands?.map((c) => c.name)).toEqual([...products.map((c) => c.name), 'demo', 'config']);
    expect(nodes.length).toBeGreaterThan(30);
  });

  it('has every node declared with defineCommand (core/command.ts), none a structural copy', () => {
    expect(nodes.filter((n) => !isCommandSpec(n.node)).map((n) => n.path)).toEqual([]);
  });

  it.each(walk(rootCommand(), 'vancore-ota').map((n) => [n.path, n.node] as const))(
    '%s has a shape the dispatcher runs and renders',
    (path, node) => {
      const spec = node as CommandSpec;
      expect(shapeProblems(spec)).toEqual([]);
      expect(renderHelp(spec, path)).toContain(`Usage: ${path}`);
      if (!spec.subcommands) expect(parseCommandArgs(spec, ['--help'], path).help).toBe(true);
    },
  );

  it('tells a declared node from a look-alike, and finds shape faults', () => {
    const leaf = { name: 'x', summary: 'x', run: () => Promise.resolve() };
    expect(isCommandSpec(defineCommand(leaf))).toBe(true);
    expect(isCommandSpec(leaf)).toBe(false);
    expect(isCommandSpec({ ...defineCommand(leaf) })).toBe(true);
    expect(isCommandSpec(JSON.parse(JSON.stringify(defineCommand(leaf))))).toBe(false);
    expect(
      shapeProblems(
        defineCommand({
          name: 'Bad_Name',
          summary: '',
          options: { quiet: { type: 'boolean', value: 'X', short: 'h', description: 'q' } },
          positionals: [
            { name: 'a', description: 'a', optional: true },
            { name: 'b', description: 'b' },
          ],
        }),
      ),
    ).toEqual([
      "name 'Bad_Name' is not lower-case words joined by -",
      'summary must be one non-empty line',
      'needs exactly one of run and subcommands',
      'option --quiet: VALUE on a boolean',
      'option --quiet: short -h is not a free letter',
      'an optional argument before a required one',
    ]);
  });
});

describe('the import rule: core/ and the product folders never import cli/', () => {
  const folders = ['core', 'state-scripts', 'agent-hooks', 'mender-artifacts', 'bridge', 'mender-sim'];
  const eslint = new ESLint({ cwd: repo });

  /** The repo's own no-restricted-imports setting for a file at `rel`, applied to `code`. */
  async function importErrors(rel: string, code: string): Promise<string[]> {
    const config = (await eslint.calculateConfigForFile(join(repo, rel))) as {
      rules?: Record<string, Linter.RuleEntry>;
    };
    const rule = config.rules?.['no-restricted-imports'];
    expect(rule, `no import rule for ${rel}`).toBeDefined();
    const linter = new Linter({ cwd: repo });
    return linter
      .verify(
        code,
        [{ files: ['**/*.ts'], languageOptions: { sourceType: 'module' }, rules: { 'no-restricted-imports': rule! } }],
        join(repo, rel),
      )
      .map((m) => m.message);
  }

  const cases = folders.flatMap((folder) =>
    [1, 2, 3].map((depth) => {
      const rel = `${folder}/${['a', 'b', 'c'].slice(0, depth - 1).join('/')}${depth > 1 ? '/' : ''}x.ts`;
      return [rel, '../'.repeat(depth)] as const;
    }),
  );

  it.each(cases)('%s may not import cli/ (the engine, the root, the demo)', async (rel, up) => {
    for (const target of ['cli/command.js', 'cli/root.js', 'cli/demo/command.js']) {
      expect(await importErrors(rel, `import { x } from '${up}${target}';\n`), target).toHaveLength(1);
    }
  });

  it.each(cases.filter(([rel]) => !rel.startsWith('core/')))('%s may import core/command.ts', async (rel, up) => {
    expect(await importErrors(rel, `import { defineCommand } from '${up}core/command.js';\n`)).toEqual([]);
  });
});
