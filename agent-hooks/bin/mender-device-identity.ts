// /usr/share/mender/identity/mender-device-identity — bundled (scripts/build.mjs). Prints
// `mac=…` and `van_id=…`; exits 1 with one stderr line when no stable identity can be formed.
import { formatInventoryLines } from '../../core/schemas/inventory.js';
import { oneLine } from '../../core/errors.js';
import { formIdentity, gatherIdentity } from '../identity/identity.js';
import { loadDeviceContext } from '../lib/device.js';

async function main(): Promise<number> {
  try {
    const ctx = await loadDeviceContext(process.env);
    const id = formIdentity(await gatherIdentity(ctx));
    process.stdout.write(`${formatInventoryLines(id).lines.join('\n')}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`mender-device-identity: ${oneLine(e)}\n`);
    return 1;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
