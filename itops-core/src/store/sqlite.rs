//! SQLite `StateStore` and `ApprovalGate`.
//!
//! One file holds everything. Each record is stored as JSON in a `data` column, next to the
//! few columns that filtering and ordering need. Rusqlite is synchronous, so every
//! operation runs on Tokio's blocking pool, holding the connection's mutex; every
//! read-check-write runs in one `BEGIN IMMEDIATE` transaction, so two handles on the same
//! file (or two processes) serialise their writes and a stale version is always refused.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::memory::{approval_as_of, approval_matches};
use super::version::{check_version, new_stored, next_stored, next_version};
use super::{
    AgentState, AgentStateStore, CheckpointStore, IncidentFilter, IncidentPage, IncidentStore,
    KnowledgeStore, TimelineStore,
};
use crate::approval::{
    Approval, ApprovalFilter, ApprovalGate, ApprovalPage, ApprovalRequest, ApprovalStatus,
    ApprovalTicket, ApprovalToken, Decision,
};
use crate::clock::Clock;
use crate::domain::{Incident, IncidentStatus, TimelineEntry};
use crate::error::{Error, Result};
use crate::id::{ApprovalId, IncidentId};
use crate::knowledge::{DocumentKind, KnowledgeDocument};
use crate::workflow::WorkflowCheckpoint;

/// How long a write waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Schema migrations, applied in order; migration `n` (1-based) brings `PRAGMA user_version`
/// to `n`. Append new steps; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE incidents (
        id          TEXT PRIMARY KEY NOT NULL,
        status      TEXT NOT NULL,
        severity    TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        version     INTEGER NOT NULL,
        data        TEXT NOT NULL
    );
    CREATE INDEX incidents_by_status ON incidents (status, id);
    CREATE INDEX incidents_by_severity ON incidents (severity, id);
    CREATE INDEX incidents_by_created_at ON incidents (created_at);

    CREATE TABLE timeline (
        incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        data        TEXT NOT NULL,
        PRIMARY KEY (incident_id, seq)
    ) WITHOUT ROWID;

    CREATE TABLE agent_state (
        incident_id TEXT NOT NULL,
        agent       TEXT NOT NULL,
        version     INTEGER NOT NULL,
        data        TEXT NOT NULL,
        PRIMARY KEY (incident_id, agent)
    ) WITHOUT ROWID;

    CREATE TABLE checkpoints (
        incident_id TEXT PRIMARY KEY NOT NULL,
        finished    INTEGER NOT NULL,
        version     INTEGER NOT NULL,
        data        TEXT NOT NULL
    );
    CREATE INDEX checkpoints_unfinished ON checkpoints (finished, incident_id);

    CREATE TABLE documents (
        id          TEXT PRIMARY KEY NOT NULL,
        kind        TEXT NOT NULL,
        version     INTEGER NOT NULL,
        data        TEXT NOT NULL
    );
    CREATE INDEX documents_by_kind ON documents (kind, id);

    CREATE TABLE approvals (
        id           TEXT PRIMARY KEY NOT NULL,
        incident_id  TEXT NOT NULL,
        status       TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        expires_at   TEXT NOT NULL,
        token_hash   TEXT NOT NULL,
        version      INTEGER NOT NULL,
        data         TEXT NOT NULL
    );
    CREATE INDEX approvals_by_incident ON approvals (incident_id, requested_at);
    CREATE INDEX approvals_by_status ON approvals (status, expires_at);
    "#,
];

/// A `StateStore` and `ApprovalGate` in one SQLite file (WAL mode, bundled SQLite).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    /// The schema version this build creates and expects (`PRAGMA user_version`).
    pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// `clock` drives approval expiry.
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self> {
        let path = path.as_ref();
        let what = format!("opening SQLite database '{}'", path.display());
        let conn = Connection::open(path).ctx(&what)?;
        Self::setup(conn, &what, clock)
    }

    /// A private in-memory database (gone when the store is dropped), for tests.
    pub fn open_in_memory(clock: Arc<dyn Clock>) -> Result<Self> {
        let what = "opening an in-memory SQLite database";
        let conn = Connection::open_in_memory().ctx(what)?;
        Self::setup(conn, what, clock)
    }

    fn setup(mut conn: Connection, what: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        conn.busy_timeout(BUSY_TIMEOUT).ctx(what)?;
        // The first statement that reads the file: a file that is not a database fails here.
        // In-memory databases answer "memory"; files keep WAL once set.
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .ctx(&format!("{what}: enabling WAL journal mode"))?;
        // FULL: a commit (an approval decision, an action's started record) is on disk before
        // it returns, so it survives a power loss; NORMAL in WAL mode may lose the last ones.
        conn.pragma_update(None, "synchronous", "FULL")
            .ctx(&format!("{what}: setting synchronous mode"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .ctx(&format!("{what}: enabling foreign keys"))?;
        migrate(&mut conn, what)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            clock,
        })
    }

    /// The connection's `synchronous` setting as SQLite names it (`OFF`, `NORMAL`, `FULL`,
    /// `EXTRA`). `FULL`: a commit is on disk before it returns, so a committed decision
    /// survives a power loss.
    pub async fn synchronous(&self) -> Result<String> {
        let what = "reading the synchronous mode";
        self.run(what, move |conn| {
            let level: i64 = conn
                .query_row("PRAGMA synchronous", [], |row| row.get(0))
                .ctx(what)?;
            Ok(match level {
                0 => "OFF",
                1 => "NORMAL",
                2 => "FULL",
                3 => "EXTRA",
                _ => "unknown",
            }
            .to_string())
        })
        .await
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn run<T, F>(&self, what: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic inside a transaction drops (and so rolls back) the transaction: the
            // connection behind a poisoned lock is still usable.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(|e| Error::storage(format!("{what}: the database task failed: {e}"), e))?
    }
}

/// Applies the migrations the database has not seen, in one transaction.
fn migrate(conn: &mut Connection, what: &str) -> Result<()> {
    let target = MIGRATIONS.len();
    if schema_version(conn, what)? == target {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(&format!("{what}: starting the schema migration"))?;
    // Another connection may have migrated while this one waited for the lock.
    let current = schema_version(&tx, what)?;
    if current > target {
        return Err(Error::Storage {
            message: format!(
                "{what}: the database has schema version {current}, newer than the {target} \
                 this build of itops supports; upgrade itops or use another file"
            ),
            source: None,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)
            .ctx(&format!("{what}: applying schema migration {}", index + 1))?;
    }
    tx.pragma_update(None, "user_version", sql_int(target)?)
        .ctx(&format!("{what}: recording schema version {target}"))?;
    tx.commit()
        .ctx(&format!("{what}: committing the schema migration"))
}

fn schema_version(conn: &Connection, what: &str) -> Result<usize> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .ctx(&format!("{what}: reading the schema version"))?;
    usize::try_from(version).map_err(|_| Error::Storage {
        message: format!("{what}: the database has an invalid schema version {version}"),
        source: None,
    })
}

/// Adds what was being done to a rusqlite error.
trait SqlContext<T> {
    fn ctx(self, what: &str) -> Result<T>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> Result<T> {
        self.map_err(|e| Error::storage(format!("{what}: {e}"), e))
    }
}

fn to_json<T: Serialize>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::serialization(what, e))
}

fn from_json<T: DeserializeOwned>(data: &str, what: &str) -> Result<T> {
    serde_json::from_str(data).map_err(|e| Error::serialization(what, e))
}

/// A timestamp as fixed-width text, so that text order is time order (years 0 to 9999).
fn sql_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

fn sql_int<N: TryInto<i64> + Copy + std::fmt::Display>(n: N) -> Result<i64> {
    n.try_into().map_err(|_| {
        Error::invalid(
            "version",
            format!("{n} does not fit in a signed 64-bit integer"),
        )
    })
}

fn stored_version(version: i64, what: &str) -> Result<u64> {
    u64::try_from(version).map_err(|_| Error::Storage {
        message: format!("{what}: the stored version {version} is negative"),
        source: None,
    })
}

fn immediate<'c>(conn: &'c mut Connection, what: &str) -> Result<rusqlite::Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(&format!("{what}: starting a transaction"))
}

/// Reads the `data` column of every row, in order.
fn collect_json<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> Result<Vec<T>> {
    let mut statement = conn.prepare_cached(sql).ctx(what)?;
    let rows = statement
        .query_map(params, |row| row.get::<_, String>(0))
        .ctx(what)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(from_json(&row.ctx(what)?, what)?);
    }
    Ok(out)
}

/// Reads the `data` column of one row, if there is one.
fn one_json<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> Result<Option<T>> {
    let data: Option<String> = conn
        .query_row(sql, params, |row| row.get(0))
        .optional()
        .ctx(what)?;
    data.map(|d| from_json(&d, what)).transpose()
}

/// Reads the `version` column of one row, if there is one.
fn one_version(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> Result<Option<u64>> {
    let version: Option<i64> = conn
        .query_row(sql, params, |row| row.get(0))
        .optional()
        .ctx(what)?;
    version.map(|v| stored_version(v, what)).transpose()
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn create_incident(&self, incident: &Incident) -> Result<Incident> {
        let stored = new_stored("incident", incident)?;
        let data = to_json(&stored, "incident")?;
        self.run("creating an incident", move |conn| {
            let inserted = conn
                .execute(
                    "INSERT INTO incidents (id, status, severity, created_at, version, data)
                     VALUES (?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT (id) DO NOTHING",
                    params![
                        stored.id.to_string(),
                        stored.status.as_str(),
                        stored.severity.as_str(),
                        sql_time(stored.created_at),
                        data
                    ],
                )
                .ctx("creating an incident")?;
            if inserted == 0 {
                return Err(Error::AlreadyExists {
                    entity: "incident",
                    id: stored.id.to_string(),
                });
            }
            Ok(stored)
        })
        .await
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Incident> {
        self.run("reading an incident", move |conn| {
            one_json(
                conn,
                "SELECT data FROM incidents WHERE id = ?1",
                [id.to_string()],
                "reading an incident",
            )?
            .ok_or_else(|| Error::not_found("incident", id))
        })
        .await
    }

    async fn update_incident(&self, incident: &Incident) -> Result<Incident> {
        let stored = next_stored(incident);
        let data = to_json(&stored, "incident")?;
        let expected = incident.version;
        self.run("updating an incident", move |conn| {
            let what = "updating an incident";
            let tx = immediate(conn, what)?;
            let id = stored.id.to_string();
            let current = one_version(&tx, "SELECT version FROM incidents WHERE id = ?1", [&id], what)?
                .ok_or_else(|| Error::not_found("incident", &id))?;
            check_version("incident", &id, expected, Some(current))?;
            tx.execute(
                "UPDATE incidents SET status = ?2, severity = ?3, created_at = ?4, version = ?5, data = ?6
                 WHERE id = ?1",
                params![
                    id,
                    stored.status.as_str(),
                    stored.severity.as_str(),
                    sql_time(stored.created_at),
                    sql_int(stored.version)?,
                    data
                ],
            )
            .ctx(what)?;
            tx.commit().ctx(what)?;
            Ok(stored)
        })
        .await
    }

    async fn delete_incident(&self, id: IncidentId) -> Result<()> {
        self.run("deleting an incident", move |conn| {
            let what = "deleting an incident";
            let id = id.to_string();
            let tx = immediate(conn, what)?;
            // The timeline goes with the incident (ON DELETE CASCADE); agent state and
            // checkpoints may exist without an incident row, so they are deleted by hand.
            let deleted = tx
                .execute("DELETE FROM incidents WHERE id = ?1", [&id])
                .ctx(what)?;
            if deleted == 0 {
                return Err(Error::not_found("incident", id));
            }
            tx.execute("DELETE FROM agent_state WHERE incident_id = ?1", [&id])
                .ctx(what)?;
            tx.execute("DELETE FROM checkpoints WHERE incident_id = ?1", [&id])
                .ctx(what)?;
            tx.commit().ctx(what)
        })
        .await
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<IncidentPage> {
        let page_size = filter.page_size();
        let mut sql = String::from("SELECT data FROM incidents WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(status) = filter.status {
            sql.push_str(" AND status = ?");
            args.push(Value::Text(status.as_str().to_string()));
        }
        if let Some(severity) = filter.severity {
            sql.push_str(" AND severity = ?");
            args.push(Value::Text(severity.as_str().to_string()));
        }
        if let Some(service) = &filter.service {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM json_each(incidents.data, '$.affected_services') AS s
                              WHERE s.value = ?)",
            );
            args.push(Value::Text(service.clone()));
        }
        if let Some(key) = &filter.dedup_key {
            sql.push_str(
                " AND (json_extract(data, '$.dedup_key') = ?
                       OR EXISTS (SELECT 1 FROM json_each(incidents.data, '$.correlated_keys') AS k
                                  WHERE k.value = ?))",
            );
            args.push(Value::Text(key.clone()));
            args.push(Value::Text(key.clone()));
        }
        if let Some(after) = filter.created_after {
            sql.push_str(" AND created_at >= ?");
            args.push(Value::Text(sql_time(after)));
        }
        if let Some(before) = filter.created_before {
            sql.push_str(" AND created_at < ?");
            args.push(Value::Text(sql_time(before)));
        }
        if let Some(cursor) = filter.cursor {
            // Hyphenated lowercase UUIDs sort as text exactly as the UUIDs do.
            sql.push_str(" AND id < ?");
            args.push(Value::Text(cursor.to_string()));
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        args.push(Value::Integer(sql_int(page_size.saturating_add(1))?));
        self.run("listing incidents", move |conn| {
            let mut items: Vec<Incident> =
                collect_json(conn, &sql, params_from_iter(args), "listing incidents")?;
            let next_cursor = if items.len() > page_size {
                items.truncate(page_size);
                items.last().map(|incident| incident.id)
            } else {
                None
            };
            Ok(IncidentPage { items, next_cursor })
        })
        .await
    }

    async fn count_incidents_by_status(&self) -> Result<Vec<(IncidentStatus, u64)>> {
        let what = "counting incidents by status";
        self.run(what, move |conn| {
            let mut statement = conn
                .prepare_cached("SELECT status, COUNT(*) FROM incidents GROUP BY status")
                .ctx(what)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .ctx(what)?;
            let mut counts = Vec::new();
            for row in rows {
                let (status, n) = row.ctx(what)?;
                counts.push((status.parse()?, u64::try_from(n).unwrap_or(0)));
            }
            Ok(counts)
        })
        .await
    }
}

#[async_trait]
impl TimelineStore for SqliteStore {
    async fn append_timeline(&self, entry: &TimelineEntry) -> Result<TimelineEntry> {
        let mut stored = entry.clone();
        self.run("appending to a timeline", move |conn| {
            let what = "appending to a timeline";
            let incident_id = stored.incident_id.to_string();
            let tx = immediate(conn, what)?;
            let exists = tx
                .query_row(
                    "SELECT 1 FROM incidents WHERE id = ?1",
                    [&incident_id],
                    |_| Ok(()),
                )
                .optional()
                .ctx(what)?
                .is_some();
            if !exists {
                return Err(Error::not_found("incident", incident_id));
            }
            let last: i64 = tx
                .query_row(
                    "SELECT COALESCE(MAX(seq), 0) FROM timeline WHERE incident_id = ?1",
                    [&incident_id],
                    |row| row.get(0),
                )
                .ctx(what)?;
            stored.seq = next_version(stored_version(last, what)?);
            let data = to_json(&stored, "timeline entry")?;
            tx.execute(
                "INSERT INTO timeline (incident_id, seq, data) VALUES (?1, ?2, ?3)",
                params![incident_id, sql_int(stored.seq)?, data],
            )
            .ctx(what)?;
            tx.commit().ctx(what)?;
            Ok(stored)
        })
        .await
    }

    async fn timeline(
        &self,
        incident_id: IncidentId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>> {
        // No seq exceeds i64::MAX, so nothing comes after such a value.
        let (Ok(after), Ok(limit)) = (i64::try_from(after_seq), i64::try_from(limit)) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.run("reading a timeline", move |conn| {
            collect_json(
                conn,
                "SELECT data FROM timeline WHERE incident_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                params![incident_id.to_string(), after, limit],
                "reading a timeline",
            )
        })
        .await
    }
}

#[async_trait]
impl AgentStateStore for SqliteStore {
    async fn get_agent_state(
        &self,
        incident_id: IncidentId,
        agent: &str,
    ) -> Result<Option<AgentState>> {
        let agent = agent.to_string();
        self.run("reading agent state", move |conn| {
            one_json(
                conn,
                "SELECT data FROM agent_state WHERE incident_id = ?1 AND agent = ?2",
                params![incident_id.to_string(), agent],
                "reading agent state",
            )
        })
        .await
    }

    async fn put_agent_state(&self, state: &AgentState) -> Result<AgentState> {
        let expected = state.version;
        let stored = next_stored(state);
        let data = to_json(&stored, "agent state")?;
        self.run("storing agent state", move |conn| {
            let what = "storing agent state";
            let incident_id = stored.incident_id.to_string();
            let tx = immediate(conn, what)?;
            let current = one_version(
                &tx,
                "SELECT version FROM agent_state WHERE incident_id = ?1 AND agent = ?2",
                params![incident_id, stored.agent],
                what,
            )?;
            check_version(
                "agent state",
                format!("{incident_id}/{}", stored.agent),
                expected,
                current,
            )?;
            tx.execute(
                "INSERT INTO agent_state (incident_id, agent, version, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (incident_id, agent) DO UPDATE SET version = excluded.version, data = excluded.data",
                params![incident_id, stored.agent, sql_int(stored.version)?, data],
            )
            .ctx(what)?;
            tx.commit().ctx(what)?;
            Ok(stored)
        })
        .await
    }
}

#[async_trait]
impl CheckpointStore for SqliteStore {
    async fn get_checkpoint(&self, incident_id: IncidentId) -> Result<Option<WorkflowCheckpoint>> {
        self.run("reading a checkpoint", move |conn| {
            one_json(
                conn,
                "SELECT data FROM checkpoints WHERE incident_id = ?1",
                [incident_id.to_string()],
                "reading a checkpoint",
            )
        })
        .await
    }

    async fn put_checkpoint(&self, checkpoint: &WorkflowCheckpoint) -> Result<WorkflowCheckpoint> {
        let expected = checkpoint.version;
        let stored = next_stored(checkpoint);
        let data = to_json(&stored, "checkpoint")?;
        self.run("storing a checkpoint", move |conn| {
            let what = "storing a checkpoint";
            let incident_id = stored.incident_id.to_string();
            let tx = immediate(conn, what)?;
            let current = one_version(
                &tx,
                "SELECT version FROM checkpoints WHERE incident_id = ?1",
                [&incident_id],
                what,
            )?;
            check_version("checkpoint", &incident_id, expected, current)?;
            tx.execute(
                "INSERT INTO checkpoints (incident_id, finished, version, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (incident_id) DO UPDATE
                 SET finished = excluded.finished, version = excluded.version, data = excluded.data",
                params![incident_id, stored.is_finished(), sql_int(stored.version)?, data],
            )
            .ctx(what)?;
            tx.commit().ctx(what)?;
            Ok(stored)
        })
        .await
    }

    async fn unfinished_checkpoints(&self) -> Result<Vec<WorkflowCheckpoint>> {
        // Oldest first means by incident id, which is time-ordered.
        self.run("listing unfinished checkpoints", move |conn| {
            collect_json(
                conn,
                "SELECT data FROM checkpoints WHERE finished = 0 ORDER BY incident_id",
                [],
                "listing unfinished checkpoints",
            )
        })
        .await
    }
}

#[async_trait]
impl KnowledgeStore for SqliteStore {
    async fn put_document(&self, document: &KnowledgeDocument) -> Result<KnowledgeDocument> {
        document.validate()?;
        let expected = document.version;
        let stored = next_stored(document);
        let data = to_json(&stored, "knowledge document")?;
        self.run("storing a knowledge document", move |conn| {
            let what = "storing a knowledge document";
            let tx = immediate(conn, what)?;
            let current = one_version(
                &tx,
                "SELECT version FROM documents WHERE id = ?1",
                [&stored.id],
                what,
            )?;
            check_version("document", &stored.id, expected, current)?;
            tx.execute(
                "INSERT INTO documents (id, kind, version, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE
                 SET kind = excluded.kind, version = excluded.version, data = excluded.data",
                params![
                    stored.id,
                    stored.kind.as_str(),
                    sql_int(stored.version)?,
                    data
                ],
            )
            .ctx(what)?;
            tx.commit().ctx(what)?;
            Ok(stored)
        })
        .await
    }

    async fn get_document(&self, id: &str) -> Result<KnowledgeDocument> {
        let id = id.to_string();
        self.run("reading a knowledge document", move |conn| {
            one_json(
                conn,
                "SELECT data FROM documents WHERE id = ?1",
                [&id],
                "reading a knowledge document",
            )?
            .ok_or_else(|| Error::not_found("document", id))
        })
        .await
    }

    async fn list_documents(&self, kind: Option<DocumentKind>) -> Result<Vec<KnowledgeDocument>> {
        self.run("listing knowledge documents", move |conn| {
            collect_json(
                conn,
                "SELECT data FROM documents WHERE ?1 IS NULL OR kind = ?1 ORDER BY id",
                [kind.map(|k| k.as_str())],
                "listing knowledge documents",
            )
        })
        .await
    }

    async fn delete_document(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.run("deleting a knowledge document", move |conn| {
            let deleted = conn
                .execute("DELETE FROM documents WHERE id = ?1", [&id])
                .ctx("deleting a knowledge document")?;
            if deleted == 0 {
                return Err(Error::not_found("document", id));
            }
            Ok(())
        })
        .await
    }
}

/// Writes an approval's changed columns (status, version, data) inside `tx`.
fn store_approval(tx: &rusqlite::Transaction<'_>, approval: &Approval, what: &str) -> Result<()> {
    tx.execute(
        "UPDATE approvals SET status = ?2, version = ?3, data = ?4 WHERE id = ?1",
        params![
            approval.id.to_string(),
            approval.status.as_str(),
            sql_int(approval.version)?,
            to_json(approval, "approval")?
        ],
    )
    .ctx(what)?;
    Ok(())
}

#[async_trait]
impl ApprovalGate for SqliteStore {
    async fn request(&self, request: ApprovalRequest) -> Result<ApprovalTicket> {
        let approval = Approval::pending(&request, self.clock.now())?;
        let token = ApprovalToken::generate();
        let token_hash = token.hash();
        let data = to_json(&approval, "approval")?;
        self.run("requesting an approval", move |conn| {
            let inserted = conn
                .execute(
                    "INSERT INTO approvals
                     (id, incident_id, status, requested_at, expires_at, token_hash, version, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
                    params![
                        approval.id.to_string(),
                        approval.incident_id.to_string(),
                        approval.status.as_str(),
                        sql_time(approval.requested_at),
                        sql_time(approval.expires_at),
                        token_hash,
                        sql_int(approval.version)?,
                        data
                    ],
                )
                .ctx("requesting an approval")?;
            if inserted == 0 {
                return Err(Error::AlreadyExists {
                    entity: "approval",
                    id: approval.id.to_string(),
                });
            }
            Ok(ApprovalTicket { approval, token })
        })
        .await
    }

    async fn get(&self, id: ApprovalId) -> Result<Approval> {
        let now = self.clock.now();
        self.run("reading an approval", move |conn| {
            let approval: Approval = one_json(
                conn,
                "SELECT data FROM approvals WHERE id = ?1",
                [id.to_string()],
                "reading an approval",
            )?
            .ok_or_else(|| Error::not_found("approval", id))?;
            Ok(approval_as_of(approval, now))
        })
        .await
    }

    async fn get_with_token(&self, id: ApprovalId, token: &ApprovalToken) -> Result<Approval> {
        let now = self.clock.now();
        let token = token.clone();
        self.run("reading an approval", move |conn| {
            let what = "reading an approval";
            let row: Option<(String, String)> = conn
                .query_row(
                    "SELECT data, token_hash FROM approvals WHERE id = ?1",
                    [id.to_string()],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .ctx(what)?;
            let (data, token_hash) = row.ok_or_else(|| Error::not_found("approval", id))?;
            let approval: Approval = from_json(&data, "approval")?;
            approval_as_of(approval, now).check_token(&token, &token_hash)
        })
        .await
    }

    async fn decide(&self, id: ApprovalId, decision: Decision) -> Result<Approval> {
        let now = self.clock.now();
        self.run("deciding an approval", move |conn| {
            let what = "deciding an approval";
            let tx = immediate(conn, what)?;
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT data, token_hash FROM approvals WHERE id = ?1",
                    [id.to_string()],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .ctx(what)?;
            let (data, token_hash) = row.ok_or_else(|| Error::not_found("approval", id))?;
            let approval: Approval = from_json(&data, "approval")?;
            let decided = approval.decide(&decision, &token_hash, now)?;
            store_approval(&tx, &decided, what)?;
            tx.commit().ctx(what)?;
            Ok(decided)
        })
        .await
    }

    async fn list(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>> {
        let now = self.clock.now();
        let filter = filter.clone();
        // Narrow by stored status in SQL; `approval_matches` decides on the status as of now
        // (a stored "pending" may read as expired).
        let stored_statuses: Option<Vec<&'static str>> = filter.status.map(|status| match status {
            ApprovalStatus::Expired => vec!["pending", "expired"],
            other => vec![other.as_str()],
        });
        self.run("listing approvals", move |conn| {
            let mut sql = String::from("SELECT data FROM approvals WHERE 1 = 1");
            let mut args: Vec<Value> = Vec::new();
            if let Some(incident_id) = filter.incident_id {
                sql.push_str(" AND incident_id = ?");
                args.push(Value::Text(incident_id.to_string()));
            }
            if let Some(statuses) = &stored_statuses {
                let marks = vec!["?"; statuses.len()].join(", ");
                sql.push_str(&format!(" AND status IN ({marks})"));
                args.extend(statuses.iter().map(|s| Value::Text((*s).to_string())));
            }
            sql.push_str(" ORDER BY requested_at, id");
            let approvals: Vec<Approval> =
                collect_json(conn, &sql, params_from_iter(args), "listing approvals")?;
            Ok(approvals
                .into_iter()
                .filter(|a| approval_matches(&filter, a, now))
                .map(|a| approval_as_of(a, now))
                .collect())
        })
        .await
    }

    async fn list_page(&self, filter: &ApprovalFilter) -> Result<ApprovalPage> {
        let now = self.clock.now();
        let filter = filter.clone();
        let size = filter.page_size();
        self.run("listing a page of approvals", move |conn| {
            let what = "listing a page of approvals";
            // Every filter in SQL, the status as of now included, so LIMIT counts matches.
            let mut sql = String::from("SELECT data FROM approvals WHERE 1 = 1");
            let mut args: Vec<Value> = Vec::new();
            if let Some(incident_id) = filter.incident_id {
                sql.push_str(" AND incident_id = ?");
                args.push(Value::Text(incident_id.to_string()));
            }
            match filter.status {
                Some(ApprovalStatus::Pending) => {
                    sql.push_str(" AND status = 'pending' AND expires_at > ?");
                    args.push(Value::Text(sql_time(now)));
                }
                Some(ApprovalStatus::Expired) => {
                    sql.push_str(
                        " AND (status = 'expired' OR (status = 'pending' AND expires_at <= ?))",
                    );
                    args.push(Value::Text(sql_time(now)));
                }
                Some(other) => {
                    sql.push_str(" AND status = ?");
                    args.push(Value::Text(other.as_str().to_string()));
                }
                None => {}
            }
            if let Some(cursor) = filter.cursor {
                let after: Option<String> = conn
                    .query_row(
                        "SELECT requested_at FROM approvals WHERE id = ?1",
                        [cursor.to_string()],
                        |row| row.get(0),
                    )
                    .optional()
                    .ctx(what)?;
                let after = after.ok_or_else(|| Error::not_found("approval", cursor))?;
                sql.push_str(" AND (requested_at, id) > (?, ?)");
                args.push(Value::Text(after));
                args.push(Value::Text(cursor.to_string()));
            }
            sql.push_str(" ORDER BY requested_at, id LIMIT ?");
            args.push(Value::Integer(sql_int(size.saturating_add(1))?));
            let approvals: Vec<Approval> = collect_json(conn, &sql, params_from_iter(args), what)?;
            let mut items: Vec<Approval> = approvals
                .into_iter()
                .map(|a| approval_as_of(a, now))
                .collect();
            Ok(ApprovalPage::from_overfull(&mut items, size))
        })
        .await
    }

    async fn expire_due(&self) -> Result<Vec<Approval>> {
        let now = self.clock.now();
        self.run("expiring approvals", move |conn| {
            let what = "expiring approvals";
            let tx = immediate(conn, what)?;
            let due: Vec<Approval> = collect_json(
                &tx,
                "SELECT data FROM approvals WHERE status = 'pending' AND expires_at <= ?1
                 ORDER BY requested_at, id",
                [sql_time(now)],
                what,
            )?;
            let mut expired = Vec::with_capacity(due.len());
            for approval in due {
                if let Some(marked) = approval.expire(now) {
                    store_approval(&tx, &marked, what)?;
                    expired.push(marked);
                }
            }
            tx.commit().ctx(what)?;
            Ok(expired)
        })
        .await
    }
}
