// The command engine on node:util parseArgs: runs the command tree that core/command.ts declares
// (defineCommand), generates help from it, and makes every usage error one line + exit 2.
import { parseArgs } from 'node:util';
import type { CommandSpec, Io, OptionSpec, OptionValues } from '../core/command.js';
import { CliExit, VanError, isVanError, oneLine } from '../core/errors.js';

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'Show this help' };

function pad(s: string, n: number): string {
  return s.length >= n ? `${s}  ` : s + ' '.repeat(n - s.length);
}

export function renderHelp(spec: CommandSpec, path: string): string {
  const out: string[] = [];
  const pos = (spec.positionals ?? []).map((p) => (p.optional ? `[${p.name}]` : `<${p.name}>`)).join(' ');
  const usage = spec.subcommands ? `${path} <command> [options]` : `${path}${pos ? ` ${pos}` : ''} [options]`;
  out.push(`Usage: ${usage}`, '', spec.description ?? spec.summary);
  if (spec.subcommands?.length) {
    out.push('', 'Commands:');
    const w = Math.max(...spec.subcommands.map((c) => c.name.length)) + 4;
    for (const c of spec.subcommands) out.push(`  ${pad(c.name, w)}${c.summary}`);
  }
  if (spec.positionals?.length) {
    out.push('', 'Arguments:');
    const w = Math.max(...spec.positionals.map((p) => p.name.length)) + 6;
    for (const p of spec.positionals) out.push(`  ${pad(`<${p.name}>`, w)}${p.description}`);
  }
  const opts = { ...spec.options, help: HELP };
  const rows = Object.entries(opts).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    const extra = [o.multiple ? '(repeatable)' : '', o.default !== undefined ? `(default: ${String(o.default)})` : '']
      .filter(Boolean)
      .join(' ');
    return [flag, `${o.description}${extra ? ` ${extra}` : ''}`] as const;
  });
  const w = Math.max(...rows.map(([f]) => f.length)) + 2;
  out.push('', 'Options:', ...rows.map(([f, d]) => `  ${pad(f, w)}${d}`));
  if (spec.subcommands?.length) out.push('', `Run '${path} <command> --help' for a command's options.`);
  if (spec.examples?.length) out.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return `${out.join('\n')}\n`;
}

function usageError(path: string, message: string): VanError {
  return new VanError('USAGE', `${message} (see '${path} --help')`);
}

/** node:util parseArgs errors are long and multi-line; make them one short line. */
function describeParseError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(err.message ?? '')?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${quoted ?? '?'}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return (err.message ?? 'invalid option value').split('\n')[0]?.replace(/\.$/, '') ?? 'invalid option value';
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted ?? '?'}'`;
    default:
      return oneLine(e);
  }
}

export function parseCommandArgs(
  spec: CommandSpec,
  args: string[],
  path: string,
): { values: OptionValues; positionals: string[]; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = { help: HELP };
  for (const [name, o] of Object.entries(spec.options ?? {})) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(path, describeParseError(e));
  }
  const values: OptionValues = {};
  for (const [k, v] of Object.entries(parsed.values)) values[k] = Array.isArray(v) ? v.map(String) : v;
  const help = values.help === true;
  delete values.help;
  for (const [name, o] of Object.entries(spec.options ?? {})) {
    if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
  }
  if (!help) {
    const specs = spec.positionals ?? [];
    const required = specs.filter((p) => !p.optional).length;
    if (parsed.positionals.length < required) {
      throw usageError(path, `missing argument <${specs[parsed.positionals.length]?.name ?? '?'}>`);
    }
    if (parsed.positionals.length > specs.length) {
      throw usageError(path, `unexpected argument '${parsed.positionals[specs.length]}'`);
    }
  }
  return { values, positionals: parsed.positionals, help };
}

/** Resolve argv to a command and run it. Never throws: returns the process exit code. */
export async function runCommand(root: CommandSpec, argv: string[], io: Io, signal: AbortSignal): Promise<number> {
  let spec = root;
  let path = root.name;
  let rest = argv;
  try {
    while (spec.subcommands) {
      const [first, ...tail] = rest;
      if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
        io.stdout.write(renderHelp(spec, path));
        return first === undefined && spec !== root ? CliExit.usage : CliExit.ok;
      }
      if (first.startsWith('-')) throw usageError(path, `unknown option '${first}'`);
      const next = spec.subcommands.find((c) => c.name === first);
      if (!next) throw usageError(path, `unknown command '${first}'`);
      spec = next;
      path = `${path} ${first}`;
      rest = tail;
    }
    const { values, positionals, help } = spec.passthrough
      ? { values: {}, positionals: rest, help: rest.includes('--help') || rest.includes('-h') }
      : parseCommandArgs(spec, rest, path);
    if (help) {
      io.stdout.write(renderHelp(spec, path));
      return CliExit.ok;
    }
    if (!spec.run) throw new VanError('INTERNAL', `${path} has nothing to run`);
    const code = await spec.run({ path, values, positionals, io, signal });
    return code ?? CliExit.ok;
  } catch (e) {
    if (isVanError(e)) {
      io.stderr.write(`${path}: ${oneLine(e)}\n`);
      if (io.env.VANCORE_DEBUG === '1') for (const d of e.details) io.stderr.write(`  ${d}\n`);
      return e.exitCode;
    }
    io.stderr.write(`${path}: internal error: ${oneLine(e)}\n`);
    if (io.env.VANCORE_DEBUG === '1' && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return CliExit.failure;
  }
}
