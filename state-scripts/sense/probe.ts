// Link stability without raw ICMP: a few TCP connects to the Mender server, timing the handshake
// (one round trip). Loss is the share of connects that fail or time out.

export interface ProbeResult {
  rtt_ms_p50: number | null;
  loss_pct: number;
}

export async function tcpConnectTime(host: string, port: number, timeoutMs: number): Promise<number | null> {
  const { connect } = await import('node:net'); // on first use, as in gpsd.ts
  return new Promise((resolve) => {
    const started = performance.now();
    const s = connect({ host, port });
    const done = (v: number | null) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    s.once('connect', () => done(Math.round((performance.now() - started) * 10) / 10));
    s.once('error', () => done(null));
  });
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? (v[mid] ?? null) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

/** `count` sequential connects to the URL's host and port (default 443 / 80). */
export async function probeLink(url: string, o: { count: number; timeoutMs: number }): Promise<ProbeResult> {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const rtts: number[] = [];
  for (let i = 0; i < o.count; i++) {
    const t = await tcpConnectTime(host, port, o.timeoutMs);
    if (t !== null) rtts.push(t);
  }
  return { rtt_ms_p50: median(rtts), loss_pct: Math.round(((o.count - rtts.length) / o.count) * 1000) / 10 };
}
