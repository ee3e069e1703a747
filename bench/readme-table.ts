// Regenerates the README's benchmark table from bench/results/*.json (between the bench markers).
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

interface Stored {
  name: string;
  at: string;
  summary: string;
  target: string;
  met: boolean;
  machine?: { cpus?: number; node?: string };
}

export async function renderBenchTable(resultsDir: string): Promise<string> {
  const files = (await readdir(resultsDir)).filter((f) => f.endsWith('.json')).sort();
  const rows: string[] = [];
  for (const f of files) {
    const r = JSON.parse(await readFile(join(resultsDir, f), 'utf8')) as Stored;
    const cell = (s: string) => s.replace(/\|/g, '\\|');
    rows.push(
      `| \`${r.name}\` | ${cell(r.summary)} | ${cell(r.target)} | ${r.met ? 'met' : '**missed**'} | ${r.at.slice(0, 16).replace('T', ' ')} |`,
    );
  }
  return [
    '| benchmark | result (baseline measured in the same run) | target | | run (UTC) |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

export async function updateReadme(readme: string, resultsDir: string): Promise<boolean> {
  const text = await readFile(readme, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a === -1 || b === -1 || b < a) return false;
  const next = `${text.slice(0, a + START.length)}\n${await renderBenchTable(resultsDir)}\n${text.slice(b)}`;
  if (next !== text) await writeFile(readme, next);
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = join(import.meta.dirname, '..');
  const ok = await updateReadme(join(root, 'README.md'), join(root, 'bench/results'));
  process.stdout.write(ok ? 'README benchmark table updated\n' : 'README has no bench markers\n');
}
