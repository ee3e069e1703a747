// Remove the dev-only packages from node_modules, as `npm prune --omit=dev` would, from the lock file alone:
// npm prune wants registry metadata for some trees, and an image build may have no network (the test's).
// A package the lock marks `"dev": true` is needed only for development; everything else stays.
import { readFileSync, rmSync } from 'node:fs';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
let removed = 0;
for (const [path, meta] of Object.entries(lock.packages ?? {})) {
  if (!path.startsWith('node_modules/') || meta.dev !== true) continue;
  rmSync(path, { recursive: true, force: true });
  removed++;
}
rmSync('node_modules/.bin', { recursive: true, force: true });
rmSync('node_modules/.cache', { recursive: true, force: true });
process.stdout.write(`prune-dev: removed ${removed} dev-only packages\n`);
