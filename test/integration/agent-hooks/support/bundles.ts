// The agent-hook executables as shipped: `npm test` builds dist/device before vitest runs, and each
// test file copies the bundles it needs into its own temp dir at start, so a rebuild of dist/ in the
// same checkout during a long test cannot pull a file out from under it.
import { chmod, copyFile, mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../../helpers/cli.js';

export const HOOK_NAMES = [
  'modules/vancore-compose',
  'modules/vancore-config',
  'modules/vancore-vpn',
  'modules/vancore-ha',
  'identity/mender-device-identity',
  'inventory/mender-inventory-vancore',
  'bin/vancore-ota-health',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** Copies the named hooks from dist/device into `outDir/<name>` (mode 0755) and returns their paths. */
export async function copyBuiltHooks<N extends HookName>(
  outDir: string,
  names: readonly N[],
): Promise<Record<N, string>> {
  const out = {} as Record<N, string>;
  await Promise.all(
    names.map(async (name) => {
      const from = join(repoRoot, 'dist/device', name);
      await stat(from).catch(() => {
        throw new Error(`${from} is missing: run 'npm run build' (npm test does)`);
      });
      const outfile = join(outDir, name);
      await mkdir(dirname(outfile), { recursive: true });
      await copyFile(from, outfile);
      await chmod(outfile, 0o755);
      out[name] = outfile;
    }),
  );
  return out;
}
