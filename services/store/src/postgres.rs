//! The PostgreSQL backend: production.
//!
//! Gap-free reading rests on transaction ids, see `schemas/migrations/postgres/0001_events.sql`:
//! a position is `(xid << 16) + index`, and readers stop below
//! `pg_snapshot_xmin(pg_current_snapshot()) << 16`. The trap this avoids: with a plain
//! sequence, a writer that took position 10 but commits after the writer of 11 would be
//! skipped by a reader that already moved past 11.
//!
//! The cost: a transaction that stays open anywhere in the cluster holds the readers back
//! (never skipped, only delayed), so keep transactions short and watch for idle ones.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{ConnectOptions, Row};
use uuid::Uuid;
use whistle_events::EventId;

use crate::appender::{AppendRequest, AppendResult, BatchWriter};
use crate::due::{Claim, DueRows};
use crate::lease::Lease;
use crate::projection::{
    Committed, Effect, ParkedMessage, ProjectionRow, RowChange, net_changes, prefix_end,
};
use crate::raw::{RawRecordedEvent, metadata_from_text};
use crate::{
    NewEvent, Position, RecordedEvent, StoreConfig, StoreError, batch_json, decode_rows,
    metadata_from_json, not_overtaken, redact, stream_name,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../schemas/migrations/postgres");

#[derive(Debug, Clone)]
pub(crate) struct PgBackend {
    pool: PgPool,
    // Kept to open connections outside the pool (a lease lives on a connection of its own).
    options: Arc<PgConnectOptions>,
    describe: String,
}

impl PgBackend {
    pub(crate) async fn connect(url: &str, config: &StoreConfig) -> Result<Self, StoreError> {
        let describe = format!("PostgreSQL at {}", redact(url));
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| {
                StoreError::Config(format!("DATABASE_URL {} is not valid: {e}", redact(url)))
            })?
            // Statement logging would put payloads (personal data) into the logs.
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::from_sqlx(&describe, "connect", e))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|cause| StoreError::Migration {
                store: describe.clone(),
                cause: cause.to_string(),
            })?;
        Ok(Self {
            pool,
            options: Arc::new(options),
            describe,
        })
    }

    pub(crate) fn describe(&self) -> &str {
        &self.describe
    }

    /// The pool, for the tables kept in modules of their own (`keys.rs`).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn err(&self, operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |e| StoreError::from_sqlx(&self.describe, operation, e)
    }

    /// An error once an append is on the wire: a connection that broke now leaves the
    /// append's outcome unknown (the server may have committed it), never "not written".
    fn after_send(&self, stream: String, cause: sqlx::Error) -> StoreError {
        match StoreError::from_sqlx(&self.describe, "append events", cause) {
            StoreError::Unavailable { cause, .. } => StoreError::OutcomeUnknown {
                store: self.describe.clone(),
                stream,
                cause,
            },
            other => other,
        }
    }

    /// The committed append's result could not be read: it was written, but where is not
    /// known here.
    fn unreadable_result(&self, stream: String, cause: sqlx::Error) -> StoreError {
        StoreError::OutcomeUnknown {
            store: self.describe.clone(),
            stream,
            cause: format!("its result could not be read: {cause}"),
        }
    }

    /// Appends one request on its own: the path for a batch the database refused as a
    /// whole, so each append gets its own precise answer.
    async fn append_one(&self, request: &AppendRequest) -> AppendResult {
        self.append(
            &request.stream_type,
            &request.stream_id,
            request.expected,
            &request.events,
            request.recorded_at,
        )
        .await
    }

    pub(crate) async fn append(
        &self,
        stream_type: &str,
        stream_id: &str,
        expected: u64,
        events: &[NewEvent],
        recorded_at: DateTime<Utc>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let expected_i64 = i64::try_from(expected).map_err(|_| StoreError::InvalidAppend {
            stream: stream_name(stream_type, stream_id),
            reason: format!("expected version {expected} is out of range"),
        })?;
        // Taking the connection first: a failure here means nothing was sent.
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(self.err("get a connection to append"))?;
        // One statement, so one implicit transaction: all events or none. The WHERE clause
        // refuses a stale or gapped expected version among committed events; the unique
        // constraint refuses a concurrent writer of the same version.
        let result = sqlx::query(
            "INSERT INTO events (position, event_id, stream_type, stream_id, stream_version, \
                                 event_type, event_version, payload, metadata, recorded_at) \
             SELECT (pg_current_xact_id()::text::bigint << 16) + e.ord, \
                    e.event_id, $1, $2, $3 + e.ord, e.event_type, e.event_version, \
                    e.payload, e.metadata, $5 \
             FROM ROWS FROM (json_to_recordset($4::json) AS (event_id uuid, event_type text, \
                    event_version text, payload json, metadata json)) \
                  WITH ORDINALITY AS e(event_id, event_type, event_version, payload, metadata, ord) \
             WHERE (SELECT coalesce(max(stream_version), 0) FROM events \
                    WHERE stream_type = $1 AND stream_id = $2) = $3 \
             RETURNING position, event_id, stream_version",
        )
        .bind(stream_type)
        .bind(stream_id)
        .bind(expected_i64)
        // As text: bound as `Json`, it would reach the server as `jsonb` and be parsed into
        // it first. `json_to_recordset` takes the array apart in one pass, and each payload
        // and metadata document is stored as its slice of the text, not rebuilt. (It would
        // read a JSON `null` payload as SQL NULL: `EventStore::append` refuses those first.)
        .bind(batch_json(events).to_string())
        .bind(recorded_at)
        .fetch_all(&mut *connection)
        .await;
        drop(connection);
        let rows = match result {
            Ok(rows) => rows,
            Err(sqlx::Error::Database(db))
                if db.is_unique_violation()
                    && db.constraint() == Some("events_stream_version_unique") =>
            {
                return Err(self.conflict(stream_type, stream_id, expected).await);
            }
            Err(e) => return Err(self.after_send(stream_name(stream_type, stream_id), e)),
        };
        if rows.is_empty() {
            return Err(self.conflict(stream_type, stream_id, expected).await);
        }
        let mut recorded = Vec::with_capacity(rows.len());
        for (row, event) in rows.iter().zip(events) {
            let unreadable = |e| self.unreadable_result(stream_name(stream_type, stream_id), e);
            let position: i64 = row.try_get("position").map_err(unreadable)?;
            let version: i64 = row.try_get("stream_version").map_err(unreadable)?;
            recorded.push(event.recorded(
                stream_type,
                stream_id,
                u64::try_from(version).unwrap_or_default(),
                Position::new(u64::try_from(position).unwrap_or_default()),
                recorded_at,
            ));
        }
        // RETURNING does not promise order; the positions do.
        recorded.sort_by_key(|e| e.position);
        Ok(recorded)
    }

    async fn conflict(&self, stream_type: &str, stream_id: &str, expected: u64) -> StoreError {
        match self.stream_version(stream_type, stream_id).await {
            Ok(actual) => StoreError::WrongExpectedVersion {
                stream: stream_name(stream_type, stream_id),
                expected,
                actual,
            },
            Err(e) => e,
        }
    }

    pub(crate) async fn stream_version(
        &self,
        stream_type: &str,
        stream_id: &str,
    ) -> Result<u64, StoreError> {
        let version: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_type = $1 AND stream_id = $2",
        )
        .bind(stream_type)
        .bind(stream_id)
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("read a stream's version"))?;
        Ok(u64::try_from(version).unwrap_or_default())
    }

    pub(crate) async fn try_lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let connection = self
            .options
            .connect()
            .await
            .map_err(self.err("open a connection for a lease"))?;
        Lease::try_postgres(name, connection, &self.describe).await
    }

    pub(crate) async fn checkpoint(&self, name: &str) -> Result<Position, StoreError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM checkpoints WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(self.err("read a checkpoint"))?;
        Ok(Position::new(
            position.map_or(0, |p| u64::try_from(p).unwrap_or_default()),
        ))
    }

    pub(crate) async fn save_checkpoint(
        &self,
        name: &str,
        position: Position,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO checkpoints (name, position, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(i64::try_from(position.get()).unwrap_or(i64::MAX))
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(self.err("save a checkpoint"))?;
        Ok(())
    }

    pub(crate) async fn identity(&self) -> Result<String, StoreError> {
        let id: Uuid = sqlx::query_scalar("SELECT id FROM store_identity")
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("read the store's identity"))?;
        Ok(id.simple().to_string())
    }

    pub(crate) async fn head(&self) -> Result<Position, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("read the head of the log"))?;
        Ok(Position::new(u64::try_from(head).unwrap_or_default()))
    }

    pub(crate) async fn read_stream(
        &self,
        stream_type: &str,
        stream_id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT position, event_id, stream_type, stream_id, stream_version, event_type, \
                    event_version, payload, metadata, recorded_at \
             FROM events WHERE stream_type = $1 AND stream_id = $2 AND stream_version > $3 \
             ORDER BY stream_version",
        )
        .bind(stream_type)
        .bind(stream_id)
        .bind(i64::try_from(after_version).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read a stream"))?;
        decode_rows(&rows, |r| self.decode(r))
    }

    pub(crate) async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT position, event_id, stream_type, stream_id, stream_version, event_type, \
                    event_version, payload, metadata, recorded_at \
             FROM events \
             WHERE position > $1 \
               AND position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 16) \
             ORDER BY position LIMIT $2",
        )
        .bind(i64::try_from(after.get()).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read the global log"))?;
        decode_rows(&rows, |r| self.decode(r))
    }

    /// [`PgBackend::read_all`] with payloads and metadata as their stored text: no JSON value is
    /// built for a payload.
    pub(crate) async fn read_all_raw(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RawRecordedEvent>, StoreError> {
        // The same rows as `read_all`'s query: the events below the bound are a prefix of the
        // events in position order, so limiting first and then cutting at the bound keeps
        // exactly that prefix. Limiting first keeps the plan an index scan: with the bound in
        // the scan's condition, a table without statistics yet (a freshly loaded log) gets a
        // plan that sorts every event after `$1` on each read.
        let rows = sqlx::query(
            "SELECT position, event_id, stream_type, stream_id, stream_version, event_type, \
                    event_version, payload::text AS payload, metadata::text AS metadata, \
                    recorded_at \
             FROM (SELECT * FROM events WHERE position > $1 ORDER BY position LIMIT $2) AS e \
             WHERE position < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 16) \
             ORDER BY position",
        )
        .bind(i64::try_from(after.get()).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read the global log"))?;
        decode_rows(&rows, |r| self.decode_raw(r))
    }

    /// A row of [`PgBackend::read_all_raw`]'s query, its columns read by place (in the order
    /// the query selects them).
    fn decode_raw(&self, row: &PgRow) -> Result<RawRecordedEvent, StoreError> {
        let err = |e| StoreError::from_sqlx(&self.describe, "decode a stored event row", e);
        let position: i64 = row.try_get(0).map_err(err)?;
        let event_id: Uuid = row.try_get(1).map_err(err)?;
        let stream_type: String = row.try_get(2).map_err(err)?;
        let stream_id: String = row.try_get(3).map_err(err)?;
        let version: i64 = row.try_get(4).map_err(err)?;
        let event_type: String = row.try_get(5).map_err(err)?;
        let event_version: String = row.try_get(6).map_err(err)?;
        let payload: &str = row.try_get(7).map_err(err)?;
        let metadata: &str = row.try_get(8).map_err(err)?;
        let recorded_at = row.try_get(9).map_err(err)?;
        // `json` holds only valid JSON; a failure here means a broken database, named as such.
        let corrupt = |what: &str, detail: String| StoreError::MalformedEvent {
            stream: stream_name(&stream_type, &stream_id),
            position: u64::try_from(position).unwrap_or_default(),
            event_type: event_type.clone(),
            event_version: event_version.clone(),
            reason: format!("stored {what} is not JSON: {detail}"),
        };
        let payload = serde_json::from_str::<Box<RawValue>>(payload)
            .map_err(|e| corrupt("payload", e.to_string()))?;
        let metadata =
            metadata_from_text(metadata).map_err(|e| corrupt("metadata", e.to_string()))?;
        Ok(RawRecordedEvent {
            position: Position::new(u64::try_from(position).unwrap_or_default()),
            event_id: EventId::from_uuid(event_id),
            stream_version: u64::try_from(version).unwrap_or_default(),
            payload,
            metadata,
            recorded_at,
            stream_type,
            stream_id,
            event_type,
            event_version,
        })
    }

    fn decode(&self, row: &PgRow) -> Result<RecordedEvent, StoreError> {
        let err = |e| StoreError::from_sqlx(&self.describe, "decode a stored event row", e);
        let position: i64 = row.try_get("position").map_err(err)?;
        let event_id: Uuid = row.try_get("event_id").map_err(err)?;
        let version: i64 = row.try_get("stream_version").map_err(err)?;
        let Json(payload): Json<serde_json::Value> = row.try_get("payload").map_err(err)?;
        let Json(metadata): Json<serde_json::Value> = row.try_get("metadata").map_err(err)?;
        Ok(RecordedEvent {
            position: Position::new(u64::try_from(position).unwrap_or_default()),
            event_id: EventId::from_uuid(event_id),
            stream_type: row.try_get("stream_type").map_err(err)?,
            stream_id: row.try_get("stream_id").map_err(err)?,
            stream_version: u64::try_from(version).unwrap_or_default(),
            event_type: row.try_get("event_type").map_err(err)?,
            event_version: row.try_get("event_version").map_err(err)?,
            payload,
            metadata: metadata_from_json(metadata),
            recorded_at: row.try_get("recorded_at").map_err(err)?,
        })
    }
}

impl BatchWriter for PgBackend {
    fn describe(&self) -> &str {
        &self.describe
    }

    /// One statement for the whole batch. Each row carries its append's expected version,
    /// checked against the same snapshot for every row of that append, so an append is
    /// written whole or not at all; a concurrent writer of the same version makes the
    /// statement fail, and then each append is retried on its own.
    async fn write_batch(&self, batch: &[AppendRequest]) -> Vec<AppendResult> {
        if batch.len() == 1 {
            return vec![self.append_one(&batch[0]).await];
        }
        let mut rows = Vec::new();
        for request in batch {
            for (offset, event) in request.events.iter().enumerate() {
                rows.push(serde_json::json!({
                    "event_id": event.event_id.to_string(),
                    "stream_type": request.stream_type,
                    "stream_id": request.stream_id,
                    "stream_version": request.expected + offset as u64 + 1,
                    "expected": request.expected,
                    "event_type": event.event_type,
                    "event_version": event.event_version,
                    "payload": event.payload,
                    "metadata": event.metadata,
                    "recorded_at": request.recorded_at,
                }));
            }
        }
        if rows.len() > crate::MAX_EVENTS_PER_APPEND {
            let mut results = Vec::with_capacity(batch.len());
            for request in batch {
                results.push(self.append_one(request).await);
            }
            return results;
        }
        // Taking the connection first: a failure here means nothing was sent.
        let mut connection = match self.pool.acquire().await {
            Ok(connection) => connection,
            Err(cause) => {
                let error = self.err("get a connection to append")(cause);
                return batch.iter().map(|_| Err(error.clone())).collect();
            }
        };
        let outcome = sqlx::query(
            "INSERT INTO events (position, event_id, stream_type, stream_id, stream_version, \
                                 event_type, event_version, payload, metadata, recorded_at) \
             SELECT (pg_current_xact_id()::text::bigint << 16) + e.ord, \
                    e.event_id, e.stream_type, e.stream_id, e.stream_version, \
                    e.event_type, e.event_version, e.payload, e.metadata, e.recorded_at \
             FROM ROWS FROM (json_to_recordset($1::json) AS (event_id uuid, stream_type text, \
                    stream_id text, stream_version bigint, expected bigint, event_type text, \
                    event_version text, payload json, metadata json, recorded_at timestamptz)) \
                  WITH ORDINALITY AS e(event_id, stream_type, stream_id, stream_version, expected, \
                                       event_type, event_version, payload, metadata, recorded_at, ord) \
             WHERE (SELECT coalesce(max(x.stream_version), 0) FROM events x \
                    WHERE x.stream_type = e.stream_type AND x.stream_id = e.stream_id) = e.expected \
             RETURNING position, event_id",
        )
        // As text, for the same reason as in `append`.
        .bind(serde_json::Value::Array(rows).to_string())
        .fetch_all(&mut *connection)
        .await;
        drop(connection);
        let written = match outcome {
            Ok(written) => written,
            Err(cause) => {
                let error = self.after_send(String::new(), cause);
                if let StoreError::OutcomeUnknown { store, cause, .. } = error {
                    return batch
                        .iter()
                        .map(|r| {
                            Err(StoreError::OutcomeUnknown {
                                store: store.clone(),
                                stream: r.stream(),
                                cause: cause.clone(),
                            })
                        })
                        .collect();
                }
                // The statement failed as a whole (a concurrent writer of the same version,
                // a reused event id): nothing of it was written; each append alone gets its
                // own exact answer.
                let mut results = Vec::with_capacity(batch.len());
                for request in batch {
                    results.push(self.append_one(request).await);
                }
                return results;
            }
        };
        let mut positions = std::collections::HashMap::with_capacity(written.len());
        for row in &written {
            let (Ok(position), Ok(event_id)) = (
                row.try_get::<i64, _>("position"),
                row.try_get::<Uuid, _>("event_id"),
            ) else {
                // Committed, but which append got which position is not known: say so
                // rather than report a conflict for an append that was written.
                return batch
                    .iter()
                    .map(|r| {
                        Err(StoreError::OutcomeUnknown {
                            store: self.describe.clone(),
                            stream: r.stream(),
                            cause: "the database's answer could not be read".to_owned(),
                        })
                    })
                    .collect();
            };
            positions.insert(
                event_id,
                Position::new(u64::try_from(position).unwrap_or_default()),
            );
        }
        let mut results = Vec::with_capacity(batch.len());
        for request in batch {
            let recorded: Vec<RecordedEvent> = request
                .events
                .iter()
                .enumerate()
                .filter_map(|(offset, event)| {
                    positions.get(&event.event_id.as_uuid()).map(|position| {
                        event.recorded(
                            &request.stream_type,
                            &request.stream_id,
                            request.expected + offset as u64 + 1,
                            *position,
                            request.recorded_at,
                        )
                    })
                })
                .collect();
            results.push(if recorded.len() == request.events.len() {
                Ok(recorded)
            } else {
                // Its version check failed for every row (one snapshot, one answer).
                Err(self
                    .conflict(&request.stream_type, &request.stream_id, request.expected)
                    .await)
            });
        }
        results
    }
}

/// Starts a transaction on `pool`, in a task of its own.
///
/// sqlx 0.9 cannot roll back a PostgreSQL transaction whose `BEGIN` is cancelled in flight
/// (an aborted task, a dropped request): the connection goes back to the pool still inside
/// it, every later statement on that connection runs in that transaction and never
/// commits, and its open transaction id holds back the log's read bound for every reader.
/// Begun in a task, the `BEGIN` completes even when the caller is gone, and the
/// transaction is then dropped whole, which rolls it back.
async fn begin(pool: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin().await })
        .await
        .map_err(|e| {
            sqlx::Error::Protocol(format!("the task beginning a transaction stopped: {e}"))
        })?
}

/// Sets the checkpoint row [`PgBackend::locked_checkpoint`] locked in `tx`.
async fn move_checkpoint(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    consumer: &str,
    position: Position,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE checkpoints SET position = $2, updated_at = $3 WHERE name = $1")
        .bind(consumer)
        .bind(i64::try_from(position.get()).unwrap_or(i64::MAX))
        .bind(at)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Appends `field` to a COPY text-format row: backslash, tab, newline and carriage return
/// escaped.
fn copy_field(buffer: &mut String, field: &str) {
    for c in field.chars() {
        match c {
            '\\' => buffer.push_str("\\\\"),
            '\t' => buffer.push_str("\\t"),
            '\n' => buffer.push_str("\\n"),
            '\r' => buffer.push_str("\\r"),
            c => buffer.push(c),
        }
    }
}

/// The advisory lock class of claimed due rows (the first key of the two-key form), apart
/// from the leases' class.
const DUE_CLASS: i32 = 0x5748_4455; // "WHDU"

/// Rows one multi-row statement writes at most (its arrays stay well inside a message).
const ROWS_PER_STATEMENT: usize = 5_000;

/// Sets `rows` (each (table, key) once) in one statement.
async fn put_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    rows: &[&RowChange],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tables = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    let mut values = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(value) = &row.value {
            tables.push(row.table.as_str());
            keys.push(row.key.as_str());
            values.push(value);
        }
    }
    sqlx::query(
        "INSERT INTO projection_rows (projection, key, value, updated_at) \
         SELECT r.projection, r.key, r.value, $4 \
         FROM UNNEST($1::text[], $2::text[], $3::jsonb[]) AS r (projection, key, value) \
         ON CONFLICT (projection, key) \
         DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(tables)
    .bind(keys)
    .bind(values)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// consumer, position, event id, reason, attempts, message, parked at
type ParkedRow = (String, i64, String, String, i32, Value, DateTime<Utc>);

impl PgBackend {
    /// A transaction holding `consumer`'s checkpoint row locked (created at 0 when missing),
    /// and the position it holds: the row lock serializes everything that moves one
    /// consumer's checkpoint.
    async fn locked_checkpoint(
        &self,
        consumer: &str,
        at: DateTime<Utc>,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Postgres>, i64), sqlx::Error> {
        let mut tx = begin(&self.pool).await?;
        sqlx::query(
            "INSERT INTO checkpoints (name, position, updated_at) VALUES ($1, 0, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(consumer)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let position: i64 =
            sqlx::query_scalar("SELECT position FROM checkpoints WHERE name = $1 FOR UPDATE")
                .bind(consumer)
                .fetch_one(&mut *tx)
                .await?;
        Ok((tx, position))
    }

    pub(crate) async fn commit_projection(
        &self,
        consumer: &str,
        position: Position,
        effect: &Effect,
        at: DateTime<Utc>,
    ) -> Result<Committed, StoreError> {
        let op = "commit a consumer's effect";
        let (mut tx, current) = self
            .locked_checkpoint(consumer, at)
            .await
            .map_err(self.err(op))?;
        let position_i64 = i64::try_from(position.get()).unwrap_or(i64::MAX);
        if current >= position_i64 {
            return Ok(Committed::AlreadyApplied);
        }
        match effect {
            Effect::Apply(changes) => {
                // One statement for the rows set and one for the rows deleted, whatever
                // the batch's size: a consumer catching up commits hundreds of events'
                // changes at once, and a statement per change would be a round trip each.
                let (puts, deletes) = net_changes(changes);
                for chunk in puts.chunks(ROWS_PER_STATEMENT) {
                    put_rows(&mut tx, chunk, at).await.map_err(self.err(op))?;
                }
                for chunk in deletes.chunks(ROWS_PER_STATEMENT) {
                    let (tables, keys): (Vec<&str>, Vec<&str>) = chunk
                        .iter()
                        .map(|c| (c.table.as_str(), c.key.as_str()))
                        .unzip();
                    sqlx::query(
                        "DELETE FROM projection_rows AS p \
                         USING UNNEST($1::text[], $2::text[]) AS d (projection, key) \
                         WHERE p.projection = d.projection AND p.key = d.key",
                    )
                    .bind(tables)
                    .bind(keys)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.err(op))?;
                }
            }
            Effect::Park {
                event_id,
                reason,
                attempts,
                message,
            } => {
                sqlx::query(
                    "INSERT INTO parked_messages \
                     (consumer, position, event_id, reason, attempts, message, parked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(consumer)
                .bind(position_i64)
                .bind(event_id)
                .bind(reason)
                .bind(i32::try_from(*attempts).unwrap_or(i32::MAX))
                .bind(message)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(self.err(op))?;
            }
        }
        move_checkpoint(&mut tx, consumer, position, at)
            .await
            .map_err(self.err(op))?;
        tx.commit().await.map_err(self.err(op))?;
        Ok(Committed::Applied)
    }

    /// Replaces every row of `tables` with `rows` and sets `consumer`'s checkpoint to
    /// `position`, in one transaction.
    pub(crate) async fn replace_rows(
        &self,
        consumer: &str,
        tables: &[&str],
        rows: &[RowChange],
        position: Position,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let op = "replace a read model";
        let (mut tx, checkpoint) = self
            .locked_checkpoint(consumer, at)
            .await
            .map_err(self.err(op))?;
        not_overtaken(consumer, u64::try_from(checkpoint).unwrap_or(0), position)?;
        sqlx::query("DELETE FROM projection_rows WHERE projection = ANY($1)")
            .bind(tables)
            .execute(&mut *tx)
            .await
            .map_err(self.err(op))?;
        // The tables are empty now: the rows go in by COPY, the fastest way in.
        let (puts, _) = net_changes(rows);
        let mut copy = tx
            .copy_in_raw(
                "COPY projection_rows (projection, key, value, updated_at) FROM STDIN (FORMAT text)",
            )
            .await
            .map_err(self.err(op))?;
        let updated_at = at.to_rfc3339();
        let mut buffer = String::with_capacity(1 << 20);
        for row in puts {
            let Some(value) = &row.value else { continue };
            for field in [row.table.as_str(), row.key.as_str(), &value.to_string()] {
                copy_field(&mut buffer, field);
                buffer.push('\t');
            }
            buffer.push_str(&updated_at);
            buffer.push('\n');
            if buffer.len() >= 1 << 20 {
                copy.send(std::mem::take(&mut buffer).into_bytes())
                    .await
                    .map_err(self.err(op))?;
            }
        }
        if !buffer.is_empty() {
            copy.send(buffer.into_bytes()).await.map_err(self.err(op))?;
        }
        copy.finish().await.map_err(self.err(op))?;
        move_checkpoint(&mut tx, consumer, position, at)
            .await
            .map_err(self.err(op))?;
        // The planner's statistics of a table just refilled from nothing would say it is
        // empty until autovacuum comes by, and plan every read of it as a full scan.
        sqlx::query("ANALYZE projection_rows")
            .execute(&mut *tx)
            .await
            .map_err(self.err(op))?;
        tx.commit().await.map_err(self.err(op))
    }

    pub(crate) async fn projection_rows(
        &self,
        table: &str,
        prefix: &str,
    ) -> Result<Vec<ProjectionRow>, StoreError> {
        let rows: Vec<(String, Value, DateTime<Utc>)> = sqlx::query_as(
            "SELECT key, value, updated_at FROM projection_rows \
             WHERE projection = $1 AND key >= $2 AND key < $3 ORDER BY key",
        )
        .bind(table)
        .bind(prefix)
        .bind(prefix_end(prefix))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read a read model"))?;
        Ok(rows
            .into_iter()
            .map(|(key, value, updated_at)| ProjectionRow {
                key,
                value,
                updated_at,
            })
            .collect())
    }

    pub(crate) async fn claim_due(
        &self,
        table: &str,
        upto: &str,
        limit: i64,
    ) -> Result<DueRows, StoreError> {
        let op = "claim due rows";
        let mut tx = begin(&self.pool).await.map_err(self.err(op))?;
        // Claimed with transaction-level advisory locks, not row locks: `FOR UPDATE` would
        // give the claim a transaction id, which holds back the log's read bound (and so
        // every consumer) until the claimed rows are fired, and would make the projection
        // wait to delete a claimed row. Index order and the limit stop the scan, so only
        // the rows returned are tried.
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT key FROM projection_rows \
             WHERE projection = $1 AND key <= $2 \
               AND pg_try_advisory_xact_lock($4, hashtext(key)) \
             ORDER BY key LIMIT $3",
        )
        .bind(table)
        .bind(upto)
        .bind(limit)
        .bind(DUE_CLASS)
        .fetch_all(&mut *tx)
        .await
        .map_err(self.err(op))?;
        // Read again under the locks, with a fresh snapshot: a row another worker fired and
        // deleted just before its lock was released is gone now.
        let rows: Vec<(String, Value, DateTime<Utc>)> = sqlx::query_as(
            "SELECT key, value, updated_at FROM projection_rows \
             WHERE projection = $1 AND key = ANY($2) ORDER BY key",
        )
        .bind(table)
        .bind(&keys)
        .fetch_all(&mut *tx)
        .await
        .map_err(self.err(op))?;
        let rows = rows
            .into_iter()
            .map(|(key, value, updated_at)| ProjectionRow {
                key,
                value,
                updated_at,
            })
            .collect();
        Ok(DueRows::new(
            rows,
            Claim::Postgres {
                tx,
                describe: self.describe.clone(),
            },
        ))
    }

    pub(crate) async fn parked_messages(&self) -> Result<Vec<ParkedMessage>, StoreError> {
        let rows: Vec<ParkedRow> = sqlx::query_as(
            "SELECT consumer, position, event_id, reason, attempts, message, parked_at \
             FROM parked_messages ORDER BY parked_at, consumer, position",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read parked messages"))?;
        Ok(rows
            .into_iter()
            .map(
                |(consumer, position, event_id, reason, attempts, message, parked_at)| {
                    ParkedMessage {
                        consumer,
                        position: Position::new(u64::try_from(position).unwrap_or_default()),
                        event_id,
                        reason,
                        attempts: u32::try_from(attempts).unwrap_or_default(),
                        message,
                        parked_at,
                    }
                },
            )
            .collect())
    }
}
