// Child process of bench/delta.ts: the van-side rebuild of a layer-delta compose artifact, exactly as
// the vancore-compose module runs it (rebuildDeltaImages with the real docker engine), alone in its
// own process so its wall time and peak RSS (getrusage maxrss) are the rebuild's and nothing else's.
// argv: <vancore-index.json> <payload files dir> <work dir>; prints one JSON line.
import { readFile } from 'node:fs/promises';
import { dockerEngine } from '../agent-hooks/compose/engine.js';
import { rebuildDeltaImages } from '../agent-hooks/compose/delta.js';
import { nodeRunner } from '../agent-hooks/lib/runner.js';
import { ComposeIndex } from '../core/schemas/payload-index.js';

const [indexFile, filesDir, workDir] = process.argv.slice(2) as [string, string, string];
const index = ComposeIndex.parse(JSON.parse(await readFile(indexFile, 'utf8')));
if (!index.delta) throw new Error(`${indexFile} is not a delta index`);
const started = performance.now();
const r = await rebuildDeltaImages(
  dockerEngine(nodeRunner(process.env), process.env),
  index.delta,
  filesDir,
  workDir,
  (l) => process.stderr.write(`${l}\n`),
);
const ms = performance.now() - started;
process.stdout.write(
  `${JSON.stringify({ ms, max_rss_kb: process.resourceUsage().maxRSS, tarball: r.tarball, size: r.size, stats: r.stats })}\n`,
);
