// Which replica runs the scheduled work (sync, rollout controller, VPN controller, whatever comes later).
//
// PostgreSQL: a *session* advisory lock held on a dedicated connection (not the pool). The replica whose
// `pg_try_advisory_lock` succeeds leads; the others try again every `pollMs`, and at once when the leader
// announces a hand-over (NOTIFY). Invariants:
// * A replica runs scheduled work only while `role === 'leader'`; every path out of that role (session
//   error or end, heartbeat failure or timeout, the lock no longer in pg_locks, stop) calls `work.stop()`
//   synchronously first, so nothing new is scheduled after the session is in doubt.
// * The lock is scoped to the database and schema (`hashtext(current_schema())`), so bridges of two
//   fleets in one PostgreSQL never elect each other.
// * One election round at a time (`#round` is single-flight); `stop()` waits for it, then hands over:
//   stop work (waiting for the tick in flight), unlock, notify, close.
// * The session's TCP keepalives are short, so PostgreSQL notices a vanished leader's session (host down,
//   network cut) within ~11 s and releases its lock; the leader itself gives up after one failed or
//   `heartbeatTimeoutMs`-slow heartbeat — earlier than the server releases the lock. Failure modes:
//   docs/deploy.md "Leader election".
//
// SQLite: one bridge per file. An exclusive SQLite lock on `<file>.lock`, held for the life of the
// process (the kernel drops it when the process dies, even on kill -9), makes a second bridge refuse to
// start with one line.
import { hostname } from 'node:os';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { VanError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

export type BridgeRole = 'leader' | 'follower' | 'api-only';
export type ElectionKind = 'postgres-advisory-lock' | 'sqlite-file-lock' | 'none';

export interface RoleInfo {
  role: BridgeRole;
  /** When this replica took its current role. */
  since: string;
  election: ElectionKind;
  /** hostname:pid, for the log and /readyz. */
  replica: string;
  /** Times this replica became leader. */
  terms: number;
}

/** What the leader runs. `stop()` must stop scheduling synchronously, then wait for work in flight. */
export interface ScheduledWork {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface Election {
  info(): RoleInfo;
  start(): Promise<void>;
  /** Stop the work and hand leadership over at once. */
  stop(): Promise<void>;
}

export const replicaName = (): string => `${hostname()}:${process.pid}`;

/** First key of the two-key advisory lock: "vcld" (the second is the schema's hash). */
export const LEADER_LOCK_CLASS = 0x76636c64;
const CHANNEL = 'vancore_leader';

export interface PgElectionOptions {
  url: string;
  /** The schema the fleet tables live in (the pool's search_path), if not the default. */
  schema?: string | undefined;
  work: ScheduledWork;
  logger?: Logger;
  /** A follower's lock attempt interval. */
  pollMs?: number;
  /** The leader's heartbeat interval and the time a heartbeat may take before the session is given up. */
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  replica?: string;
  now?: () => Date;
}

export class PgLeaderElection implements Election {
  #role: 'leader' | 'follower' = 'follower';
  #since: Date;
  #terms = 0;
  #client: pg.Client | undefined;
  /** The schema the lock is scoped to (known once connected): hand-over notices name it. */
  #scope: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #workStopping: Promise<void> = Promise.resolve();
  #stopped = true;
  #lastProblem: string | undefined;
  readonly #o: Required<Omit<PgElectionOptions, 'schema' | 'logger'>> & Pick<PgElectionOptions, 'schema' | 'logger'>;

  constructor(opts: PgElectionOptions) {
    this.#o = {
      pollMs: 1000,
      heartbeatMs: 1000,
      heartbeatTimeoutMs: 3000,
      replica: replicaName(),
      now: () => new Date(),
      ...opts,
    };
    this.#since = this.#o.now();
  }

  info(): RoleInfo {
    return {
      role: this.#role,
      since: this.#since.toISOString(),
      election: 'postgres-advisory-lock',
      replica: this.#o.replica,
      terms: this.#terms,
    };
  }

  /** Runs the first round before returning: a sole replica leads as soon as it has started. */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#o.logger?.info({ role: 'follower', replica: this.#o.replica }, 'bridge role: follower (electing)');
    await this.#runRound();
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#runRound(), ms);
  }

  #runRound(): Promise<void> {
    this.#round ??= (async () => {
      try {
        if (this.#role === 'leader') await this.#heartbeat();
        else await this.#tryLead();
      } catch (e) {
        this.#problem((e as Error).message);
      } finally {
        this.#round = undefined;
        this.#schedule(this.#role === 'leader' ? this.#o.heartbeatMs : this.#o.pollMs);
      }
    })();
    return this.#round;
  }

  /** Logged once per distinct problem, not every second. */
  #problem(msg: string): void {
    if (msg === this.#lastProblem) return;
    this.#lastProblem = msg;
    this.#o.logger?.warn({ err: msg, role: this.#role }, 'leader election: database session problem');
  }

  async #connect(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const c = new pg.Client({
      connectionString: this.#o.url,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      connectionTimeoutMillis: 5000,
      application_name: `vancore-bridge-leader ${this.#o.replica}`.slice(0, 63),
      ...(this.#o.schema ? { options: `-c search_path=${this.#o.schema}` } : {}),
    });
    c.on('error', (e: Error) => this.#lost(c, `database session error: ${e.message}`));
    c.on('end', () => this.#lost(c, 'database session ended'));
    c.on('notification', (n) => {
      if (n.channel === CHANNEL && n.payload === this.#scope && this.#role === 'follower') this.#schedule(0);
    });
    this.#client = c;
    try {
      await c.connect();
      // PostgreSQL notices a vanished peer after 5 s idle + 3 probes 2 s apart, and frees its lock.
      await c.query('SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3');
      const r = await c.query<{ s: string }>('SELECT current_schema() AS s');
      this.#scope = r.rows[0]?.s ?? 'public';
      await c.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      this.#drop(c);
      throw e;
    }
    return c;
  }

  /** Forget a session (never awaits the network: a hung peer must not hold us). */
  #drop(c: pg.Client): void {
    if (this.#client === c) this.#client = undefined;
    c.removeAllListeners('notification');
    c.end().catch(() => undefined);
  }

  /** The session is in doubt: stop the work first, then forget the session; the next round reconnects. */
  #lost(c: pg.Client, why: string): void {
    if (this.#client !== c) return;
    this.#drop(c);
    if (this.#role === 'leader') this.#demote(why);
    else this.#problem(why);
    this.#schedule(this.#o.pollMs);
  }

  #demote(why: string): void {
    this.#role = 'follower';
    this.#since = this.#o.now();
    this.#workStopping = this.#o.work.stop().catch(() => undefined);
    this.#o.logger?.error(
      { role: 'follower', replica: this.#o.replica, reason: why },
      `bridge role: follower (lost leadership: ${why}); scheduled work stopped`,
    );
  }

  async #tryLead(): Promise<void> {
    const c = await this.#connect();
    const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext(current_schema())) AS ok', [
      LEADER_LOCK_CLASS,
    ]);
    this.#lastProblem = undefined;
    if (!r.rows[0]?.ok || this.#stopped) {
      if (r.rows[0]?.ok)
        await c.query('SELECT pg_advisory_unlock($1, hashtext(current_schema()))', [LEADER_LOCK_CLASS]);
      return;
    }
    await this.#workStopping;
    this.#role = 'leader';
    this.#terms++;
    this.#since = this.#o.now();
    this.#o.logger?.info(
      { role: 'leader', replica: this.#o.replica, term: this.#terms },
      'bridge role: leader (runs the sync and the controllers)',
    );
    try {
      await this.#o.work.start();
    } catch (e) {
      // Work that cannot start must not keep the lock from a replica where it can.
      this.#demote(`scheduled work failed to start: ${(e as Error).message}`);
      await c.query('SELECT pg_advisory_unlock($1, hashtext(current_schema()))', [LEADER_LOCK_CLASS]);
    }
  }

  /** The session answers in time and still holds the lock; anything else gives leadership up at once. */
  async #heartbeat(): Promise<void> {
    const c = this.#client;
    if (!c) return this.#demote('no database session');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#o.heartbeatTimeoutMs);
    });
    try {
      const r = await Promise.race([
        c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
             AND classid::bigint = $1 AND objsubid = 2 AND granted`,
          [LEADER_LOCK_CLASS],
        ),
        timeout,
      ]);
      if (r === 'timeout') return this.#lost(c, `heartbeat took longer than ${this.#o.heartbeatTimeoutMs} ms`);
      if ((r.rows[0]?.n ?? 0) < 1) return this.#lost(c, 'the leader lock is no longer held');
    } catch (e) {
      this.#lost(c, `heartbeat failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
    const c = this.#client;
    if (this.#role === 'leader') {
      this.#role = 'follower';
      this.#since = this.#o.now();
      await this.#o.work.stop();
      if (c) {
        try {
          await c.query('SELECT pg_advisory_unlock($1, hashtext(current_schema()))', [LEADER_LOCK_CLASS]);
          await c.query('SELECT pg_notify($1, $2)', [CHANNEL, this.#scope ?? 'public']);
          this.#o.logger?.info({ replica: this.#o.replica }, 'bridge role: leadership handed over');
        } catch {
          // The session is gone: PostgreSQL has released the lock with it.
        }
      }
    } else await this.#workStopping;
    if (c) {
      this.#client = undefined;
      c.removeAllListeners();
      c.on('error', () => undefined);
      await c.end().catch(() => undefined);
    }
  }
}

/** SQLite: this process is the only bridge on the file, or it refuses to start. */
export class SqliteFileLock implements Election {
  #lock: SQLite.Database | undefined;
  #since: Date;
  #started = false;

  constructor(
    private readonly file: string,
    private readonly work: ScheduledWork,
    private readonly opts: { logger?: Logger; now?: () => Date; replica?: string } = {},
  ) {
    this.#since = (opts.now ?? (() => new Date()))();
  }

  /** Take the file lock (call before anything else touches the database). */
  acquire(): void {
    const lockFile = `${this.file}.lock`;
    const db = new SQLite(lockFile, { timeout: 0 });
    try {
      // EXCLUSIVE locking mode: after the first write the lock is held until the connection closes.
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('CREATE TABLE IF NOT EXISTS holder (k INTEGER PRIMARY KEY, replica TEXT)');
      db.prepare('INSERT OR REPLACE INTO holder (k, replica) VALUES (1, ?)').run(this.opts.replica ?? replicaName());
    } catch (e) {
      db.close();
      if ((e as { code?: string }).code === 'SQLITE_BUSY')
        throw new VanError(
          'CONFLICT',
          `another bridge is already running on sqlite:${this.file} (it holds ${lockFile}): run one bridge per SQLite file, or PostgreSQL for several replicas`,
        );
      throw new VanError('CONFIG_INVALID', `cannot lock ${lockFile}: ${(e as Error).message}`);
    }
    this.#lock = db;
  }

  info(): RoleInfo {
    return {
      role: 'leader',
      since: this.#since.toISOString(),
      election: 'sqlite-file-lock',
      replica: this.opts.replica ?? replicaName(),
      terms: this.#started ? 1 : 0,
    };
  }

  async start(): Promise<void> {
    this.#started = true;
    this.#since = (this.opts.now ?? (() => new Date()))();
    this.opts.logger?.info(
      { role: 'leader', election: 'sqlite-file-lock' },
      'bridge role: leader (single SQLite bridge)',
    );
    await this.work.start();
  }

  async stop(): Promise<void> {
    if (this.#started) await this.work.stop();
    this.#started = false;
  }

  /** Drop the file lock (after the database is closed). */
  release(): void {
    this.#lock?.close();
    this.#lock = undefined;
  }
}

/** `--no-sync`: this process serves the API only and never runs scheduled work. */
export class NoElection implements Election {
  readonly #since = new Date();
  constructor(private readonly replica: string = replicaName()) {}
  info(): RoleInfo {
    return { role: 'api-only', since: this.#since.toISOString(), election: 'none', replica: this.replica, terms: 0 };
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
