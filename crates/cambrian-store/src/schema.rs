//! The versioned schema: `PRAGMA user_version` names the version, and
//! [`MIGRATIONS`] lists the SQL that takes a database from version `i` to
//! `i + 1`. Every migration runs inside one transaction, so an interrupted
//! upgrade leaves the previous version intact.

use crate::error::{Ctx, StoreError};
use rusqlite::Connection;

/// Migration `i` upgrades a database from version `i` to `i + 1`.
///
/// Layout (see docs/store.md for the measurements behind it):
/// * `model` and `term` intern model ids and category strings (pipeline tags,
///   libraries, base-model families) as small integers.
/// * `detail` holds the slowly-changing part of a record (tags, license, ...)
///   as compact JSON, written only when it differs from the model's previous
///   detail (change-only).
/// * `row` holds one narrow integer row per (snapshot, model): rank and the
///   volatile counters. `WITHOUT ROWID`, clustered by snapshot.
/// * `agg` (v2) pre-aggregates each complete snapshot per dimension and
///   category, so category-share queries never touch `row`.
pub const MIGRATIONS: &[&str] = &[
    // v0 -> v1
    r#"
    CREATE TABLE model (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE term (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
    CREATE TABLE snapshot (
        id INTEGER PRIMARY KEY,
        taken_at INTEGER NOT NULL,
        source TEXT NOT NULL,
        query TEXT NOT NULL,
        status INTEGER NOT NULL,
        models INTEGER NOT NULL DEFAULT 0,
        checkpoint TEXT,
        content_hash TEXT,
        started_at INTEGER NOT NULL,
        completed_at INTEGER
    );
    CREATE INDEX snapshot_by_status_time ON snapshot(status, taken_at);
    CREATE TABLE detail (id INTEGER PRIMARY KEY, model INTEGER NOT NULL, json BLOB NOT NULL);
    CREATE INDEX detail_by_model ON detail(model, id);
    CREATE TABLE row (
        snapshot INTEGER NOT NULL,
        model INTEGER NOT NULL,
        rank INTEGER NOT NULL,
        likes INTEGER,
        dl30 INTEGER,
        dlall INTEGER,
        trending REAL,
        pipeline INTEGER NOT NULL,
        library INTEGER NOT NULL,
        family INTEGER NOT NULL,
        detail INTEGER NOT NULL,
        PRIMARY KEY (snapshot, model)
    ) WITHOUT ROWID;
    "#,
    // v1 -> v2: per-snapshot aggregates and the on-demand detail cache.
    r#"
    CREATE TABLE agg (
        snapshot INTEGER NOT NULL,
        dim INTEGER NOT NULL,
        category INTEGER NOT NULL,
        models INTEGER NOT NULL,
        likes INTEGER NOT NULL,
        dl30 INTEGER NOT NULL,
        dlall INTEGER NOT NULL,
        n_dlall INTEGER NOT NULL,
        PRIMARY KEY (snapshot, dim, category)
    ) WITHOUT ROWID;
    CREATE TABLE cache (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID;
    INSERT INTO agg SELECT snapshot, 0, pipeline, count(*), coalesce(sum(likes),0), coalesce(sum(dl30),0), coalesce(sum(dlall),0), count(dlall)
        FROM row WHERE snapshot IN (SELECT id FROM snapshot WHERE status = 1) GROUP BY snapshot, pipeline;
    INSERT INTO agg SELECT snapshot, 1, library, count(*), coalesce(sum(likes),0), coalesce(sum(dl30),0), coalesce(sum(dlall),0), count(dlall)
        FROM row WHERE snapshot IN (SELECT id FROM snapshot WHERE status = 1) GROUP BY snapshot, library;
    INSERT INTO agg SELECT snapshot, 2, family, count(*), coalesce(sum(likes),0), coalesce(sum(dl30),0), coalesce(sum(dlall),0), count(dlall)
        FROM row WHERE snapshot IN (SELECT id FROM snapshot WHERE status = 1) GROUP BY snapshot, family;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Read the version and apply the missing migrations, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let found: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .ctx("reading the schema version")?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().ctx("starting a schema migration")?;
        tx.execute_batch(sql).ctx("migrating the schema")?;
        tx.pragma_update(None, "user_version", (i + 1) as u32).ctx("recording the schema version")?;
        tx.commit().ctx("committing a schema migration")?;
    }
    Ok(SCHEMA_VERSION)
}
