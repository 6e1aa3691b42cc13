// Versioned schema. Each step moves the database from version i to i+1 and is kept forever:
// a file written by any earlier Kestrel is migrated step by step. Never edit a released step;
// add a new one. `schema_version` holds one row with the current version.

import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  up: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'incidents with aggregation key and filter indexes',
    up: `
      CREATE TABLE incidents (
        id            INTEGER PRIMARY KEY,
        rule          TEXT    NOT NULL,
        priority      INTEGER NOT NULL,          -- 0 emergency .. 7 debug
        output        TEXT    NOT NULL,          -- rendered message, without time/priority prefix
        output_fields TEXT    NOT NULL,          -- JSON object
        tags          TEXT    NOT NULL,          -- JSON array, sorted
        source        TEXT    NOT NULL,
        hostname      TEXT    NOT NULL,
        container_id  TEXT    NOT NULL,
        exe           TEXT    NOT NULL,
        pid           INTEGER,
        first_seen    INTEGER NOT NULL,          -- ns since the epoch
        last_seen     INTEGER NOT NULL,
        count         INTEGER NOT NULL DEFAULT 1,
        agg_key       TEXT    NOT NULL
      );
      CREATE INDEX incidents_last_seen ON incidents(last_seen);
      CREATE INDEX incidents_rule ON incidents(rule, last_seen);
      CREATE INDEX incidents_container ON incidents(container_id, last_seen);
      CREATE INDEX incidents_priority ON incidents(priority, last_seen);
      CREATE INDEX incidents_agg ON incidents(agg_key, first_seen);
    `,
  },
  {
    version: 2,
    description: 'statuses, notes and history',
    up: `
      ALTER TABLE incidents ADD COLUMN status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'acknowledged', 'resolved'));
      CREATE INDEX incidents_status ON incidents(status, last_seen);
      CREATE TABLE incident_history (
        id          INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        at          INTEGER NOT NULL,            -- ns since the epoch
        action      TEXT    NOT NULL,            -- acknowledge | resolve | reopen | note
        from_status TEXT,
        to_status   TEXT,
        note        TEXT,
        actor       TEXT
      );
      CREATE INDEX incident_history_incident ON incident_history(incident_id, at);
    `,
  },
  {
    version: 3,
    description: 'full-text search over outputs (FTS5, external content)',
    up: `
      CREATE VIRTUAL TABLE incidents_fts USING fts5(rule, output, content='incidents', content_rowid='id');
      CREATE TRIGGER incidents_fts_ai AFTER INSERT ON incidents BEGIN
        INSERT INTO incidents_fts(rowid, rule, output) VALUES (new.id, new.rule, new.output);
      END;
      CREATE TRIGGER incidents_fts_ad AFTER DELETE ON incidents BEGIN
        INSERT INTO incidents_fts(incidents_fts, rowid, rule, output) VALUES ('delete', old.id, old.rule, old.output);
      END;
      CREATE TRIGGER incidents_fts_au AFTER UPDATE OF rule, output ON incidents BEGIN
        INSERT INTO incidents_fts(incidents_fts, rowid, rule, output) VALUES ('delete', old.id, old.rule, old.output);
        INSERT INTO incidents_fts(rowid, rule, output) VALUES (new.id, new.rule, new.output);
      END;
      INSERT INTO incidents_fts(incidents_fts) VALUES ('rebuild');
    `,
  },
  {
    version: 4,
    description: 'webhook outbox',
    up: `
      CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        uuid            TEXT    NOT NULL UNIQUE, -- delivery id, stable across retries
        incident_id     INTEGER NOT NULL,        -- no FK: a delivery outlives retention of its incident
        endpoint        TEXT    NOT NULL,        -- webhook URL (secrets stay in the config)
        body            TEXT    NOT NULL,        -- exact bytes sent on every attempt
        state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL,        -- ms since the epoch
        next_attempt_at INTEGER NOT NULL,
        expire_at       INTEGER NOT NULL,
        last_status     INTEGER,
        last_error      TEXT,
        delivered_at    INTEGER
      );
      CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state = 'pending';
      CREATE INDEX outbox_incident ON outbox(incident_id);
    `,
  },
  {
    version: 5,
    description: 'process (with ancestry) and container details; engine counters',
    up: `
      ALTER TABLE incidents ADD COLUMN process TEXT;      -- JSON {pid, exe, comm, cmdline, ancestors[]}
      ALTER TABLE incidents ADD COLUMN container TEXT;    -- JSON {id, name, image, pod, namespace, privileged}
      CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export function currentVersion(db: Database.Database): number {
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
  if (has === undefined) return 0;
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  return row?.version ?? 0;
}

/** Bring the database to `target` (default: latest), one transaction per step. Returns the steps run. */
export function migrate(db: Database.Database, target: number = SCHEMA_VERSION): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  let v = currentVersion(db);
  if (v > SCHEMA_VERSION) {
    throw new Error(`database schema version ${v} is newer than this Kestrel understands (${SCHEMA_VERSION})`);
  }
  const ran: number[] = [];
  for (const m of MIGRATIONS) {
    if (m.version <= v || m.version > target) continue;
    db.transaction(() => {
      db.exec(m.up);
      db.prepare('DELETE FROM schema_version').run();
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
    })();
    v = m.version;
    ran.push(m.version);
  }
  return ran;
}
