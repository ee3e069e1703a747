// Bundles the CLI (and, as the issues land, the device executables) with esbuild.
// The CLI keeps node_modules external; device executables are self-contained single files.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

// Code splitting: a command's implementation (and the packages it imports) loads only when that
// command runs, so `vancore-ota gate …` does not pay for fastify, pg and better-sqlite3.
await build({
  entryPoints: { cli: join(root, 'cli/main.ts') },
  outdir: dist,
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
await chmod(join(dist, 'cli.js'), 0o755);

// Device executables (issue #4): each a self-contained, minified CommonJS file that Mender starts
// directly (RECIPE §5: no arguments, found through PATH's node). CJS starts ~10–20 ms faster than ESM
// on Node 20 (../shared/research/node20-packages.md §4). The build id (a hash of the sources) keys the
// gates' parsed-config cache, so a new build never trusts a config parsed by an older schema.
const deviceEntries = {
  'mender-scripts/Download_Enter_50_vancore-gate': 'state-scripts/bin/Download_Enter.ts',
  // The same download gate for the C++ client (issue #13): device install lays out one of the two.
  'mender-scripts/Sync_Leave_50_vancore-gate': 'state-scripts/bin/Sync_Leave.ts',
  'mender-scripts/ArtifactInstall_Enter_50_vancore-gate': 'state-scripts/bin/ArtifactInstall_Enter.ts',
  'mender-scripts/ArtifactInstall_Error_50_vancore-gate': 'state-scripts/bin/ArtifactInstall_Error.ts',
  'mender-scripts/ArtifactCommit_Enter_50_vancore-validate': 'state-scripts/bin/ArtifactCommit_Enter.ts',
  'vancore-sensord.js': 'state-scripts/bin/sensord.ts',
};
const hash = createHash('sha256');
for (const dir of ['core', 'state-scripts']) {
  for (const f of (await readdir(join(root, dir), { recursive: true })).filter((p) => p.endsWith('.ts')).sort()) {
    hash.update(f).update(await readFile(join(root, dir, f)));
  }
}
const buildId = hash.digest('hex').slice(0, 16);
await mkdir(join(dist, 'device/mender-scripts'), { recursive: true });
// The repo is "type": "module", and Node 20 loads an extension-less file in a module scope as ESM; on
// a device no package.json is above /etc/mender/scripts. This marker keeps local runs CommonJS too.
await writeFile(join(dist, 'device/package.json'), '{ "type": "commonjs" }\n');
/**
 * State scripts start once per deployment step, so their cold start matters (bench/gates.ts). Node 20
 * has no module compile cache (22.1+), so the bundle runs through node:vm with a V8 code cache kept in
 * <state dir>/cache (0700; root-owned like the scripts themselves). The cache is written at exit,
 * after the run compiled what it needed, and is keyed by script and build. Without a usable cache the
 * script simply compiles, as any script would.
 */
function withCodeCache(name, code) {
  const body = code.replace(/^#!.*\n/, '');
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${body}\n})`;
  return `#!/usr/bin/env node
"use strict";
// VanCore OTA ${name} (build ${buildId}); see scripts/build.mjs (withCodeCache) and docs/gates.md.
const vm = require("node:vm"), fs = require("node:fs"), env = process.env;
const dir = (env.VANCORE_OTA_STATE_DIR || (env.VANCORE_OTA_ROOT || "").replace(/\\/+$/, "") + "/var/lib/vancore-ota") + "/cache";
const base = ${JSON.stringify(`${name}-${buildId}.jsc`)}, file = dir + "/" + base;
let data;
// The cache is never read through a link, from a FIFO or device, nor when huge (issue #16 item 8).
try {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try { const st = fs.fstatSync(fd); if (st.isFile() && st.size < 67108864) data = fs.readFileSync(fd); } finally { fs.closeSync(fd); }
} catch {}
const script = new vm.Script(${JSON.stringify(wrapped)}, { filename: __filename, cachedData: data });
if (data === undefined || script.cachedDataRejected) {
  process.once("exit", () => {
    try {
      // Not on procfs / sysfs: a recursive mkdir there spins forever (issue #16 item 8).
      let fsType = 0;
      try { fsType = fs.statfsSync(dir.slice(0, dir.lastIndexOf("/")) || "/").type; } catch {}
      if (fsType === 0x9fa0 || fsType === 0x62656572) return;
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const f of fs.readdirSync(dir)) if (f.startsWith(${JSON.stringify(`${name}-`)}) && f !== base) fs.rmSync(dir + "/" + f, { force: true });
      const tmp = file + "." + process.pid;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      fs.renameSync(tmp, file);
    } catch {}
  });
}
script.runInThisContext()(exports, require, module, __filename, __dirname);
`;
}

await Promise.all(
  Object.entries(deviceEntries).map(async ([out, entry]) => {
    const outfile = join(dist, 'device', out);
    const result = await build({
      entryPoints: [join(root, entry)],
      outfile,
      write: false,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      legalComments: 'none',
      define: { __VANCORE_BUILD_ID__: JSON.stringify(buildId) },
      // import() of a lazily loaded module becomes a deferred require(): the bundle runs inside a
      // node:vm Script (withCodeCache), where a real import() has no loader.
      supported: { 'dynamic-import': false },
      banner: { js: '#!/usr/bin/env node' },
      logLevel: 'warning',
    });
    const code = result.outputFiles[0].text;
    const name = out.split('/').pop();
    await writeFile(outfile, out.startsWith('mender-scripts/') ? withCodeCache(name, code) : code, { mode: 0o755 });
    await chmod(outfile, 0o755);
  }),
);

// Agent hooks (issue #6): update modules, identity and inventory scripts, the health runner. Same
// format as the gates (one CommonJS file each: Mender runs them by path, outside any package). They
// run once per protocol call or inventory poll, so no code cache: plain bundles.
const hookEntries = {
  'modules/vancore-compose': 'agent-hooks/bin/vancore-compose.ts',
  'modules/vancore-config': 'agent-hooks/bin/vancore-config.ts',
  'modules/vancore-vpn': 'agent-hooks/bin/vancore-vpn.ts',
  'modules/vancore-ha': 'agent-hooks/bin/vancore-ha.ts',
  'identity/mender-device-identity': 'agent-hooks/bin/mender-device-identity.ts',
  'inventory/mender-inventory-vancore': 'agent-hooks/bin/mender-inventory-vancore.ts',
  'bin/vancore-ota-health': 'agent-hooks/bin/vancore-ota-health.ts',
  'bin/vancore-ota-soak': 'agent-hooks/bin/vancore-ota-soak.ts',
};
await Promise.all(
  Object.entries(hookEntries).map(async ([out, entry]) => {
    const outfile = join(dist, 'device', out);
    await build({
      entryPoints: [join(root, entry)],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      legalComments: 'none',
      banner: { js: '#!/usr/bin/env node' },
      logLevel: 'warning',
    });
    await chmod(outfile, 0o755);
  }),
);
// The rest of the device kit (`vancore-ota device install --from dist/device`): every systemd unit
// (sensord, the VPN migration's second tailscaled and deadman timer) and the mender.conf fragment
// from deploy/device/.
const units = (await readdir(join(root, 'deploy/device/systemd'))).filter((f) => /\.(service|timer)$/.test(f));
for (const [from, to] of [
  ...units.map((u) => [`deploy/device/systemd/${u}`, `systemd/${u}`]),
  ['deploy/device/mender/mender.conf.fragment.json', 'mender/mender.conf.fragment.json'],
]) {
  await mkdir(dirname(join(dist, 'device', to)), { recursive: true });
  await writeFile(join(dist, 'device', to), await readFile(join(root, from)));
}

// The support / ops console (issue #18): one browser bundle (Preact + htm + uPlot) and its CSS, named by
// content hash, an index.html that loads them, and gzip twins the bridge sends to browsers that take gzip.
// Everything lands in dist/console, which the bridge serves at `/` (bridge/console/plugin.ts).
{
  const { gzipSync } = await import('node:zlib');
  const out = join(dist, 'console');
  const result = await build({
    entryPoints: { app: join(root, 'bridge/console/web/main.ts') },
    outdir: join(out, 'assets'),
    entryNames: '[name]-[hash]',
    bundle: true,
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    format: 'esm',
    minify: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  const files = Object.keys(result.metafile.outputs).map((f) => f.split('/').pop());
  const js = files.find((f) => f.endsWith('.js'));
  const css = files.find((f) => f.endsWith('.css'));
  await writeFile(
    join(out, 'index.html'),
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>VanCore console</title>
${css ? `<link rel="stylesheet" href="/assets/${css}">` : ''}
<script type="module" src="/assets/${js}"></script>
</head>
<body>
<div id="app"><p class="boot">Loading the VanCore console…</p></div>
<noscript>The VanCore console needs JavaScript. The same data is at /api/v1 (see /docs).</noscript>
</body>
</html>
`,
  );
  for (const f of ['index.html', ...files.map((f) => `assets/${f}`)]) {
    await writeFile(join(out, `${f}.gz`), gzipSync(await readFile(join(out, f)), { level: 9 }));
  }
}
