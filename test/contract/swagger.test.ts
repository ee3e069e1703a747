// The contract validator itself: it must reject what the specs reject (a validator that passes
// everything would make the contract suite unable to fail).
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpecRouter, SwaggerValidator, assertMatchesSpec, specDir } from './swagger.js';

describe('SwaggerValidator on the real Mender specs', () => {
  const v = new SwaggerValidator();
  const deployment = {
    id: 'd',
    name: 'n',
    artifact_name: 'a',
    created: '2026-11-22T10:00:00Z',
    status: 'pending',
    device_count: 0,
  };

  it('finds the specs beside the repository', () => {
    expect(specDir()).toMatch(/shared\/mender-api$/);
  });

  it('accepts a body that matches, with $refs resolved', () => {
    expect(() =>
      assertMatchesSpec(v, 'deployments/management_api.yml', 'get', '/deployments/{id}', 200, deployment),
    ).not.toThrow();
  });

  it.each([
    ['a missing required field', { ...deployment, device_count: undefined }, /required property 'device_count'/],
    ['a value outside an enum', { ...deployment, status: 'paused' }, /must be equal to one of the allowed values/],
    ['a bad date-time', { ...deployment, created: 'yesterday' }, /must match format "date-time"/],
    ['a fraction where Swagger says format: integer', { ...deployment, device_count: 1.5 }, /must be integer/],
  ])('rejects %s', (_n, body, message) => {
    expect(() => assertMatchesSpec(v, 'deployments/management_api.yml', 'get', '/deployments/{id}', 200, body)).toThrow(
      message,
    );
  });

  it('rejects a status the operation does not document, and unknown operations', () => {
    expect(() => assertMatchesSpec(v, 'deployments/management_api.yml', 'get', '/deployments/{id}', 418, {})).toThrow(
      /status 418 is not documented/,
    );
    expect(() => assertMatchesSpec(v, 'deployments/management_api.yml', 'get', '/nowhere', 200, {})).toThrow(/not in/);
  });

  it('resolves #/responses references (devices_api 404 → Error)', () => {
    expect(v.response('deployments/devices_api.yml', 'get', '/device/deployments/next', 404)?.schema).toEqual({
      $ref: '#/definitions/Error',
    });
  });

  it('maps concrete paths to spec templates, preferring static segments', () => {
    const r = new SpecRouter(v, ['deployments/management_api.yml', 'inventory/management_api.yml']);
    expect(r.match('GET', '/api/management/v1/deployments/deployments/devices/abc')).toEqual({
      specFile: 'deployments/management_api.yml',
      specPath: '/deployments/devices/{id}',
    });
    expect(r.match('GET', '/api/management/v1/deployments/deployments/abc')).toEqual({
      specFile: 'deployments/management_api.yml',
      specPath: '/deployments/{id}',
    });
    expect(r.match('GET', '/api/management/v1/inventory/devices/x/group')?.specPath).toBe('/devices/{id}/group');
    expect(r.match('POST', '/api/management/v1/inventory/devices')).toBeUndefined();
  });
});

describe('SwaggerValidator on Swagger 2.0 extras', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vc-swagger-'));
    await mkdir(join(dir, 'x'));
    await writeFile(
      join(dir, 'x', 'api.yml'),
      [
        "swagger: '2.0'",
        'basePath: /api/x',
        'paths:',
        '  /thing:',
        '    get:',
        '      responses:',
        '        200:',
        '          schema:',
        "            $ref: '#/definitions/Thing'",
        '          examples:',
        '            application/json: {name: 5}',
        'definitions:',
        '  Thing:',
        '    type: object',
        '    required: [name]',
        '    example: {name: 1}',
        '    properties:',
        '      name: {type: string}',
        '      note: {type: string, x-nullable: true}',
        '      link: {type: string, format: url}',
        '      blob: {type: string, format: binary}',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('maps x-nullable, url, binary, and ignores examples', () => {
    const v = new SwaggerValidator({ dir });
    const ok = { name: 'n', note: null, link: 'http://h/p', blob: '\u0000' };
    expect(() => assertMatchesSpec(v, 'x/api.yml', 'get', '/thing', 200, ok)).not.toThrow();
    expect(() => assertMatchesSpec(v, 'x/api.yml', 'get', '/thing', 200, { ...ok, link: 'not a url' })).toThrow(
      /format "uri"/,
    );
    expect(() => assertMatchesSpec(v, 'x/api.yml', 'get', '/thing', 200, { ...ok, name: null })).toThrow(
      /must be string/,
    );
  });

  it('applies schema patches only to the named definition', () => {
    const v = new SwaggerValidator({
      dir,
      patches: [
        {
          specFile: 'x/api.yml',
          definition: 'Thing',
          reason: 'test',
          apply: (s) => ({ ...(s as object), required: [] }),
        },
      ],
    });
    expect(() => assertMatchesSpec(v, 'x/api.yml', 'get', '/thing', 200, {})).not.toThrow();
  });
});
