#!/usr/bin/env node
// `npm run demo` preflight: the demo builds real artifacts, so it needs mender-artifact. As root on a
// fresh Debian machine it installs it (like the test preflight does for the suites); otherwise it stops
// with one line naming the package. The real mender-client van is optional: the demo uses `mender` when
// it is installed and says so when it is not.
import { ensureTools, sayer } from './apt-tools.mjs';

ensureTools(sayer('demo'), [
  { cmd: 'mender-artifact', pkg: 'mender-artifact', why: 'the demo builds and signs real artifacts' },
]);
