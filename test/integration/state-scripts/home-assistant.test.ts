// Home Assistant REST (GET /api/states/<entity_id>, Bearer token) against a local HTTP server that
// answers like Home Assistant does; the token comes from token_file and must be sent, never logged.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/clock.js';
import type { Readings } from '../../../core/schemas/readings.js';
import { nodeCommandRunner } from '../../../state-scripts/health.js';
import { lineLog } from '../../../state-scripts/log.js';
import { runSensord } from '../../../state-scripts/sensord.js';
import { HomeAssistant } from '../../../state-scripts/sense/home-assistant.js';
import { deviceSetup, tempDir, writeTree } from './helpers.js';
import { registerSecret } from '../../helpers/output-capture.js';

const TOKEN = registerSecret('Home Assistant token', 'llat-test-0123456789abcdef');
/** The van's motion sensor went "off" 20 minutes ago (Home Assistant's last_changed format). */
const STILL_SINCE = new Date(Date.now() - 20 * 60_000);
const states: Record<string, { state: string; attributes?: Record<string, unknown>; last_changed?: string }> = {
  'binary_sensor.van_moving': { state: 'off', last_changed: STILL_SINCE.toISOString().replace('Z', '456+00:00') },
  'sensor.victron_battery_soc': { state: '71.4', attributes: { unit_of_measurement: '%', device_class: 'battery' } },
  'binary_sensor.victron_shore_power': { state: 'on' },
  'sensor.broken': { state: 'unavailable' },
};
let server: Server;
let url: string;
const seen: IncomingMessage['headers'][] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('401: Unauthorized');
      return;
    }
    const id = decodeURIComponent(/^\/api\/states\/(.+)$/.exec(req.url ?? '')?.[1] ?? '');
    const s = states[id];
    if (!s) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Entity not found."}');
      return;
    }
    const now = new Date().toISOString();
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        entity_id: id,
        state: s.state,
        attributes: s.attributes ?? {},
        last_changed: s.last_changed ?? now,
        last_reported: now,
        last_updated: now,
        context: { id: '01JD0000000000000000000000', parent_id: null, user_id: null },
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('Home Assistant REST', () => {
  it('reads entity states with the token from token_file', async () => {
    const dir = await tempDir();
    await writeTree(dir, { token: `${TOKEN}\n` });
    const ha = new HomeAssistant({ url: `${url}/`, token_file: join(dir, 'token'), timeout_ms: 2000 });
    const r = await ha.state('sensor.victron_battery_soc');
    expect(r).toMatchObject({ ok: true, entity: { entity_id: 'sensor.victron_battery_soc', state: '71.4' } });
    expect(seen.at(-1)?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(await ha.state('sensor.nope')).toEqual({ ok: false, problem: 'Home Assistant sensor.nope: HTTP 404' });
  });

  it('a wrong or missing token, or no server, is a problem, never a throw', async () => {
    const dir = await tempDir();
    await writeTree(dir, { token: 'wrong\n' });
    expect(
      await new HomeAssistant({ url, token_file: join(dir, 'token'), timeout_ms: 2000 }).state('sensor.x'),
    ).toEqual({
      ok: false,
      problem: 'Home Assistant refused the token (401)',
    });
    expect(
      await new HomeAssistant({ url, token_file: join(dir, 'absent'), timeout_ms: 2000 }).state('sensor.x'),
    ).toEqual({
      ok: false,
      problem: `no token in ${join(dir, 'absent')}`,
    });
    const down = await new HomeAssistant({
      url: 'http://127.0.0.1:9',
      token_file: join(dir, 'token'),
      timeout_ms: 500,
    }).state('x');
    expect(down).toEqual({ ok: false, problem: 'Home Assistant: ECONNREFUSED' });
  });

  it('sensord takes motion and Victron power from Home Assistant, and never logs the token', async () => {
    const root = await tempDir();
    await writeTree(root, { 'etc/vancore/ha-token': TOKEN });
    const setup = await deviceSetup(
      root,
      [
        'sensors:',
        '  motion_sources: [home_assistant]',
        '  home_assistant:',
        `    url: ${url}`,
        `    token_file: ${join(root, 'etc/vancore/ha-token')}`,
        '    entities:',
        '      moving: binary_sensor.van_moving',
        '      battery_soc: sensor.victron_battery_soc',
        '      shore_power: binary_sensor.victron_shore_power',
        "mender: { check_update: 'off' }",
        '',
      ].join('\n'),
    );
    const lines: string[] = [];
    const written: Readings[] = [];
    await runSensord(
      {
        setup,
        clock: systemClock,
        log: lineLog('t', 'debug', (l) => lines.push(l)),
        runner: nodeCommandRunner,
        procDir: '/x',
      },
      { once: true, signal: new AbortController().signal, onWrite: (r) => written.push(r) },
    );
    expect(written[0]?.motion).toMatchObject({ source: 'home_assistant' });
    expect(written[0]?.motion?.stationary_since).toBe(STILL_SINCE.toISOString());
    expect(written[0]?.power).toMatchObject({ battery_soc_pct: 71.4, shore_power: true });
    expect(lines.join('')).not.toContain(TOKEN);
  });
});
