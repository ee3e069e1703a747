#!/usr/bin/env node
// Test preflight: makes sure the system tools the suites drive are present. As root it installs the
// missing ones from Debian; otherwise it fails naming them. Suites never skip because a tool is missing.
import { spawnSync } from 'node:child_process';
import { ensureTools, has, run as runWith, sayer } from './apt-tools.mjs';

/** Tools the suites need: the command to look for and the Debian package that provides it. */
const TOOLS = [
  { cmd: 'mender', pkg: 'mender-client', why: 'system tests run the real mender-client 3.4' },
  {
    cmd: 'mender-artifact',
    pkg: 'mender-artifact',
    why: 'packaging and system tests use the real mender-artifact 3.9',
  },
  { cmd: 'mender-cli', pkg: 'mender-cli', why: "Mender's own management CLI drives the simulator (test/system)" },
  { cmd: 'openssl', pkg: 'openssl', why: 'signing keys for artifacts and device keys' },
  { cmd: 'unshare', pkg: 'util-linux', why: 'sandboxing the client (RECIPE §3)' },
  { cmd: 'gpsd', pkg: 'gpsd', why: 'the GNSS adapter is tested against a real gpsd (state-scripts)' },
  { cmd: 'gpsfake', pkg: 'gpsd-clients', why: 'gpsfake feeds gpsd a recorded NMEA drive (state-scripts)' },
  { cmd: 'psql', pkg: 'postgresql-client', why: 'the preflight checks PostgreSQL for the fleet-store suites' },
  { cmd: 'dockerd', pkg: 'docker.io', why: 'the compose module tests start their own dockerd (agent-hooks)' },
  {
    cmd: 'docker-compose',
    pkg: 'docker-compose',
    why: 'compose projects where `docker compose` is absent (agent-hooks)',
  },
  { cmd: 'busybox', pkg: 'busybox-static', why: 'the local test image: nothing can be pulled (agent-hooks)' },
  { cmd: 'chromium', pkg: 'chromium', why: 'the console suites drive Debian Chromium with playwright-core (test/e2e)' },
  {
    cmd: 'dbus-daemon',
    pkg: 'dbus-daemon',
    why: "a private system bus for the client's D-Bus API (the size probe's system test)",
  },
  { cmd: 'dbus-send', pkg: 'dbus-bin', why: 'the size probe asks the client for its token over D-Bus (state-scripts)' },
];

const say = sayer('test-preflight');
const run = (cmd, args) => runWith(say, cmd, args);

ensureTools(say, TOOLS);

// The real client must be sandboxed; without mount namespaces the system tests cannot run at all.
if (spawnSync('unshare', ['--mount', '--propagation', 'private', 'true'], { stdio: 'ignore' }).status !== 0) {
  say(
    '`unshare --mount` is not permitted here: the real-client system tests need root (or user namespaces) to sandbox mender',
  );
  process.exit(1);
}

// PostgreSQL: the fleet-store suites run on SQLite and on a real PostgreSQL. This machine kind runs
// one at 127.0.0.1:5432; on a fresh Debian machine (as root) install and start Debian's, with a
// password for `postgres` and a `test` database, so the default test URL works.
const PG_URL = process.env.VANCORE_TEST_PG_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/test';
const pgReady = () =>
  spawnSync('psql', [PG_URL, '-Atqc', 'select 1'], { stdio: 'ignore', env: { ...process.env, PGCONNECT_TIMEOUT: '3' } })
    .status === 0;
if (!has('psql') || !pgReady()) {
  if (process.getuid?.() !== 0) {
    say(`PostgreSQL is not reachable at ${PG_URL.replace(/:[^:@/]*@/, '@')}: start one (or set VANCORE_TEST_PG_URL)`);
    process.exit(1);
  }
  if (!has('pg_ctlcluster')) {
    say('installing PostgreSQL from Debian');
    run('apt-get', ['update', '-q']);
    run('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'postgresql']);
  }
  const clusters = spawnSync('sh', ['-c', 'ls /etc/postgresql'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  say(`starting PostgreSQL ${clusters}`);
  spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', clusters, 'main', 'start'], { stdio: 'inherit' });
  const asPg = (sql) => spawnSync('su', ['postgres', '-c', `psql -Atqc "${sql}"`], { encoding: 'utf8' });
  asPg("ALTER USER postgres PASSWORD 'postgres'");
  if (!asPg("SELECT 1 FROM pg_database WHERE datname='test'").stdout.includes('1')) asPg('CREATE DATABASE test');
  if (!pgReady()) {
    say(`PostgreSQL still not reachable at ${PG_URL.replace(/:[^:@/]*@/, '@')} after starting it`);
    process.exit(1);
  }
}

const versions = spawnSync('sh', ['-c', 'mender --version 2>&1 | head -1; mender-artifact --version 2>&1 | head -1'], {
  encoding: 'utf8',
}).stdout;
say(`tools ready: ${versions.trim().split('\n').join(' | ')}`);
