// Opening the database: file created 0600 before SQLite touches it, WAL, pragmas, migrations.

import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { migrate } from './migrations.js';

export interface OpenOptions {
  readonly?: boolean;
  /** Stop at this schema version (tests of migrations). */
  targetVersion?: number;
}

export function openDatabase(path: string, opts: OpenOptions = {}): Database.Database {
  const memory = path === ':memory:';
  if (!memory && !existsSync(path)) {
    if (opts.readonly === true) throw new Error(`database ${path} does not exist`);
    // Create it owner-only before SQLite opens it; SQLite gives -wal/-shm the same mode.
    closeSync(openSync(path, 'wx', 0o600));
    chmodSync(path, 0o600);
  }
  const db = new Database(path, { readonly: opts.readonly === true, fileMustExist: !memory });
  db.pragma('busy_timeout = 5000');
  if (opts.readonly !== true) {
    db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a committed transaction survives a process crash (SIGKILL); only a power
    // loss can take the last ones back.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, opts.targetVersion);
  }
  return db;
}
