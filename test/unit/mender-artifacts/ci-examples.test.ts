// The CI examples in deploy/ci cannot rot: every `vancore-ota artifact …` command line in them goes
// through the CLI's own argument parser (the same CommandSpec) and the same option validation the
// commands run, with the pipeline's variables set to plausible values.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../../cli/command.js';
import { parseBuildOptions } from '../../../mender-artifacts/build-options.js';
import { artifactCommand, serverUrl, uploadAuth } from '../../../mender-artifacts/cli.js';
import { repoRoot } from '../../helpers/cli.js';

/** What the pipelines' variables hold at run time; an unknown variable fails the test. */
const VARS: Record<string, string> = {
  PLATFORM_VERSION: '0.9.2',
  APP_VERSION: '1.4.0',
  CONFIG_VERSION: '1.4.0',
  DEVICE_TYPE: 'vanpc',
  OUT: 'dist/artifacts',
  VERIFY_KEY: 'release/keys/artifact-verify.pub',
  SIGN_KEY: '/runner/_temp/signing-key.pem',
  MENDER_ARTIFACT_SIGNING_KEY: '/builds/tmp/MENDER_ARTIFACT_SIGNING_KEY',
  TOKEN_FILE: '/runner/_temp/mender-token',
  MENDER_TOKEN_FILE: '/builds/tmp/MENDER_TOKEN_FILE',
  MENDER_SERVER: 'https://mender.example.com',
};

/** Shell words of one simple command (quotes, `$VAR`/`${VAR}`, backslashes); stops at ; && || | #. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  const add = (s: string) => (word = (word ?? '') + s);
  const variable = (at: number): [string, number] => {
    const m = /^\$(?:\{(\w+)\}|(\w+))/.exec(line.slice(at));
    if (!m) return ['$', at + 1];
    const name = (m[1] ?? m[2]) as string;
    const value = VARS[name];
    if (value === undefined) throw new Error(`unknown variable $${name} in: ${line}`);
    return [value, at + m[0].length];
  };
  for (let i = 0; i < line.length;) {
    const c = line[i] as string;
    if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
      i++;
    } else if (c === ';' || c === '|' || c === '#' || line.startsWith('&&', i)) {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      add(line.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      i++;
      add('');
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '$') {
          const [v, next] = variable(i);
          add(v);
          i = next;
        } else if (line[i] === '\\') {
          add(line[i + 1] as string);
          i += 2;
        } else add(line[i++] as string);
      }
      i++;
    } else if (c === '$') {
      const [v, next] = variable(i);
      add(v);
      i = next;
    } else if (c === '\\') {
      add(line[i + 1] as string);
      i += 2;
    } else add(line[i++] as string);
  }
  if (word !== null) words.push(word);
  return words;
}

/** Every shell script text in a GitHub Actions workflow or a GitLab CI file. */
function scripts(doc: unknown): string[] {
  const out: string[] = [];
  const visit = (v: unknown, key: string) => {
    if (typeof v === 'string' && ['run', 'script', 'before_script', 'after_script'].includes(key)) out.push(v);
    else if (Array.isArray(v)) for (const x of v) visit(x, key);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) visit(x, k);
  };
  visit(doc, '');
  return out;
}

function artifactCommands(doc: unknown): string[][] {
  return scripts(doc)
    .map((s) => s.replace(/\\\n/g, ' '))
    .flatMap((s) => s.split('\n'))
    .filter((l) => /\bvancore-ota artifact\b/.test(l))
    .map((l) => shellWords(l.slice(l.indexOf('vancore-ota'))));
}

/** Parse and validate one command line exactly as the CLI would, without running it. */
function accept(words: string[]): { sub: string; values: Record<string, unknown> } {
  expect(words.slice(0, 2)).toEqual(['vancore-ota', 'artifact']);
  const sub = artifactCommand.subcommands?.find((c) => c.name === words[2]);
  if (!sub) throw new Error(`unknown subcommand in: ${words.join(' ')}`);
  const { values, positionals } = parseCommandArgs(sub, words.slice(3), `vancore-ota artifact ${sub.name}`);
  switch (sub.name) {
    case 'build':
      parseBuildOptions(values);
      break;
    case 'verify':
      expect(positionals[0]).toMatch(/\.mender$/);
      expect(values.key).toEqual(expect.any(String));
      break;
    case 'upload':
      expect(positionals[0]).toMatch(/\.mender$/);
      serverUrl(values);
      expect(uploadAuth(values)).not.toHaveProperty('token');
      break;
  }
  return { sub: sub.name, values };
}

describe.each(['github-actions.yml', 'gitlab-ci.yml'])('deploy/ci/%s', (file) => {
  it('builds, verifies and uploads platform + app + config with command lines the CLI accepts', async () => {
    const doc: unknown = parse(await readFile(join(repoRoot, 'deploy/ci', file), 'utf8'));
    const commands = artifactCommands(doc).map(accept);
    const of = (sub: string) => commands.filter((c) => c.sub === sub);
    expect(of('build').map((c) => c.values.component)).toEqual(['platform', 'app', 'config']);
    expect(of('build').every((c) => typeof c.values['sign-key'] === 'string')).toBe(true);
    expect(of('verify')).toHaveLength(3);
    expect(of('upload')).toHaveLength(3);
  });
});

describe('the check itself', () => {
  it.each([
    ['vancore-ota artifact build --tpye compose', /unknown option '--tpye'/],
    [
      'vancore-ota artifact build --type compose --component platform --version 1.0 --device-type vanpc --bundle b',
      /--version "1\.0"/,
    ],
    ['vancore-ota artifact upload "$OUT/a.mender" --server "$MENDER_SERVER" --token x', /to not have property/],
  ])('rejects %s', (line, error) => {
    expect(() => accept(shellWords(line))).toThrow(error);
  });
});

describe('shellWords', () => {
  it.each<[string, string[]]>([
    [
      `vancore-ota a --requires platform=">=$PLATFORM_VERSION" --x 'a b'`,
      ['vancore-ota', 'a', '--requires', 'platform=>=0.9.2', '--x', 'a b'],
    ],
    ['a "${OUT}/x-$APP_VERSION.mender"; echo done', ['a', 'dist/artifacts/x-1.4.0.mender']],
    ['a b\\ c # comment', ['a', 'b c']],
  ])('%s', (line, words) => {
    expect(shellWords(line)).toEqual(words);
  });

  it('refuses a variable the examples do not define', () => {
    expect(() => shellWords('a "$NOPE"')).toThrow('unknown variable $NOPE');
  });
});
