// How a `vancore-ota` command is declared: commands are data (name, options, positionals,
// subcommands, run), so help is generated from them and usage errors are uniform. Product folders
// declare every command node with defineCommand() and read option values with `opt`; the dispatcher
// and the help renderer that run these declarations live in cli/command.ts (docs/contracts.md "CLI").
import { VanError } from './errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Shown in help as `--name VALUE`. */
  value?: string;
  description: string;
  default?: string | boolean;
}

export interface PositionalSpec {
  name: string;
  description: string;
  optional?: boolean;
}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  isTTY: boolean;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface RunContext {
  /** Full command path, e.g. "vancore-ota gate check". */
  path: string;
  values: OptionValues;
  positionals: string[];
  io: Io;
  /** Aborted on SIGINT/SIGTERM: long-running commands stop cleanly. */
  signal: AbortSignal;
}

/**
 * Set by defineCommand() only. The type requires it, so a command written as a bare object literal (a
 * structural copy of this shape) does not type-check where commands are registered, and
 * isCommandSpec() finds an `as` cast at run time (test/unit/cli/command-tree.test.ts).
 */
const declaredWithDefineCommand: unique symbol = Symbol('vancore-ota command (core/command.ts defineCommand)');

/** What a command module writes: one node of the command tree. */
export interface CommandDeclaration {
  name: string;
  summary: string;
  description?: string;
  options?: Record<string, OptionSpec>;
  positionals?: PositionalSpec[];
  /** Each made with defineCommand(). */
  subcommands?: CommandSpec[];
  /** Returns the exit code (default 0). */
  run?: (ctx: RunContext) => Promise<number | void>;
  /** Lines printed under "Examples:" in help. */
  examples?: string[];
  /** Take every argument as given (only -h/--help is parsed): for placeholders of unlanded commands. */
  passthrough?: boolean;
}

/** A declared command node, as the dispatcher (cli/command.ts) runs it. */
export interface CommandSpec extends CommandDeclaration {
  readonly [declaredWithDefineCommand]: true;
}

/** Declare one command node (a group with subcommands, or a leaf with run). */
export function defineCommand(declaration: CommandDeclaration): CommandSpec {
  return { ...declaration, [declaredWithDefineCommand]: true };
}

/** True for a node made by defineCommand(). */
export function isCommandSpec(node: unknown): node is CommandSpec {
  return typeof node === 'object' && node !== null && declaredWithDefineCommand in node;
}

/** Typed accessors for option values (parseArgs gives a union). */
export const opt = {
  string(values: OptionValues, name: string): string | undefined {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  },
  strings(values: OptionValues, name: string): string[] {
    const v = values[name];
    return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  },
  bool(values: OptionValues, name: string): boolean {
    return values[name] === true;
  },
  /** An integer option within bounds, or a usage error naming the option. */
  int(values: OptionValues, name: string, min: number, max: number): number | undefined {
    const v = opt.string(values, name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < min || n > max) {
      throw new VanError('USAGE', `--${name} must be a whole number from ${min} to ${max}, got '${v}'`);
    }
    return n;
  },
};
