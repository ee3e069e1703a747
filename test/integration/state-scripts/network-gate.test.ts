// The download gate's network policy (issue #17 item 4) as Mender runs it: the bundled
// Download_Enter_50_vancore-gate as a real process on a temp tree, with fake `mmcli` and `nmcli` first on
// PATH printing recorded output (fixtures/mmcli, fixtures/nmcli: shaped like ModemManager 1.20 and
// NetworkManager's nmcli, see their READMEs), /proc/net/route and /sys/class/net in the tree. Exit
// codes, reason codes in the journal and in the inventory (`vancore.gate.codes`), and `gate check`.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readGateJournal } from '../../../core/gate-journal.js';
import { runCli } from '../../helpers/cli.js';
import { deviceDist, fixtures, runProcess, runScript, tempDir, writeTree } from './helpers.js';

const DL = 'Download_Enter_50_vancore-gate';
let bin: string;

beforeAll(async () => {
  bin = await tempDir('vc-netbin-');
  // mmcli: $MMCLI_MODEM picks the fixture, $MMCLI_DOWN fails as mmcli does without ModemManager.
  // nmcli: $NMCLI_DEVS picks the fixture; it refuses to answer unless LC_ALL=C (the words are translated)
  // and unless asked exactly for the fields the gate reads.
  await writeTree(bin, {
    mmcli: `#!/bin/sh
echo "mmcli $*" >> "$CALLS_LOG"
if [ -n "$MMCLI_DOWN" ]; then echo "error: couldn't find the ModemManager process in the bus" >&2; exit 1; fi
case "$*" in
  "-J -m 0") cat "${fixtures}/mmcli/\${MMCLI_MODEM:-modem-connected.out}" ;;
  *) echo "error: invalid modem string" >&2; exit 1 ;;
esac
`,
    nmcli: `#!/bin/sh
echo "nmcli LC_ALL=$LC_ALL $*" >> "$CALLS_LOG"
[ "$LC_ALL" = C ] || { echo "Fehler: nicht in C" >&2; exit 2; }
[ "$*" = "-t -f GENERAL.DEVICE,GENERAL.TYPE,GENERAL.IP-IFACE,GENERAL.METERED dev show" ] || { echo "Error: unexpected '$*'" >&2; exit 2; }
cat "${fixtures}/nmcli/\${NMCLI_DEVS:-dev-show-lte.out}"
`,
  });
  await chmod(join(bin, 'mmcli'), 0o755);
  await chmod(join(bin, 'nmcli'), 0o755);
  // dbus-send as it answers on a van whose Mender client is not on the bus (the size probe's first step).
  await writeTree(bin, {
    'dbus-send': `#!/bin/sh
echo "dbus-send $*" >> "$CALLS_LOG"
echo "Error org.freedesktop.DBus.Error.ServiceUnknown: The name io.mender.AuthenticationManager was not provided by any .service files" >&2
exit 1
`,
  });
  await chmod(join(bin, 'dbus-send'), 0o755);
});

function readingsNow(): string {
  const at = new Date().toISOString();
  return JSON.stringify({
    motion: { stationary_since: new Date(Date.now() - 600_000).toISOString(), source: 'imu', at },
    signal: { quality: 0.8, at },
    power: { battery_soc_pct: 80, shore_power: false, at },
  });
}

interface Link {
  route: 'route-wwan0' | 'route-wlan0' | 'route-none';
  modem?: string;
  nm?: string;
  mmDown?: boolean;
  /** The size hint: MB and age in seconds. */
  hint?: { mb: number; ageS?: number };
}

async function van(ota: string, link: Link) {
  const root = await tempDir('vc-netgate-');
  const state = join(root, 'state');
  await writeTree(root, {
    'ota.yaml': ota,
    'etc/mender/mender.conf': '{}',
    'state/readings.json': readingsNow(),
    'proc/net/route': await readFile(join(fixtures, 'proc', link.route), 'utf8'),
    'sys/class/net/wwan0/uevent': 'DEVTYPE=wwan\nINTERFACE=wwan0\nIFINDEX=5\n',
    'sys/class/net/wlan0/uevent': 'DEVTYPE=wlan\nINTERFACE=wlan0\nIFINDEX=3\n',
    ...(link.hint
      ? {
          'state/download-size.json': JSON.stringify({
            bytes: link.hint.mb * 1_000_000,
            artifact_name: 'vancore-platform-1.0.0',
            at: new Date(Date.now() - (link.hint.ageS ?? 30) * 1000).toISOString(),
            source: 'test',
          }),
        }
      : {}),
  });
  const env: Record<string, string> = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    CALLS_LOG: join(root, 'calls.log'),
    VANCORE_OTA_ROOT: root,
    VANCORE_OTA_CONFIG: join(root, 'ota.yaml'),
    VANCORE_OTA_STATE_DIR: state,
    VANCORE_MENDER_DATA_DIR: join(root, 'data'),
    ...(link.modem ? { MMCLI_MODEM: link.modem } : {}),
    ...(link.nm ? { NMCLI_DEVS: link.nm } : {}),
    ...(link.mmDown ? { MMCLI_DOWN: '1' } : {}),
  };
  const run = async () => {
    const r = await runScript(DL, env);
    const d = readGateJournal(state).journal?.phases.Download_Enter;
    return { code: r.code, stderr: r.stderr, codes: d?.reasons.map((x) => x.code), decision: d };
  };
  const inventory = async () => {
    const r = await runProcess(join(deviceDist, 'inventory/mender-inventory-vancore'), [], env);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.split('\n').filter((l) => l.startsWith('vancore.gate.'));
  };
  const calls = async () => (await readFile(join(root, 'calls.log'), 'utf8').catch(() => '')).trim().split('\n');
  return {
    root,
    env,
    state,
    run,
    inventory,
    calls,
    setHint: (text: string) => writeFile(join(state, 'download-size.json'), text),
  };
}

describe('Download_Enter network policy with mmcli / nmcli on PATH', () => {
  it.each([
    // name, ota.yaml, link, exit code, reason codes
    ['LTE at home, defaults', '', { route: 'route-wwan0' }, 0, ['conditions_met']],
    [
      'roaming in Switzerland, roaming: never',
      'download: { roaming: never }',
      { route: 'route-wwan0', modem: 'modem-roaming-ch.out' },
      1,
      ['roaming'],
    ],
    [
      'roaming, defaults (small_only), no size hint',
      '',
      { route: 'route-wwan0', modem: 'modem-roaming-ch.out' },
      1,
      ['roaming_size_unknown'],
    ],
    [
      'roaming, small_only, hint 10 MB',
      '',
      { route: 'route-wwan0', modem: 'modem-roaming-ch.out', hint: { mb: 10 } },
      0,
      ['conditions_met'],
    ],
    [
      'roaming, small_only, hint 40 MB',
      '',
      { route: 'route-wwan0', modem: 'modem-roaming-ch.out', hint: { mb: 40 } },
      1,
      ['roaming_over_small'],
    ],
    [
      'roaming, small_only, hint 10 MB but 2 h old',
      '',
      { route: 'route-wwan0', modem: 'modem-roaming-ch.out', hint: { mb: 10, ageS: 7200 } },
      1,
      ['roaming_size_unknown'],
    ],
    [
      'roaming in France, EU MCCs like home',
      "download: { roaming: never, roam_like_home_mcc: ['208', '262'] }",
      { route: 'route-wwan0', modem: 'modem-roaming-fr.out' },
      0,
      ['conditions_met'],
    ],
    [
      'LTE, metered max 50 MB, hint 120 MB',
      'download: { metered: { max_mb: 50 } }',
      { route: 'route-wwan0', hint: { mb: 120 } },
      1,
      ['metered_over_max'],
    ],
    [
      'LTE, metered max 50 MB, hint 30 MB',
      'download: { metered: { max_mb: 50 } }',
      { route: 'route-wwan0', hint: { mb: 30 } },
      0,
      ['conditions_met'],
    ],
    [
      'LTE, metered max 50 MB, no hint',
      'download: { metered: { max_mb: 50 } }',
      { route: 'route-wwan0' },
      1,
      ['metered_size_unknown'],
    ],
    [
      'Wi-Fi through a phone hotspot, defaults',
      '',
      { route: 'route-wlan0', nm: 'dev-show-hotspot.out' },
      1,
      ['hotspot_metered'],
    ],
    [
      'campsite Wi-Fi while the modem roams: roaming does not matter',
      'download: { roaming: never }',
      { route: 'route-wlan0', nm: 'dev-show-campsite-wifi.out', modem: 'modem-roaming-ch.out' },
      0,
      ['conditions_met'],
    ],
    [
      'Wi-Fi the owner marked metered, metered: defer',
      'download: { metered: defer }',
      { route: 'route-wlan0', nm: 'dev-show-wifi-metered.out' },
      1,
      ['metered_deferred'],
    ],
    ['LTE with ModemManager down: roaming unknown', '', { route: 'route-wwan0', mmDown: true }, 1, ['link_unknown']],
    ['no default route', '', { route: 'route-none' }, 1, ['link_unknown']],
  ] satisfies [string, string, Link, number, string[]][])('%s', async (_name, ota, link, code, codes) => {
    const v = await van(ota, link);
    const r = await v.run();
    expect(r.code, r.stderr).toBe(code);
    expect(r.codes).toEqual(codes);
  });

  it('journals the link facts, publishes the codes to inventory, asks nmcli in the C locale', async () => {
    const v = await van('download: { roaming: never }', { route: 'route-wwan0', modem: 'modem-roaming-ch.out' });
    const r = await v.run();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /Download_Enter: deferred \(defer, exit 1\): roaming: roaming on Swisscom \(22801\), lte, roaming/,
    );
    expect(r.decision?.facts).toMatchObject({
      network: {
        link: {
          iface: 'wwan0',
          kind: 'cellular',
          nm_metered: 'yes (guessed)',
          modem: { registration: 'roaming', operator_code: '22801', operator_name: 'Swisscom', net_ports: ['wwan0'] },
        },
        download_bytes: null,
      },
    });
    expect(await v.calls()).toEqual(
      expect.arrayContaining([
        'mmcli -J -m 0',
        'nmcli LC_ALL=C -t -f GENERAL.DEVICE,GENERAL.TYPE,GENERAL.IP-IFACE,GENERAL.METERED dev show',
      ]),
    );
    const inv = await v.inventory();
    expect(inv).toContain('vancore.gate.codes=roaming');
    expect(inv).toContain('vancore.gate.state=deferred');
    expect(inv.find((l) => l.startsWith('vancore.gate.reason='))).toBe(
      'vancore.gate.reason=roaming: roaming on Swisscom (22801), lte, roaming',
    );

    // `gate check` decides the same from the same tree and says why.
    const check = runCli(['gate', 'check', 'Download_Enter'], { env: v.env });
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('✗ roaming: roaming on Swisscom (22801), lte, roaming');
    expect(check.stdout).toContain('✓ wwan0: metered (cellular): downloads allowed');
  });

  it('a metered van over its max_mb publishes its own code; a broken size hint is no hint', async () => {
    const v = await van('download: { metered: { max_mb: 50 } }', { route: 'route-wwan0', hint: { mb: 120 } });
    expect((await v.run()).code).toBe(1);
    expect(await v.inventory()).toContain('vancore.gate.codes=metered_over_max');
    await v.setHint('{"bytes": "lots"}');
    expect((await v.run()).codes).toEqual(['metered_size_unknown']);
  });

  it('the size probe: asked only when a size rule needs it, its failure said in the refusal, never in gate check', async () => {
    // A van with its client recorded but no Mender client on the bus: dbus-send answers as it does then.
    const v = await van('download: { metered: { max_mb: 50 } }', { route: 'route-wwan0' });
    await writeTree(v.root, {
      'etc/vancore/mender-client.json': JSON.stringify({ flavour: 'mender-3', version: '3.4.0+ds1-5+b1' }),
    });
    const r = await v.run();
    expect(r.codes).toEqual(['metered_size_unknown']);
    // The reason (at most 200 characters) leads with the rule; the journal keeps the probe's whole answer.
    expect(r.decision?.reasons[0]?.message).toMatch(
      /^wwan0: metered \(cellular\): update size unknown, at most 50 MB allowed \(size probe: D-Bus GetJwtToken: Error org\.freedesktop\.DBus\.Error\.ServiceUnknown: /,
    );
    expect(r.decision?.facts).toMatchObject({
      network: {
        size_probe: {
          outcome: 'failed',
          steps: [],
          problem:
            'D-Bus GetJwtToken: Error org.freedesktop.DBus.Error.ServiceUnknown: The name io.mender.AuthenticationManager was not provided by any .service files',
        },
      },
    });
    const asked = async () => (await v.calls()).filter((c) => c.startsWith('dbus-send')).length;
    expect(await asked()).toBe(1);
    expect(
      (await v.calls()).find((c) => c.startsWith('dbus-send')),
      'the documented call: io.mender.Authentication1.GetJwtToken on the system bus',
    ).toBe(
      'dbus-send --system --print-reply --reply-timeout=10000 --dest=io.mender.AuthenticationManager /io/mender/AuthenticationManager io.mender.Authentication1.GetJwtToken',
    );
    // `gate check` explains without sending anything, and says so.
    const check = runCli(['gate', 'check', 'Download_Enter'], { env: v.env });
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(
      '✗ metered_size_unknown: wwan0: metered (cellular): update size unknown, at most 50 MB allowed (size probe: gate check does not ask the server)',
    );
    expect(await asked()).toBe(1);
    // A van that is driving waits for that first: no data spent on a size it could not use yet.
    const at = new Date().toISOString();
    await writeFile(
      join(v.state, 'readings.json'),
      JSON.stringify({
        motion: { stationary_since: null, source: 'imu', at },
        signal: { quality: 0.8, at },
        power: { battery_soc_pct: 80, shore_power: false, at },
      }),
    );
    const driving = await v.run();
    expect(driving.codes).toEqual(['moving', 'metered_size_unknown']);
    expect(driving.decision?.reasons[1]?.message).toBe(
      'wwan0: metered (cellular): update size unknown, at most 50 MB allowed (size probe: not asked while other checks hold the download)',
    );
    expect(await asked()).toBe(1);
    await writeFile(join(v.state, 'readings.json'), readingsNow());
    // A size the rule can decide without the probe (metered: defer) does not ask.
    await writeFile(join(v.root, 'ota.yaml'), 'download: { metered: defer }\n');
    expect((await v.run()).codes).toEqual(['metered_deferred']);
    expect(await asked()).toBe(1);
    // size_probe: false keeps the gate to the hint file.
    await writeFile(join(v.root, 'ota.yaml'), 'download: { metered: { max_mb: 50 }, size_probe: false }\n');
    expect((await v.run()).codes).toEqual(['metered_size_unknown']);
    expect(await asked()).toBe(1);
  });

  it('an all-allow policy starts no process', async () => {
    const v = await van('download: { roaming: allow, metered: allow, hotspot: allow }', {
      route: 'route-wwan0',
      modem: 'modem-roaming-ch.out',
    });
    expect((await v.run()).code).toBe(0);
    expect(await v.calls()).toEqual(['']);
  });
});
