// Compose bundles for the module tests: one busybox httpd service on the host network, serving
// www/index.html from the bundle, with a docker healthcheck that passes (or, for a bad v2, fails).
import { createServer } from 'node:net';

export const IMAGE = 'vc-web:stable';

export interface WebBundleOptions {
  port: number;
  /** What index.html says (the version under test). */
  body: string;
  healthy?: boolean;
  /** Extra x-vancore settings (YAML lines, indented by two). */
  xVancore?: string;
  /** Extra services (YAML, indented by two). */
  services?: string;
}

export function composeYaml(o: WebBundleOptions): string {
  const test =
    o.healthy === false
      ? '["CMD", "false"]'
      : `["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${o.port}/index.html"]`;
  return `version: "2.4"
services:
  web:
    image: ${IMAGE}
    command: ["httpd", "-f", "-p", "${o.port}", "-h", "/www"]
    network_mode: host
    # tini as PID 1: httpd then stops on SIGTERM at once instead of after compose's 10 s grace.
    init: true
    volumes: ["./www:/www:ro"]
    healthcheck:
      test: ${test}
      interval: 1s
      timeout: 2s
      retries: 2
${o.services ?? ''}
x-vancore:
  health:
    timeout_seconds: 25
    interval_seconds: 0.5
    http:
      - url: http://127.0.0.1:${o.port}/index.html
${o.xVancore ?? ''}`;
}

export function webBundle(o: WebBundleOptions): Record<string, string> {
  return { 'docker-compose.yml': composeYaml(o), 'www/index.html': `${o.body}\n` };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** The body served on `port`, or null when nothing answers. */
export async function served(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? (await res.text()).trim() : null;
  } catch {
    return null;
  }
}
