// The owners' own records (a rollout, a VPN migration: one row each with an id, a status and a creation
// time) read one way: by id, or all of them (of one status) in the order they were created.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

type OwnerTable = 'rollouts' | 'vpn_migrations';

export interface OwnerRecords<R, S extends string> {
  get: (db: Kysely<Database>, id: string) => Promise<R | undefined>;
  list: (db: Kysely<Database>, status?: S) => Promise<R[]>;
}

export function ownerRecords<T extends OwnerTable, R, S extends string>(
  table: T,
  of: (row: Database[T]) => R,
): OwnerRecords<R, S> {
  // One query shape over either table (Kysely cannot narrow a union of table names).
  const from = (db: Kysely<Database>) =>
    (db as unknown as Kysely<Pick<Database, 'rollouts'>>).selectFrom(table as 'rollouts');
  const read = (rows: unknown[]) => rows.map((r) => of(r as Database[T]));
  return {
    get: async (db, id) => read(await from(db).selectAll().where('id', '=', id).execute())[0],
    list: async (db, status) => {
      let q = from(db).selectAll();
      if (status) q = q.where('status', '=', status);
      return read(await q.orderBy('created_at').execute());
    },
  };
}
