import { describe, expect, it } from 'vitest';
import { VanError } from '../../../core/errors.js';
import { type ArgValues, parseBuildOptions, parseFileSpec } from '../../../mender-artifacts/build-options.js';

/** Flag values of a valid compose build; override what a case is about (undefined removes a flag). */
function args(over: ArgValues = {}): ArgValues {
  const base: ArgValues = {
    type: 'compose',
    component: 'platform',
    version: '0.9.2',
    'device-type': ['vanpc'],
    bundle: 'release/platform',
  };
  return Object.fromEntries(Object.entries({ ...base, ...over }).filter(([, v]) => v !== undefined));
}

function failure(values: ArgValues): { code: string; message: string } {
  try {
    parseBuildOptions(values);
  } catch (e) {
    if (e instanceof VanError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected parseBuildOptions to fail');
}

describe('parseBuildOptions', () => {
  it('takes a compose build with every default', () => {
    expect(parseBuildOptions(args())).toEqual({
      payload: { type: 'compose', bundle: 'release/platform' },
      component: 'platform',
      version: '0.9.2',
      deviceTypes: ['vanpc'],
      constraintsFile: null,
      validation: { window_seconds: 300, require_cloud: true },
      requires: {},
      revertOf: null,
      base: null,
      compression: 'lzma',
      signKey: null,
      out: '.',
      scriptsDir: null,
      gateScripts: true,
    });
  });

  it('--compression: none, gzip or lzma (default lzma); anything else is one usage line', () => {
    expect(parseBuildOptions(args({ compression: 'gzip' })).compression).toBe('gzip');
    expect(parseBuildOptions(args({ compression: 'none' })).compression).toBe('none');
    expect(() => parseBuildOptions(args({ compression: 'zstd' }))).toThrow(
      /^--compression "zstd": must be one of none, gzip, lzma \(what mender-artifact 3\.9 writes\)$/,
    );
  });

  it('takes the optional flags', () => {
    const o = parseBuildOptions(
      args({
        'device-type': ['vanpc', 'vanpc-v2', 'vanpc'],
        'validation-window': '600',
        'no-require-cloud': true,
        requires: ['platform=>=0.9.0', 'app= ^1.4.0 '],
        'sign-key': 'k.pem',
        out: 'dist',
        'scripts-dir': 'scripts',
        'no-gate-scripts': true,
        constraints: 'c.yaml',
      }),
    );
    expect(o).toMatchObject({
      deviceTypes: ['vanpc', 'vanpc-v2'],
      validation: { window_seconds: 600, require_cloud: false },
      requires: { platform: '>=0.9.0', app: '^1.4.0' },
      signKey: 'k.pem',
      out: 'dist',
      scriptsDir: 'scripts',
      gateScripts: false,
      constraintsFile: 'c.yaml',
    });
  });

  it('takes --revert-of with a signing key', () => {
    expect(parseBuildOptions(args({ version: '0.9.1', 'revert-of': '0.9.2', 'sign-key': 'k.pem' }))).toMatchObject({
      version: '0.9.1',
      revertOf: '0.9.2',
      signKey: 'k.pem',
    });
  });

  it('takes config files and vpn steps', () => {
    expect(
      parseBuildOptions(
        args({
          type: 'config',
          component: 'config',
          bundle: undefined,
          file: ['a:b.yaml:/etc/vancore/ota.yaml', 'x:/etc/x'],
        }),
      ).payload,
    ).toEqual({
      type: 'config',
      files: [
        { src: 'a:b.yaml', dest: '/etc/vancore/ota.yaml' },
        { src: 'x', dest: '/etc/x' },
      ],
    });
    expect(
      parseBuildOptions(
        args({
          type: 'vpn',
          component: 'vpn',
          bundle: undefined,
          'vpn-step': 'add',
          'login-server': 'https://hs.example.com',
          'authkey-file': 'key',
        }),
      ).payload,
    ).toEqual({ type: 'vpn', step: 'add', loginServer: 'https://hs.example.com', authkeyFile: 'key' });
  });

  const vpn = (over: ArgValues) =>
    args({ type: 'vpn', component: 'vpn', bundle: undefined, 'login-server': 'https://hs.example.com', ...over });

  it.each<[string, ArgValues, string, string]>([
    [
      'unknown type',
      args({ type: 'rootfs' }),
      'USAGE',
      "--type must be one of compose, config, vpn, ha-addons, got 'rootfs'",
    ],
    ['no type', args({ type: undefined }), 'USAGE', 'missing --type (compose|config|vpn|ha-addons)'],
    [
      'bad semver',
      args({ version: '1.2' }),
      'INPUT_INVALID',
      '--version "1.2": must be a semantic version such as 1.4.0',
    ],
    [
      'v-prefixed semver',
      args({ version: 'v1.2.3' }),
      'INPUT_INVALID',
      '--version "v1.2.3": must be a semantic version such as 1.4.0',
    ],
    [
      'revert without a key',
      args({ version: '0.9.1', 'revert-of': '0.9.2' }),
      'USAGE',
      '--revert-of needs --sign-key FILE: a revert artifact must be signed',
    ],
    [
      'revert to a newer version',
      args({ version: '0.9.2', 'revert-of': '0.9.1', 'sign-key': 'k.pem' }),
      'INPUT_INVALID',
      '--revert-of 0.9.1 must be newer than --version 0.9.2: a revert goes back to an older version',
    ],
    [
      'revert of the same version',
      args({ version: '0.9.2', 'revert-of': '0.9.2', 'sign-key': 'k.pem' }),
      'INPUT_INVALID',
      '--revert-of 0.9.2 must be newer than --version 0.9.2: a revert goes back to an older version',
    ],
    [
      'revert of a non-version',
      args({ version: '0.9.1', 'revert-of': 'latest', 'sign-key': 'k.pem' }),
      'INPUT_INVALID',
      '--revert-of "latest": must be a semantic version such as 1.4.0',
    ],
    [
      'unknown component',
      args({ component: 'fridge' }),
      'INPUT_INVALID',
      '--component "fridge": must be one of: "platform", "app", "ha_addons", "config", "vpn"',
    ],
    [
      'component of another type',
      args({ component: 'config' }),
      'INPUT_INVALID',
      '--component config is packaged with --type config, not --type compose',
    ],
    ['no device type', args({ 'device-type': undefined }), 'USAGE', 'missing --device-type (at least one)'],
    [
      'device type with a space',
      args({ 'device-type': ['van pc'] }),
      'INPUT_INVALID',
      '--device-type "van pc": must be letters, digits, . _ + - (max 64, no spaces)',
    ],
    [
      'compose without bundle',
      args({ bundle: undefined }),
      'USAGE',
      'missing --bundle DIR (the compose bundle directory)',
    ],
    ['--file on compose', args({ file: ['a:/b'] }), 'USAGE', '--file is only for --type config, not --type compose'],
    [
      'config without files',
      args({ type: 'config', component: 'config', bundle: undefined }),
      'USAGE',
      'missing --file SRC:DEST (at least one)',
    ],
    [
      '.. in a destination',
      args({ type: 'config', component: 'config', bundle: undefined, file: ['a.conf:/etc/../root/.ssh/x'] }),
      'INPUT_INVALID',
      '--file "a.conf:/etc/../root/.ssh/x": destination must be an absolute path without "..", "." or empty segments, NUL or control characters',
    ],
    [
      'NUL in a destination',
      args({ type: 'config', component: 'config', bundle: undefined, file: ['a:/etc/x\u0000y'] }),
      'INPUT_INVALID',
      '--file "a:/etc/x\\u0000y": destination must be an absolute path without "..", "." or empty segments, NUL or control characters',
    ],
    [
      'relative destination',
      args({ type: 'config', component: 'config', bundle: undefined, file: ['a.conf:etc/x'] }),
      'USAGE',
      '--file "a.conf:etc/x": must be SRC:DEST with an absolute DEST',
    ],
    [
      'destination twice',
      args({ type: 'config', component: 'config', bundle: undefined, file: ['a:/etc/x', 'b:/etc/x'] }),
      'INPUT_INVALID',
      '--file: destination /etc/x is given twice',
    ],
    [
      'requires without =',
      args({ requires: ['platform'] }),
      'USAGE',
      '--requires "platform": must be COMPONENT=RANGE, e.g. platform=>=0.9.0',
    ],
    [
      'requires a bad range',
      args({ requires: ['platform=soon'] }),
      'INPUT_INVALID',
      '--requires "platform=soon": must be a version range such as >=0.9.0',
    ],
    [
      'requires twice',
      args({ requires: ['app=>=1.0.0', 'app=<2.0.0'] }),
      'INPUT_INVALID',
      '--requires: app is given twice',
    ],
    [
      'window out of range',
      args({ 'validation-window': '90000' }),
      'USAGE',
      "--validation-window must be a whole number of seconds from 0 to 86400, got '90000'",
    ],
    ['vpn without step', vpn({}), 'USAGE', 'missing --vpn-step (add|verify|cutover|retire)'],
    [
      'vpn unknown step',
      vpn({ 'vpn-step': 'jump' }),
      'INPUT_INVALID',
      '--vpn-step "jump": must be one of: "add", "verify", "cutover", "retire"',
    ],
    [
      'vpn add without key',
      vpn({ 'vpn-step': 'add' }),
      'USAGE',
      'missing --authkey-file FILE (the add step joins Headscale)',
    ],
    [
      'vpn key on another step',
      vpn({ 'vpn-step': 'cutover', 'authkey-file': 'k' }),
      'USAGE',
      '--authkey-file is only for --vpn-step add, not cutover',
    ],
    [
      'vpn plain http server',
      vpn({ 'vpn-step': 'verify', 'login-server': 'http://hs.example.com' }),
      'INPUT_INVALID',
      '--login-server "http://hs.example.com": must use https (plain http only for localhost)',
    ],
  ])('%s → %s: %s', (_name, values, code, message) => {
    expect(failure(values)).toEqual({ code, message });
  });
});

describe('parseFileSpec', () => {
  it.each([
    ['app.yaml:/etc/vancore/app.yaml', { src: 'app.yaml', dest: '/etc/vancore/app.yaml' }],
    ['C:odd/name:/etc/a', { src: 'C:odd/name', dest: '/etc/a' }],
  ])('%s', (spec, want) => {
    expect(parseFileSpec(spec)).toEqual(want);
  });

  it.each(['/etc/a', ':/etc/a', 'a:/', 'a:/etc//b', 'a:/etc/./b', 'a:/etc/b/', 'a:/etc/b/..'])('rejects %s', (spec) => {
    expect(() => parseFileSpec(spec)).toThrow(VanError);
  });
});
