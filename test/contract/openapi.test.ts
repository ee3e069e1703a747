// The OpenAPI 3 validator itself, on the real Mender 4.1 files: it must reject what the spec rejects
// (a validator that passes everything would make the 4.1 contract suite unable to fail).
import { describe, expect, it } from 'vitest';
import { OpenApiRouter, OpenApiValidator, assertMatchesOpenApi, openApiDir } from './openapi.js';

describe('OpenApiValidator on the Mender 4.1 files', () => {
  const v = new OpenApiValidator();
  const LIST = '/api/management/v2/deployments/deployments';
  const deployment = {
    id: 'd',
    name: 'n',
    artifact_name: 'a',
    created: '2026-11-22T10:00:00Z',
    status: 'pending',
    device_count: 0,
  };

  it('finds the files beside the repository', () => {
    expect(openApiDir()).toMatch(/shared\/mender-api-4\.1$/);
  });

  it('accepts a matching body and rejects a missing field, a bad enum or a bad date', () => {
    const file = 'deployments/management_v2.yaml';
    expect(() => assertMatchesOpenApi(v, file, 'get', LIST, 200, [deployment])).not.toThrow();
    expect(() => assertMatchesOpenApi(v, file, 'get', LIST, 200, [{ ...deployment, status: 'paused' }])).toThrow(
      /allowed values/,
    );
    expect(() => assertMatchesOpenApi(v, file, 'get', LIST, 200, [{ ...deployment, created: 'yesterday' }])).toThrow(
      /date-time/,
    );
    expect(() => assertMatchesOpenApi(v, file, 'get', LIST, 200, {})).toThrow(/must be array/);
    expect(() => assertMatchesOpenApi(v, file, 'get', LIST, 418, {})).toThrow(/not documented/);
  });

  it('follows $refs into sibling files (../common/responses.yaml → ./schemas.yaml Error)', () => {
    const file = 'deployments/management_v2.yaml';
    expect(() => assertMatchesOpenApi(v, file, 'get', LIST, 400, { error: 'x', request_id: 'r' })).not.toThrow();
    expect(() => assertMatchesOpenApi(v, file, 'get', LIST, 400, { error: 5 })).toThrow(/must be string/);
  });

  it('honours nullable (deployments/next answers null-able instructions)', () => {
    const file = 'deployments/devices_v1.yaml';
    const path = '/api/devices/v1/deployments/device/deployments/next';
    expect(() => assertMatchesOpenApi(v, file, 'get', path, 200, null)).not.toThrow();
    expect(() => assertMatchesOpenApi(v, file, 'get', path, 200, { id: 'x' })).toThrow(/required property 'artifact'/);
  });

  it('maps concrete paths to operations, preferring static segments', () => {
    const r = new OpenApiRouter(v, ['deployments/management_v1.yaml']);
    expect(r.match('GET', '/api/management/v1/deployments/deployments/devices/abc')?.path).toBe(
      '/api/management/v1/deployments/deployments/devices/{id}',
    );
    expect(r.match('GET', '/api/management/v1/deployments/deployments/abc')?.path).toBe(
      '/api/management/v1/deployments/deployments/{id}',
    );
    expect(r.match('POST', '/api/management/v1/nowhere')).toBeUndefined();
  });
});
