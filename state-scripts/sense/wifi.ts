// Wi-Fi link level from /proc/net/wireless (wireless extensions, still provided by cfg80211):
//   Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
//    face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
//   wlan0: 0000   54.  -56.  -256        0      0      0      0      0        0
// `level` is the signal in dBm (a trailing "." marks an updated value). Old drivers report an
// unsigned 8-bit value; above 63 it is dBm + 256.
import { readFileSync } from 'node:fs';

export interface WifiReading {
  link: number;
  rssi_dbm: number;
}

/** Pure: the interface's line → link quality and RSSI; null when absent or unparsable. */
export function parseWireless(text: string, iface: string): WifiReading | null {
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s+(\S+)\s+(-?\d+(?:\.\d*)?)\s+(-?\d+(?:\.\d*)?)/.exec(line);
    if (!m || m[1] !== iface) continue;
    const link = Number.parseFloat(m[3] ?? '');
    let level = Number.parseFloat(m[4] ?? '');
    if (!Number.isFinite(link) || !Number.isFinite(level)) return null;
    if (level > 63) level -= 256;
    if (level > 0 || level < -120) return null;
    return { link, rssi_dbm: level };
  }
  return null;
}

export function readWifi(procNetWireless: string, iface: string): WifiReading | { problem: string } {
  let text: string;
  try {
    text = readFileSync(procNetWireless, 'utf8');
  } catch (e) {
    return { problem: `${procNetWireless}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
  return parseWireless(text, iface) ?? { problem: `${iface} not in ${procNetWireless} (not associated?)` };
}
