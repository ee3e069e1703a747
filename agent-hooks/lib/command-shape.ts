// The shape of a `vancore-ota` command as cli/command.ts runs it, declared structurally: product
// folders do not import cli/ (cli/main.ts checks these against CommandSpec where it registers them).
export interface Option {
  type: 'string' | 'boolean';
  value?: string;
  description: string;
  default?: string | boolean;
}
export type Values = Record<string, string | boolean | string[] | undefined>;
export interface Context {
  values: Values;
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv };
}
export interface Command {
  name: string;
  summary: string;
  description?: string;
  options?: Record<string, Option>;
  subcommands?: Command[];
  run?: (ctx: Context) => Promise<number | void>;
  examples?: string[];
}

export const opt = {
  string: (v: Values, k: string) => (typeof v[k] === 'string' ? v[k] : undefined),
  bool: (v: Values, k: string) => v[k] === true,
};
