//! whistle's event store: an EventStoreDB-style log on PostgreSQL or SQLite.
//!
//! - **Streams**: one per aggregate instance (`Ticket-<uuid>`), versioned 1, 2, 3…, with
//!   optimistic concurrency: an append names the version it expects the stream to be at.
//! - **The global log** (`$all`): every event has a [`Position`], strictly increasing in the
//!   order readers see events. Positions are not dense on PostgreSQL (see
//!   `schemas/migrations/postgres/0001_events.sql`); never compute with them, only compare.
//! - **Catch-up subscriptions** ([`Subscription`]) from any position that never skip, repeat
//!   or reorder an event while many writers commit at once.
//! - **Raw reads** ([`EventStore::read_all_raw`], [`RawSubscription`]): the same log, with
//!   payloads left as the stored JSON text, for readers that pass them on unparsed (the
//!   relay). Codecs still check and upgrade every event.
//! - **Records** carry an event id, recorded-at time (from the injected [`Clock`]) and
//!   metadata (actor, correlation and causation ids, trace context).
//! - **cqrs-es**: [`EventStore`] implements `PersistedEventRepository` (events only: it
//!   refuses snapshots, which in cqrs-es 0.5.0 apply every event twice).
//! - **Ticket keys** ([`EventStore::put_ticket_key`], [`TicketKey`]): each ticket's wrapped
//!   data key, which seals its personal data in the log; erasing it is how that data leaves.
//!
//! Tables: `events`, `ticket_keys` (migrations under `schemas/migrations/`). Backends:
//! PostgreSQL when the database URL says `postgres://`, else a SQLite file (the embedded
//! default).

mod api_keys;
mod appender;
mod cache;
mod codec;
mod due;
mod error;
mod keys;
mod lease;
mod postgres;
mod projection;
mod raw;
mod repository;
mod sqlite;
mod subscription;
pub mod test_support;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;
use whistle_clock::Clock;
use whistle_events::{EventId, EventMetadata};

pub use api_keys::ApiKeyRecord;
pub use cache::{CacheHandle, CachedEventStore};
pub use codec::{CodecError, EventCodec};
pub use due::DueRows;
pub use error::StoreError;
pub use keys::TicketKey;
pub use lease::Lease;
pub use projection::{Committed, Effect, ParkedMessage, ProjectionRow, RowChange};
pub use raw::{RawRecordedEvent, RawSubscription};
pub use subscription::Subscription;

/// A place in the global log. [`Position::START`] is before the first event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(u64);

impl Position {
    /// Before the first event: subscribing from here reads the whole log.
    pub const START: Self = Self(0);

    /// A position read back from a checkpoint.
    pub fn new(value: u64) -> Self {
        Self(value)
    }

    /// The raw value, for storing a checkpoint.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique across the log; downstream deduplication keys on it.
    pub event_id: EventId,
    /// The event type, e.g. `WhistleBlown`.
    pub event_type: String,
    /// Three-part semver of the payload's shape.
    pub event_version: String,
    /// The payload.
    pub payload: Value,
    /// Actor, correlation and causation ids, trace context.
    pub metadata: HashMap<String, String>,
}

impl NewEvent {
    /// This event as recorded, once the store gave it its place.
    pub(crate) fn recorded(
        &self,
        stream_type: &str,
        stream_id: &str,
        stream_version: u64,
        position: Position,
        recorded_at: DateTime<Utc>,
    ) -> RecordedEvent {
        RecordedEvent {
            position,
            event_id: self.event_id,
            stream_type: stream_type.to_owned(),
            stream_id: stream_id.to_owned(),
            stream_version,
            event_type: self.event_type.clone(),
            event_version: self.event_version.clone(),
            payload: self.payload.clone(),
            metadata: self.metadata.clone(),
            recorded_at,
        }
    }
}

/// An event as recorded in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Its place in the global log.
    pub position: Position,
    /// Unique across the log.
    pub event_id: EventId,
    /// The kind of stream (`Ticket`).
    pub stream_type: String,
    /// The stream's id within its type.
    pub stream_id: String,
    /// 1 for the stream's first event.
    pub stream_version: u64,
    /// The event type.
    pub event_type: String,
    /// The payload's version (after upcasting, when read through a codec).
    pub event_version: String,
    /// The payload.
    pub payload: Value,
    /// Metadata as stored.
    pub metadata: HashMap<String, String>,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// The stream's name, `Type-id`.
    pub fn stream(&self) -> String {
        stream_name(&self.stream_type, &self.stream_id)
    }

    /// The metadata keys whistle gives meaning to.
    pub fn metadata(&self) -> EventMetadata {
        EventMetadata::from_map(&self.metadata)
    }
}

pub(crate) fn stream_name(stream_type: &str, stream_id: &str) -> String {
    format!("{stream_type}-{stream_id}")
}

/// Where the log lives and how to reach it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    /// `postgres://…` for PostgreSQL, `sqlite://FILE` for a SQLite file; unset means the
    /// SQLite file at `sqlite_path`. Secrets in it are never logged.
    pub database_url: Option<String>,
    /// The embedded default's file.
    pub sqlite_path: PathBuf,
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long a command waits for a connection before it reports the store unreachable.
    pub acquire_timeout: Duration,
    /// How often a subscription at the head of the log looks for events written by other
    /// processes (events written through this handle wake it at once).
    pub poll_interval: Duration,
    /// Writer tasks that commit batches of concurrent appends (PostgreSQL; SQLite always
    /// has one writer).
    pub append_writers: usize,
    /// How long an append may wait for the database's answer once sent; past it the append
    /// is reported with an unknown outcome (the server may still commit it).
    pub append_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            sqlite_path: PathBuf::from(".whistle/whistle.db"),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(50),
            append_writers: 4,
            append_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Postgres(postgres::PgBackend),
    Sqlite(sqlite::SqliteBackend),
}

#[derive(Debug, Clone)]
struct Inner {
    backend: Backend,
    identity: String,
    appender: appender::Appender,
    clock: Arc<dyn Clock>,
    codecs: Vec<(String, Arc<dyn EventCodec>)>,
    // Bumped after every successful append through this handle, so local subscribers
    // wake at once instead of at the next poll.
    appended: Arc<watch::Sender<u64>>,
    poll_interval: Duration,
}

/// The event store. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct EventStore {
    inner: Arc<Inner>,
}

/// The largest number of events one append may carry (positions reserve 16 bits for the
/// index within a transaction on PostgreSQL).
pub const MAX_EVENTS_PER_APPEND: usize = 65_535;

impl EventStore {
    /// Opens the store `config` names, creating the SQLite file or running migrations as
    /// needed.
    pub async fn open(config: &StoreConfig, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let backend = match config.database_url.as_deref() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Backend::Postgres(postgres::PgBackend::connect(url, config).await?)
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                Backend::Sqlite(sqlite::SqliteBackend::open(PathBuf::from(path), config).await?)
            }
            Some(other) => {
                return Err(StoreError::Config(format!(
                    "DATABASE_URL must start with postgres:// or sqlite://, not `{}`",
                    redact(other)
                )));
            }
            None => Backend::Sqlite(
                sqlite::SqliteBackend::open(config.sqlite_path.clone(), config).await?,
            ),
        };
        let identity = match &backend {
            Backend::Postgres(pg) => pg.identity().await?,
            Backend::Sqlite(lite) => lite.identity().await?,
        };
        let appender = match &backend {
            Backend::Postgres(pg) => {
                appender::Appender::start(pg.clone(), config.append_writers, config.append_timeout)
            }
            // SQLite lets one writer in at a time: more writer tasks would only wait.
            Backend::Sqlite(lite) => {
                appender::Appender::start(lite.clone(), 1, config.append_timeout)
            }
        };
        let (appended, _) = watch::channel(0);
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                identity,
                appender,
                clock,
                codecs: Vec::new(),
                appended: Arc::new(appended),
                poll_interval: config.poll_interval,
            }),
        })
    }

    /// The clock the store records times from.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    /// The same store (same connections, same log), recording times from `clock`: the
    /// demo writes a week of history through one.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        Arc::make_mut(&mut self.inner).clock = clock;
        self
    }

    /// Registers the codec that checks and upgrades the events of `stream_type`.
    pub fn with_codec(mut self, stream_type: &str, codec: Arc<dyn EventCodec>) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        inner.codecs.retain(|(t, _)| t != stream_type);
        inner.codecs.push((stream_type.to_owned(), codec));
        self
    }

    /// The store, described without secrets (for logs and errors).
    pub fn describe(&self) -> &str {
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.describe(),
            Backend::Sqlite(lite) => lite.describe(),
        }
    }

    /// This log's identity: a random id made when the store was created (32 hex digits).
    /// Copies of the log elsewhere (a JetStream stream) carry it, so two logs are never mixed.
    pub fn identity(&self) -> &str {
        &self.inner.identity
    }

    /// Appends `events` to a stream that must be at `expected_version` (0: the stream must
    /// not exist yet). All or nothing: either every event is recorded, or none is.
    pub async fn append(
        &self,
        stream_type: &str,
        stream_id: &str,
        expected_version: u64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        if events.len() > MAX_EVENTS_PER_APPEND {
            return Err(StoreError::InvalidAppend {
                stream: stream_name(stream_type, stream_id),
                reason: format!(
                    "{} events in one append, more than the {MAX_EVENTS_PER_APPEND} allowed; split it",
                    events.len()
                ),
            });
        }
        // Neither backend can keep a null payload (PostgreSQL's statement reads it as SQL
        // NULL); say which event it was rather than fail on a constraint.
        if let Some(event) = events.iter().find(|e| e.payload.is_null()) {
            return Err(StoreError::InvalidAppend {
                stream: stream_name(stream_type, stream_id),
                reason: format!(
                    "event {} ({}) has a null payload; give it a JSON value other than null",
                    event.event_id, event.event_type
                ),
            });
        }
        // Both backends keep microseconds; truncating here makes what `append` returns equal to
        // what a later read returns.
        let recorded_at = self.inner.clock.now().trunc_subsecs(6);
        let recorded = self
            .inner
            .appender
            .append(appender::AppendRequest {
                stream_type: stream_type.to_owned(),
                stream_id: stream_id.to_owned(),
                expected: expected_version,
                events,
                recorded_at,
            })
            .await?;
        self.inner.appended.send_modify(|n| *n = n.wrapping_add(1));
        Ok(recorded)
    }

    /// The events of one stream after `after_version` (0: all of them), in order.
    pub async fn read_stream(
        &self,
        stream_type: &str,
        stream_id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let raw = match &self.inner.backend {
            Backend::Postgres(pg) => {
                pg.read_stream(stream_type, stream_id, after_version)
                    .await?
            }
            Backend::Sqlite(lite) => {
                lite.read_stream(stream_type, stream_id, after_version)
                    .await?
            }
        };
        raw.into_iter().map(|e| self.upgrade(e)).collect()
    }

    /// Up to `limit` events of the global log after `after`, in log order. Only events that
    /// can no longer be preceded by a slower writer are returned, so reading on from the
    /// last position returned never skips one. An event this build cannot read ends the
    /// batch; it is an error when it is the first event after `after`.
    pub async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = limit.clamp(1, 10_000);
        let raw = match &self.inner.backend {
            Backend::Postgres(pg) => pg.read_all(after, limit).await?,
            Backend::Sqlite(lite) => lite.read_all(after, limit).await?,
        };
        // Hand out the readable events before a bad one; the error comes when the bad event
        // is first in line, so a reader stops exactly there and never skips it.
        let mut out = Vec::with_capacity(raw.len());
        for event in raw {
            match self.upgrade(event) {
                Ok(event) => out.push(event),
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// The current version of a stream (0 when it does not exist).
    pub async fn stream_version(
        &self,
        stream_type: &str,
        stream_id: &str,
    ) -> Result<u64, StoreError> {
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.stream_version(stream_type, stream_id).await,
            Backend::Sqlite(lite) => lite.stream_version(stream_type, stream_id).await,
        }
    }

    /// The position of the last committed event (START when the log is empty). On
    /// PostgreSQL it may still be above what [`EventStore::read_all`] hands out while older
    /// transactions finish; reading on reaches it.
    pub async fn head(&self) -> Result<Position, StoreError> {
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.head().await,
            Backend::Sqlite(lite) => lite.head().await,
        }
    }

    /// Takes the lease `name` if no one holds it, without waiting. Hold the returned
    /// [`Lease`] for as long as the work it guards runs; dropping it releases it.
    pub async fn try_lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.try_lease(name).await,
            Backend::Sqlite(_) => Ok(Lease::try_local(name)),
        }
    }

    /// The position the reader `name` last saved (START if it never did).
    pub async fn checkpoint(&self, name: &str) -> Result<Position, StoreError> {
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.checkpoint(name).await,
            Backend::Sqlite(lite) => lite.checkpoint(name).await,
        }
    }

    /// Saves the position the reader `name` has got to.
    pub async fn save_checkpoint(&self, name: &str, position: Position) -> Result<(), StoreError> {
        let at = self.inner.clock.now().trunc_subsecs(6);
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.save_checkpoint(name, position, at).await,
            Backend::Sqlite(lite) => lite.save_checkpoint(name, position, at).await,
        }
    }

    /// Commits what the consumer `consumer` did for the event at `position` together
    /// with its checkpoint, in one transaction. A position at or below the checkpoint
    /// writes nothing and answers [`Committed::AlreadyApplied`].
    pub async fn commit_effect(
        &self,
        consumer: &str,
        position: Position,
        effect: &Effect,
    ) -> Result<Committed, StoreError> {
        let at = self.inner.clock.now().trunc_subsecs(6);
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.commit_projection(consumer, position, effect, at).await,
            Backend::Sqlite(lite) => lite.commit_projection(consumer, position, effect, at).await,
        }
    }

    /// Replaces the read models `tables` whole, for a consumer rebuilt outside its feed:
    /// every row of them is deleted, `rows` are written, and the checkpoint of `consumer`
    /// is set to `position`, in one transaction (readers see the old read model or the new
    /// one, never a mix). The caller holds the consumer's lease, so that its running
    /// instance does not commit in between.
    pub async fn replace_rows(
        &self,
        consumer: &str,
        tables: &[&str],
        rows: &[RowChange],
        position: Position,
    ) -> Result<(), StoreError> {
        if let Some(stray) = rows
            .iter()
            .find(|row| row.value.is_none() || !tables.contains(&row.table.as_str()))
        {
            return Err(StoreError::InvalidRows(format!(
                "replacing {tables:?}: row `{}` of {} is {}",
                stray.key,
                stray.table,
                if stray.value.is_none() {
                    "a deletion (the tables are emptied first)"
                } else {
                    "in a table not being replaced"
                }
            )));
        }
        let at = self.inner.clock.now().trunc_subsecs(6);
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.replace_rows(consumer, tables, rows, position, at).await,
            Backend::Sqlite(lite) => {
                lite.replace_rows(consumer, tables, rows, position, at)
                    .await
            }
        }
    }

    /// The rows of the read model `table` whose keys start with `prefix`, in key order.
    pub async fn rows(&self, table: &str, prefix: &str) -> Result<Vec<ProjectionRow>, StoreError> {
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.projection_rows(table, prefix).await,
            Backend::Sqlite(lite) => lite.projection_rows(table, prefix).await,
        }
    }

    /// One row of the read model `table`.
    pub async fn row(&self, table: &str, key: &str) -> Result<Option<ProjectionRow>, StoreError> {
        Ok(self
            .rows(table, key)
            .await?
            .into_iter()
            .find(|row| row.key == key))
    }

    /// Claims up to `limit` rows of `table` whose keys sort at or before `upto`, earliest
    /// first, for a worker to act on (see [`DueRows`]). On PostgreSQL, rows another worker
    /// holds are skipped.
    pub async fn claim_due(
        &self,
        table: &str,
        upto: &str,
        limit: i64,
    ) -> Result<DueRows, StoreError> {
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.claim_due(table, upto, limit).await,
            Backend::Sqlite(lite) => lite.claim_due(table, upto, limit).await,
        }
    }

    /// Every parked message, oldest first.
    pub async fn parked_messages(&self) -> Result<Vec<ParkedMessage>, StoreError> {
        match &self.inner.backend {
            Backend::Postgres(pg) => pg.parked_messages().await,
            Backend::Sqlite(lite) => lite.parked_messages().await,
        }
    }

    /// A catch-up subscription to the global log, starting after `after`.
    pub fn subscribe(&self, after: Position) -> Subscription {
        Subscription::new(
            self.clone(),
            after,
            self.inner.appended.subscribe(),
            self.inner.poll_interval,
        )
    }

    /// Runs a stored event through its stream type's codec.
    fn upgrade(&self, mut event: RecordedEvent) -> Result<RecordedEvent, StoreError> {
        let Some((_, codec)) = self
            .inner
            .codecs
            .iter()
            .find(|(t, _)| *t == event.stream_type)
        else {
            return Ok(event);
        };
        match codec.upgrade(&event.event_type, &event.event_version, &event.payload) {
            Ok(None) => Ok(event),
            Ok(Some((version, payload))) => {
                event.event_version = version;
                event.payload = payload;
                Ok(event)
            }
            Err(CodecError::Unknown) => Err(StoreError::UnknownEvent {
                stream: event.stream(),
                position: event.position.get(),
                event_type: event.event_type,
                event_version: event.event_version,
            }),
            Err(CodecError::Malformed(reason)) => Err(StoreError::MalformedEvent {
                stream: event.stream(),
                position: event.position.get(),
                event_type: event.event_type,
                event_version: event.event_version,
                reason,
            }),
        }
    }
}

/// `url` with any password replaced by `***`, for logs and error messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return format!("{scheme}://{authority}/{path}");
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let masked = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    format!("{scheme}://{masked}@{host}/{path}")
}

/// Converts stored metadata (a JSON object) into the flat string map, keeping any
/// non-string value as its JSON text rather than failing the read.
pub(crate) fn metadata_from_json(value: Value) -> HashMap<String, String> {
    match value {
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        _ => HashMap::new(),
    }
}

/// Refuses to replace `consumer`'s read models with rows rebuilt up to `position` when its
/// checkpoint (read under the transaction's lock) has already moved past it.
pub(crate) fn not_overtaken(
    consumer: &str,
    checkpoint: u64,
    position: Position,
) -> Result<(), StoreError> {
    if checkpoint > position.get() {
        return Err(StoreError::Overtaken {
            consumer: consumer.to_owned(),
            checkpoint,
            position: position.get(),
        });
    }
    Ok(())
}

/// Every row decoded, in order, or the first row's error. The vector is sized up front:
/// collecting `Result`s cannot tell its length, and growing it moved every event decoded so
/// far, again and again, on each read of the log.
pub(crate) fn decode_rows<R, T>(
    rows: &[R],
    mut decode: impl FnMut(&R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut decoded = Vec::with_capacity(rows.len());
    for row in rows {
        decoded.push(decode(row)?);
    }
    Ok(decoded)
}

/// The JSON array an append sends to the database in one parameter.
pub(crate) fn batch_json(events: &[NewEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| {
                serde_json::json!({
                    "event_id": e.event_id.to_string(),
                    "event_type": e.event_type,
                    "event_version": e.event_version,
                    "payload": e.payload,
                    "metadata": e.metadata,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords_and_query() {
        assert_eq!(
            redact("postgres://whistle:s3cret@db.example:5432/whistle?sslmode=require"),
            "postgres://whistle:***@db.example:5432/whistle"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact("postgres://db/w?password=x"), "postgres://db/w");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db/");
    }
}
