// /usr/share/mender/inventory/mender-inventory-vancore — bundled (scripts/build.mjs). Prints the
// VanCore inventory as key=value lines; a broken source only drops its own keys (stderr says why).
import { oneLine } from '../../core/errors.js';
import { formatInventoryLines } from '../../core/schemas/inventory.js';
import { gatherInventory, inventoryEntries } from '../inventory/inventory.js';
import { hostProbes } from '../inventory/si-probes.js';
import { loadDeviceContext } from '../lib/device.js';

const warn = (msg: string) => process.stderr.write(`mender-inventory-vancore: ${msg}\n`);

async function main(): Promise<number> {
  let ctx;
  try {
    ctx = await loadDeviceContext(process.env);
  } catch (e) {
    // Without ota.yaml we do not know the state dir: print nothing rather than guess (exit 1 is
    // logged by the client; the other inventory scripts are unaffected).
    warn(oneLine(e));
    return 1;
  }
  const facts = await gatherInventory(ctx, {
    probes: hostProbes(ctx.paths),
    now: new Date(),
    probeTimeoutMs: 3000,
    warn,
    ...(process.env.MENDER_DATASTORE_DIR ? { menderDatastoreDir: process.env.MENDER_DATASTORE_DIR } : {}),
  });
  const { lines, skipped } = formatInventoryLines(inventoryEntries(facts));
  if (skipped.length > 0) warn(`skipped keys: ${skipped.join(', ')}`);
  // Sorted, so the same facts print the same bytes (5.x compares the set before it sends it).
  lines.sort();
  process.stdout.write(lines.length > 0 ? `${lines.join('\n')}\n` : '');
  return 0;
}

main().then(
  (code) => {
    // A sensor call that timed out may still hold a child process or timer: the answer is out, leave.
    process.exit(code);
  },
  (e: unknown) => {
    warn(`internal error: ${oneLine(e)}`);
    process.exit(1);
  },
);
