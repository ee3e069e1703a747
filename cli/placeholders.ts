// Commands whose issues have not landed yet: registered so `--help` shows the whole product, and
// answering "not implemented yet" with exit 2. Each is replaced by its product folder's own spec.
import { VanError } from '../core/errors.js';
import type { CommandSpec } from './command.js';

export function notYet(name: string, summary: string, issue: number, subcommands?: [string, string][]): CommandSpec {
  const run = (): Promise<number> =>
    Promise.reject(new VanError('NOT_IMPLEMENTED', `not implemented yet (issue #${issue})`));
  if (!subcommands) return { name, summary, passthrough: true, run };
  return {
    name,
    summary,
    subcommands: subcommands.map(([sub, s]) => ({ name: sub, summary: s, passthrough: true, run })),
  };
}
