// `npm run bench`: runs every registered benchmark, writes bench/results/<name>.json (figures, the
// baseline measured in the same run, the ratio, the machine) and prints a summary table.
// Benchmarks register in bench/registry.ts as their issues land.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { updateReadme } from './readme-table.js';
import { benchmarks } from './registry.js';

const only = process.argv.slice(2);
const selected = only.length ? benchmarks.filter((b) => only.includes(b.name)) : benchmarks;
if (only.length && selected.length !== only.length) {
  const known = benchmarks.map((b) => b.name).join(', ') || '(none)';
  process.stderr.write(`bench: unknown benchmark in ${only.join(', ')}; known: ${known}\n`);
  process.exit(2);
}
if (selected.length === 0) {
  process.stdout.write('bench: no benchmarks are registered yet\n');
  process.exit(0);
}
const machine = {
  node: process.version,
  cpus: cpus().length,
  cpu: cpus()[0]?.model ?? '?',
  mem_gib: Math.round(totalmem() / 2 ** 30),
};
const dir = join(import.meta.dirname, 'results');
await mkdir(dir, { recursive: true });
for (const b of selected) {
  process.stdout.write(`bench: ${b.name} …\n`);
  const result = await b.run();
  await writeFile(
    join(dir, `${b.name}.json`),
    `${JSON.stringify({ name: b.name, at: new Date().toISOString(), machine, ...result }, null, 2)}\n`,
  );
  process.stdout.write(`bench: ${b.name}: ${result.summary}\n`);
}
// The README shows the latest figure of every benchmark (each file keeps its own run's baseline).
if (await updateReadme(join(import.meta.dirname, '../README.md'), dir))
  process.stdout.write('bench: README table updated\n');
