//! The SQLite backend: the embedded default, one file, no server.
//!
//! SQLite admits one writer at a time and hands out rowids inside the write transaction,
//! so position order is commit order and `position > last` never skips. Appends take the
//! write lock up front (`BEGIN IMMEDIATE`): a deferred transaction that reads first and
//! writes later can fail with SQLITE_BUSY_SNAPSHOT, which no busy timeout retries.

use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Acquire, ConnectOptions, Row};
use whistle_events::EventId;

use crate::appender::{AppendRequest, AppendResult, BatchWriter};
use crate::due::{Claim, DueRows};
use crate::projection::{
    Committed, Effect, ParkedMessage, ProjectionRow, RowChange, net_changes, prefix_end,
};
use crate::raw::{RawRecordedEvent, metadata_from_text};
use crate::{
    Position, RecordedEvent, StoreConfig, StoreError, batch_json, decode_rows, metadata_from_json,
    not_overtaken, stream_name,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../schemas/migrations/sqlite");

#[derive(Debug, Clone)]
pub(crate) struct SqliteBackend {
    pool: SqlitePool,
    describe: String,
}

impl SqliteBackend {
    pub(crate) async fn open(path: PathBuf, config: &StoreConfig) -> Result<Self, StoreError> {
        let describe = format!("SQLite file {}", path.display());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Config(format!(
                    "cannot create the directory {} for the SQLite event store: {e}; choose another path with --sqlite or DATABASE_URL=sqlite://FILE",
                    dir.display()
                ))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged command survives power loss, as on PostgreSQL.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(config.acquire_timeout)
            .foreign_keys(true)
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections.clamp(1, 8))
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::from_sqlx(&describe, "open", e))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|cause| StoreError::Migration {
                store: describe.clone(),
                cause: cause.to_string(),
            })?;
        Ok(Self { pool, describe })
    }

    pub(crate) fn describe(&self) -> &str {
        &self.describe
    }

    /// The pool, for the tables kept in modules of their own (`keys.rs`).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn err(&self, operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |e| StoreError::from_sqlx(&self.describe, operation, e)
    }

    /// One append inside the batch's transaction, behind a savepoint so that a failure
    /// undoes this append only.
    async fn append_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        request: &AppendRequest,
    ) -> AppendResult {
        let stream = || stream_name(&request.stream_type, &request.stream_id);
        let expected = i64::try_from(request.expected).map_err(|_| StoreError::InvalidAppend {
            stream: stream(),
            reason: format!("expected version {} is out of range", request.expected),
        })?;
        let mut savepoint = tx.begin().await.map_err(self.err("start an append"))?;
        let actual: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_type = ?1 AND stream_id = ?2",
        )
        .bind(&request.stream_type)
        .bind(&request.stream_id)
        .fetch_one(&mut *savepoint)
        .await
        .map_err(self.err("read a stream's version"))?;
        if actual != expected {
            // Dropping the savepoint rolls it back.
            return Err(StoreError::WrongExpectedVersion {
                stream: stream(),
                expected: request.expected,
                actual: u64::try_from(actual).unwrap_or_default(),
            });
        }
        let rows = sqlx::query(
            "INSERT INTO events (event_id, stream_type, stream_id, stream_version, event_type, \
                                 event_version, payload, metadata, recorded_at) \
             SELECT json_extract(value, '$.event_id'), ?1, ?2, ?3 + key + 1, \
                    json_extract(value, '$.event_type'), json_extract(value, '$.event_version'), \
                    json(json_extract(value, '$.payload')), json(json_extract(value, '$.metadata')), ?5 \
             FROM json_each(?4) ORDER BY key \
             RETURNING position, stream_version",
        )
        .bind(&request.stream_type)
        .bind(&request.stream_id)
        .bind(expected)
        .bind(batch_json(&request.events).to_string())
        .bind(format_instant(request.recorded_at))
        .fetch_all(&mut *savepoint)
        .await
        .map_err(self.err("append events"))?;
        savepoint
            .commit()
            .await
            .map_err(self.err("release an append's savepoint"))?;
        let mut numbered = Vec::with_capacity(rows.len());
        for row in &rows {
            let position: i64 = row
                .try_get("position")
                .map_err(self.err("read append result"))?;
            let version: i64 = row
                .try_get("stream_version")
                .map_err(self.err("read append result"))?;
            numbered.push((version, position));
        }
        numbered.sort_unstable();
        Ok(numbered
            .into_iter()
            .zip(&request.events)
            .map(|((version, position), event)| {
                event.recorded(
                    &request.stream_type,
                    &request.stream_id,
                    u64::try_from(version).unwrap_or_default(),
                    Position::new(u64::try_from(position).unwrap_or_default()),
                    request.recorded_at,
                )
            })
            .collect())
    }

    pub(crate) async fn stream_version(
        &self,
        stream_type: &str,
        stream_id: &str,
    ) -> Result<u64, StoreError> {
        let version: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_type = ?1 AND stream_id = ?2",
        )
        .bind(stream_type)
        .bind(stream_id)
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("read a stream's version"))?;
        Ok(u64::try_from(version).unwrap_or_default())
    }

    pub(crate) async fn checkpoint(&self, name: &str) -> Result<Position, StoreError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM checkpoints WHERE name = ?1")
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
        set_checkpoint(name, position, format_instant(at))
            .execute(&self.pool)
            .await
            .map_err(self.err("save a checkpoint"))?;
        Ok(())
    }

    pub(crate) async fn identity(&self) -> Result<String, StoreError> {
        sqlx::query_scalar("SELECT id FROM store_identity")
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("read the store's identity"))
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
             FROM events WHERE stream_type = ?1 AND stream_id = ?2 AND stream_version > ?3 \
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
             FROM events WHERE position > ?1 ORDER BY position LIMIT ?2",
        )
        .bind(i64::try_from(after.get()).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read the global log"))?;
        decode_rows(&rows, |r| self.decode(r))
    }

    /// [`SqliteBackend::read_all`] with payloads left as the stored text (checked to be
    /// JSON, as [`SqliteBackend::read_all`] checks it).
    pub(crate) async fn read_all_raw(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RawRecordedEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT position, event_id, stream_type, stream_id, stream_version, event_type, \
                    event_version, payload, metadata, recorded_at \
             FROM events WHERE position > ?1 ORDER BY position LIMIT ?2",
        )
        .bind(i64::try_from(after.get()).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read the global log"))?;
        decode_rows(&rows, |r| self.decode_raw(r))
    }

    fn decode_raw(&self, row: &SqliteRow) -> Result<RawRecordedEvent, StoreError> {
        let err = |e| StoreError::from_sqlx(&self.describe, "decode a stored event row", e);
        let position: i64 = row.try_get("position").map_err(err)?;
        let stream_type: String = row.try_get("stream_type").map_err(err)?;
        let stream_id: String = row.try_get("stream_id").map_err(err)?;
        let event_type: String = row.try_get("event_type").map_err(err)?;
        let event_version: String = row.try_get("event_version").map_err(err)?;
        let corrupt = |what: &str, detail: String| StoreError::MalformedEvent {
            stream: stream_name(&stream_type, &stream_id),
            position: u64::try_from(position).unwrap_or_default(),
            event_type: event_type.clone(),
            event_version: event_version.clone(),
            reason: format!("stored {what} is corrupt: {detail}"),
        };
        let event_id: String = row.try_get("event_id").map_err(err)?;
        let event_id = EventId::parse(&event_id).map_err(|e| corrupt("event id", e.to_string()))?;
        let payload: String = row.try_get("payload").map_err(err)?;
        let payload =
            RawValue::from_string(payload).map_err(|e| corrupt("payload", e.to_string()))?;
        let metadata: String = row.try_get("metadata").map_err(err)?;
        let metadata =
            metadata_from_text(&metadata).map_err(|e| corrupt("metadata", e.to_string()))?;
        let recorded_at: String = row.try_get("recorded_at").map_err(err)?;
        let recorded_at = DateTime::parse_from_rfc3339(&recorded_at)
            .map_err(|e| corrupt("recorded_at", e.to_string()))?
            .with_timezone(&Utc);
        let version: i64 = row.try_get("stream_version").map_err(err)?;
        Ok(RawRecordedEvent {
            position: Position::new(u64::try_from(position).unwrap_or_default()),
            event_id,
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

    fn decode(&self, row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
        let err = |e| StoreError::from_sqlx(&self.describe, "decode a stored event row", e);
        let position: i64 = row.try_get("position").map_err(err)?;
        let stream_type: String = row.try_get("stream_type").map_err(err)?;
        let stream_id: String = row.try_get("stream_id").map_err(err)?;
        let event_type: String = row.try_get("event_type").map_err(err)?;
        let event_version: String = row.try_get("event_version").map_err(err)?;
        let corrupt = |what: &str, detail: String| StoreError::MalformedEvent {
            stream: stream_name(&stream_type, &stream_id),
            position: u64::try_from(position).unwrap_or_default(),
            event_type: event_type.clone(),
            event_version: event_version.clone(),
            reason: format!("stored {what} is corrupt: {detail}"),
        };
        let event_id: String = row.try_get("event_id").map_err(err)?;
        let event_id = EventId::parse(&event_id).map_err(|e| corrupt("event id", e.to_string()))?;
        let payload: String = row.try_get("payload").map_err(err)?;
        let payload =
            serde_json::from_str(&payload).map_err(|e| corrupt("payload", e.to_string()))?;
        let metadata: String = row.try_get("metadata").map_err(err)?;
        let metadata =
            serde_json::from_str(&metadata).map_err(|e| corrupt("metadata", e.to_string()))?;
        let recorded_at: String = row.try_get("recorded_at").map_err(err)?;
        let recorded_at = DateTime::parse_from_rfc3339(&recorded_at)
            .map_err(|e| corrupt("recorded_at", e.to_string()))?
            .with_timezone(&Utc);
        let version: i64 = row.try_get("stream_version").map_err(err)?;
        Ok(RecordedEvent {
            position: Position::new(u64::try_from(position).unwrap_or_default()),
            event_id,
            stream_version: u64::try_from(version).unwrap_or_default(),
            payload,
            metadata: metadata_from_json(metadata),
            recorded_at,
            stream_type,
            stream_id,
            event_type,
            event_version,
        })
    }
}

pub(crate) fn format_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl BatchWriter for SqliteBackend {
    fn describe(&self) -> &str {
        &self.describe
    }

    /// One write transaction for the whole batch, a savepoint per append: each append is
    /// checked and written whole or not at all, and one commit makes them all durable.
    async fn write_batch(&self, batch: &[AppendRequest]) -> Vec<AppendResult> {
        let mut tx = match self.pool.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => tx,
            Err(cause) => {
                let error = StoreError::from_sqlx(&self.describe, "start an append", cause);
                return batch.iter().map(|_| Err(error.clone())).collect();
            }
        };
        let mut results = Vec::with_capacity(batch.len());
        for request in batch {
            results.push(self.append_in(&mut tx, request).await);
        }
        if let Err(cause) = tx.commit().await {
            // Nothing of the batch is written: every append hears why.
            let error = StoreError::from_sqlx(&self.describe, "commit appends", cause);
            return batch.iter().map(|_| Err(error.clone())).collect();
        }
        results
    }
}

/// consumer, position, event id, reason, attempts, message, parked at
type ParkedRow = (String, i64, String, String, i64, String, String);

impl SqliteBackend {
    /// A write transaction and `consumer`'s checkpoint, if it has one. IMMEDIATE: the write
    /// lock is taken before the checkpoint is read (see the module docs).
    async fn locked_checkpoint(
        &self,
        consumer: &str,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Sqlite>, Option<i64>), sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let position = sqlx::query_scalar("SELECT position FROM checkpoints WHERE name = ?1")
            .bind(consumer)
            .fetch_optional(&mut *tx)
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
        let at = format_instant(at);
        let (mut tx, current) = self
            .locked_checkpoint(consumer)
            .await
            .map_err(self.err(op))?;
        let position_i64 = i64::try_from(position.get()).unwrap_or(i64::MAX);
        if current.is_some_and(|current| current >= position_i64) {
            return Ok(Committed::AlreadyApplied);
        }
        match effect {
            Effect::Apply(changes) => {
                let (puts, deletes) = net_changes(changes);
                for change in puts.into_iter().chain(deletes) {
                    match &change.value {
                        Some(value) => put_row(&change.table, &change.key, value, &at),
                        None => sqlx::query(
                            "DELETE FROM projection_rows WHERE projection = ?1 AND key = ?2",
                        )
                        .bind(&change.table)
                        .bind(&change.key),
                    }
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
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .bind(consumer)
                .bind(position_i64)
                .bind(event_id)
                .bind(reason)
                .bind(i64::from(*attempts))
                .bind(message.to_string())
                .bind(&at)
                .execute(&mut *tx)
                .await
                .map_err(self.err(op))?;
            }
        }
        set_checkpoint(consumer, position, at)
            .execute(&mut *tx)
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
        let at = format_instant(at);
        let (mut tx, checkpoint) = self
            .locked_checkpoint(consumer)
            .await
            .map_err(self.err(op))?;
        let checkpoint = checkpoint.and_then(|c| u64::try_from(c).ok()).unwrap_or(0);
        not_overtaken(consumer, checkpoint, position)?;
        for table in tables {
            sqlx::query("DELETE FROM projection_rows WHERE projection = ?1")
                .bind(table)
                .execute(&mut *tx)
                .await
                .map_err(self.err(op))?;
        }
        let (puts, _) = net_changes(rows);
        for change in puts {
            if let Some(value) = &change.value {
                put_row(&change.table, &change.key, value, &at)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.err(op))?;
            }
        }
        set_checkpoint(consumer, position, at)
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
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT key, value, updated_at FROM projection_rows \
             WHERE projection = ?1 AND key >= ?2 AND key < ?3 ORDER BY key",
        )
        .bind(table)
        .bind(prefix)
        .bind(prefix_end(prefix))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read a read model"))?;
        rows.into_iter()
            .map(|(key, value, updated_at)| {
                Ok(ProjectionRow {
                    value: self.json(&value, table, &key)?,
                    updated_at: self.instant(&updated_at, table, &key)?,
                    key,
                })
            })
            .collect()
    }

    pub(crate) async fn claim_due(
        &self,
        table: &str,
        upto: &str,
        limit: i64,
    ) -> Result<DueRows, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT key, value, updated_at FROM projection_rows \
             WHERE projection = ?1 AND key <= ?2 ORDER BY key LIMIT ?3",
        )
        .bind(table)
        .bind(upto)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read due rows"))?;
        let rows = rows
            .into_iter()
            .map(|(key, value, updated_at)| {
                Ok(ProjectionRow {
                    value: self.json(&value, table, &key)?,
                    updated_at: self.instant(&updated_at, table, &key)?,
                    key,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(DueRows::new(
            rows,
            Claim::Sqlite {
                pool: self.pool.clone(),
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
        rows.into_iter()
            .map(
                |(consumer, position, event_id, reason, attempts, message, parked_at)| {
                    let what = format!("{consumer} at {position}");
                    Ok(ParkedMessage {
                        position: Position::new(u64::try_from(position).unwrap_or_default()),
                        event_id,
                        reason,
                        attempts: u32::try_from(attempts).unwrap_or_default(),
                        message: self.json(&message, "parked_messages", &what)?,
                        parked_at: self.instant(&parked_at, "parked_messages", &what)?,
                        consumer,
                    })
                },
            )
            .collect()
    }

    fn json(&self, text: &str, table: &str, key: &str) -> Result<Value, StoreError> {
        serde_json::from_str(text).map_err(|e| {
            StoreError::Corrupt(format!(
                "{}: row `{key}` of `{table}` is not JSON ({e}); rebuild the read model from the log",
                self.describe
            ))
        })
    }

    fn instant(&self, text: &str, table: &str, key: &str) -> Result<DateTime<Utc>, StoreError> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                StoreError::Corrupt(format!(
                    "{}: row `{key}` of `{table}` has the time `{text}` ({e}); rebuild the read model from the log",
                    self.describe
                ))
            })
    }
}

/// The statement setting a consumer's checkpoint.
fn set_checkpoint(
    consumer: &str,
    position: Position,
    at: String,
) -> sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    sqlx::query(
        "INSERT INTO checkpoints (name, position, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
    )
    .bind(consumer)
    .bind(i64::try_from(position.get()).unwrap_or(i64::MAX))
    .bind(at)
}

/// The statement setting one read-model row.
fn put_row<'q>(
    table: &'q str,
    key: &'q str,
    value: &Value,
    at: &'q str,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    sqlx::query(
        "INSERT INTO projection_rows (projection, key, value, updated_at) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (projection, key) \
         DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(table)
    .bind(key)
    .bind(value.to_string())
    .bind(at)
}
