#!/usr/bin/env node
// `npm run demo` preflight: the demo builds real artifacts, so it needs mender-artifact. As root on a
// fresh Debian machine it installs it (like the test preflight does for the suites); otherwise it stops
// with one line naming the package. The real mender-client van needs Debian's mender-client and root (its
// sandbox is `unshare --mount`): as root the preflight installs the package too; without root it says in
// one line what the van needs, and the demo runs with its virtual vans only.
import { spawnSync } from 'node:child_process';
import { ensureTools, has, run, sayer } from './apt-tools.mjs';

const say = sayer('demo');
ensureTools(say, [{ cmd: 'mender-artifact', pkg: 'mender-artifact', why: 'the demo builds and signs real artifacts' }]);

if (!has('mender') && process.env.VANCORE_DEMO_REAL_CLIENT !== '0') {
  if (process.getuid?.() === 0) {
    ensureTools(say, [
      { cmd: 'mender', pkg: 'mender-client', why: "the demo's real-client van runs Debian's mender-client 3.4" },
    ]);
    // Debian enables mender-client.service; the demo runs its own sandboxed daemon, and a host daemon would
    // poll a server nobody configured. Stop it where systemd runs (it is not running in a container).
    const systemd = spawnSync('systemctl', ['is-system-running'], { encoding: 'utf8' });
    if (!systemd.error && /^(running|degraded|starting)/.test(systemd.stdout.trim())) {
      say('disabling the host mender-client.service Debian enabled (the demo runs its own sandboxed daemon)');
      run(say, 'systemctl', ['disable', '--now', 'mender-client.service']);
    }
  } else {
    say(
      'the real mender-client van needs root and mender-client: apt-get install --no-install-recommends mender-client (as root); the demo runs without it',
    );
  }
}
