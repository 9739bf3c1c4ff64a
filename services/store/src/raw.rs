//! Reading the global log with payloads left as the JSON text the database stores.
//!
//! For readers that pass events on without looking into most payloads (the relay): parsing a
//! payload into a [`serde_json::Value`] and serializing it again costs more than the rest of
//! the event together. [`EventStore::read_all_raw`] reads the same events as
//! [`EventStore::read_all`], in the same order, with the same guarantees; only the payload
//! stays text ([`RawValue`]). A stream type with a codec ([`EventStore::with_codec`]) still
//! has its events upgraded: payloads are parsed for the codec and checked, and an upgraded
//! payload replaces the stored text; only an event the codec reads as stored (its current
//! version) is handed out as it is, unparsed, to be checked where it is decoded.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::watch;
use whistle_events::{EventId, EventMetadata};

use crate::{
    CodecError, EventStore, Position, RecordedEvent, StoreError, metadata_from_json, stream_name,
};

/// An event as recorded in the log, its payload the stored JSON text.
///
/// The same event [`EventStore::read_all`] hands out as a [`RecordedEvent`]; turn it into
/// one with [`RawRecordedEvent::parse`].
#[derive(Debug, Clone)]
pub struct RawRecordedEvent {
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
    /// The payload's version (after upcasting, when the stream type has a codec).
    pub event_version: String,
    /// The payload as JSON text: as it was written (events migrated from PostgreSQL's
    /// `jsonb` have a space after each `:` and `,`), or the codec's upgraded payload. Always
    /// valid JSON.
    pub payload: Box<RawValue>,
    /// Metadata as stored.
    pub metadata: HashMap<String, String>,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl RawRecordedEvent {
    /// The stream's name, `Type-id`.
    pub fn stream(&self) -> String {
        stream_name(&self.stream_type, &self.stream_id)
    }

    /// The metadata keys whistle gives meaning to.
    pub fn metadata(&self) -> EventMetadata {
        EventMetadata::from_map(&self.metadata)
    }

    /// The payload parsed into a JSON value.
    pub fn payload_value(&self) -> Result<Value, StoreError> {
        serde_json::from_str(self.payload.get()).map_err(|e| self.malformed(e.to_string()))
    }

    /// This event with its payload parsed: what [`EventStore::read_all`] returns for it.
    pub fn parse(self) -> Result<RecordedEvent, StoreError> {
        let payload = self.payload_value()?;
        Ok(RecordedEvent {
            position: self.position,
            event_id: self.event_id,
            stream_type: self.stream_type,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            event_type: self.event_type,
            event_version: self.event_version,
            payload,
            metadata: self.metadata,
            recorded_at: self.recorded_at,
        })
    }

    fn malformed(&self, reason: String) -> StoreError {
        StoreError::MalformedEvent {
            stream: self.stream(),
            position: self.position.get(),
            event_type: self.event_type.clone(),
            event_version: self.event_version.clone(),
            reason,
        }
    }
}

/// Stored metadata (a JSON object, as text) as the flat string map, exactly as
/// [`metadata_from_json`] makes it; the common case, every value a string, without building
/// a JSON value first.
pub(crate) fn metadata_from_text(text: &str) -> Result<HashMap<String, String>, serde_json::Error> {
    match serde_json::from_str::<HashMap<String, String>>(text) {
        Ok(map) => Ok(map),
        Err(_) => serde_json::from_str::<Value>(text).map(metadata_from_json),
    }
}

impl EventStore {
    /// Like [`EventStore::read_all`] (the same events, limits and guarantees: only events
    /// that can no longer be preceded by a slower writer, and an event this build cannot read
    /// ends the batch, or is the error when it comes first), with each payload left as the
    /// stored JSON text. Events of a stream type with a codec are still run through it: their
    /// payloads are parsed for it, and an upgraded payload and version replace the stored
    /// ones; except where the codec says the event reads as stored
    /// ([`crate::EventCodec::reads_as_stored`]): that payload is handed out unparsed, and a
    /// payload malformed in the database shows where it is decoded (a consumer parks it
    /// with the reason) instead of here.
    pub async fn read_all_raw(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RawRecordedEvent>, StoreError> {
        let limit = limit.clamp(1, 10_000);
        let raw = match &self.inner.backend {
            crate::Backend::Postgres(pg) => pg.read_all_raw(after, limit).await?,
            crate::Backend::Sqlite(lite) => lite.read_all_raw(after, limit).await?,
        };
        let mut out = Vec::with_capacity(raw.len());
        for event in raw {
            match self.upgrade_raw(event) {
                Ok(event) => out.push(event),
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// A catch-up subscription to the global log after `after`, handing out events with
    /// their payloads as stored JSON text (see [`EventStore::read_all_raw`]).
    pub fn subscribe_raw(&self, after: Position) -> RawSubscription {
        RawSubscription {
            store: self.clone(),
            after,
            buffer: VecDeque::new(),
            appended: self.inner.appended.subscribe(),
            poll_interval: self.inner.poll_interval,
            batch_size: 500,
        }
    }

    /// Runs a stored event through its stream type's codec, as [`EventStore::read_all`]
    /// does; the stored text stays when the codec has nothing to upgrade.
    fn upgrade_raw(&self, mut event: RawRecordedEvent) -> Result<RawRecordedEvent, StoreError> {
        let Some((_, codec)) = self
            .inner
            .codecs
            .iter()
            .find(|(t, _)| *t == event.stream_type)
        else {
            return Ok(event);
        };
        if codec.reads_as_stored(&event.event_type, &event.event_version) {
            return Ok(event);
        }
        let payload = event.payload_value()?;
        match codec.upgrade(&event.event_type, &event.event_version, &payload) {
            Ok(None) => Ok(event),
            Ok(Some((version, payload))) => {
                event.payload = serde_json::value::to_raw_value(&payload).map_err(|e| {
                    event.malformed(format!("its upgraded payload does not serialize: {e}"))
                })?;
                event.event_version = version;
                Ok(event)
            }
            Err(CodecError::Unknown) => Err(StoreError::UnknownEvent {
                stream: event.stream(),
                position: event.position.get(),
                event_type: event.event_type,
                event_version: event.event_version,
            }),
            Err(CodecError::Malformed(reason)) => Err(event.malformed(reason)),
        }
    }
}

/// A catch-up subscription handing out [`RawRecordedEvent`]s: the same events, in the same
/// order, with the same guarantees as a [`crate::Subscription`] (never skips, repeats or
/// reorders an event; after an error, calling again retries the same event).
#[derive(Debug)]
pub struct RawSubscription {
    store: EventStore,
    after: Position,
    buffer: VecDeque<RawRecordedEvent>,
    appended: watch::Receiver<u64>,
    poll_interval: Duration,
    batch_size: usize,
}

impl RawSubscription {
    /// Reads up to `size` events per round trip (default 500).
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// The position of the last event handed out (the checkpoint to store).
    pub fn position(&self) -> Position {
        self.after
    }

    /// The next events: at least one (waiting for it if the log has no more yet), and
    /// whatever else has been read already, up to `max`. An error (database unreachable, an
    /// event this build cannot read) leaves the subscription where it was.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<RawRecordedEvent>, StoreError> {
        while self.buffer.is_empty() {
            // Mark the current append count as seen *before* reading, so an append that
            // lands between the read and the wait still wakes us.
            self.appended.borrow_and_update();
            let batch = self.store.read_all_raw(self.after, self.batch_size).await?;
            if batch.is_empty() {
                tokio::select! {
                    _ = self.appended.changed() => {}
                    () = tokio::time::sleep(self.poll_interval) => {}
                }
                continue;
            }
            self.buffer.extend(batch);
        }
        let take = max.max(1).min(self.buffer.len());
        let batch: Vec<RawRecordedEvent> = self.buffer.drain(..take).collect();
        if let Some(last) = batch.last() {
            self.after = last.position;
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    //! The raw read path against both backends: the same events as the parsed path, the
    //! same codec checks, and a subscription that never skips or repeats.

    use std::collections::HashSet;
    use std::sync::Arc;

    use serde_json::json;
    use whistle_clock::SystemClock;

    use super::*;
    use crate::test_support::{fresh_postgres_url, fresh_sqlite_path};
    use crate::{EventCodec, NewEvent, StoreConfig};

    type Result<T = ()> = anyhow::Result<T>;

    async fn postgres() -> Result<EventStore> {
        let config = StoreConfig {
            database_url: Some(fresh_postgres_url().await?),
            ..StoreConfig::default()
        };
        Ok(EventStore::open(&config, Arc::new(SystemClock)).await?)
    }

    async fn sqlite() -> Result<EventStore> {
        let config = StoreConfig {
            sqlite_path: fresh_sqlite_path(),
            ..StoreConfig::default()
        };
        Ok(EventStore::open(&config, Arc::new(SystemClock)).await?)
    }

    fn event(n: u64) -> NewEvent {
        NewEvent {
            event_id: EventId::new(),
            event_type: "Counted".into(),
            event_version: "1.0.0".into(),
            payload: json!({"Counted": {"n": n, "note": "红旗里 5号楼 \"东\"\n", "tags": [1, 2.5, null, true]}}),
            metadata: HashMap::from([
                ("actor".to_owned(), "hongqili-li".to_owned()),
                (
                    "traceparent".to_owned(),
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
                ),
            ]),
        }
    }

    /// Reads the whole log both ways, once everything written is readable (on PostgreSQL
    /// the readable end waits for every older transaction in the cluster).
    async fn read_both(
        store: &EventStore,
        total: usize,
    ) -> Result<(Vec<RecordedEvent>, Vec<RawRecordedEvent>)> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let parsed = store.read_all(Position::START, 10_000).await?;
            let raw = store.read_all_raw(Position::START, 10_000).await?;
            if parsed.len() == total && raw.len() == total {
                return Ok((parsed, raw));
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "read {} parsed and {} raw of {total} events in 60 s",
                parsed.len(),
                raw.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn raw_reads_are_the_parsed_reads(store: EventStore) -> Result {
        for (stream, n) in [("a", 0), ("b", 10), ("a", 20)] {
            let version = store.stream_version("Counter", stream).await?;
            let batch = (n..n + 3).map(event).collect();
            store.append("Counter", stream, version, batch).await?;
        }
        let (parsed, raw) = read_both(&store, 9).await?;
        for (raw, parsed) in raw.into_iter().zip(&parsed) {
            assert_eq!(raw.stream(), parsed.stream());
            assert_eq!(raw.metadata(), parsed.metadata());
            assert_eq!(&raw.parse()?, parsed);
        }
        // Reading on from a position, and in pages, gives the same events.
        let page = store.read_all_raw(parsed[3].position, 2).await?;
        assert_eq!(
            page.iter().map(|e| e.event_id).collect::<Vec<_>>(),
            vec![parsed[4].event_id, parsed[5].event_id]
        );
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_raw_reads_are_the_parsed_reads() -> Result {
        raw_reads_are_the_parsed_reads(postgres().await?).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_raw_reads_are_the_parsed_reads() -> Result {
        raw_reads_are_the_parsed_reads(sqlite().await?).await
    }

    /// Knows `Counted` 1.0.0 and upcasts 0.9.0 (which had `count` for `n`).
    #[derive(Debug)]
    struct CounterCodec;

    impl EventCodec for CounterCodec {
        fn upgrade(
            &self,
            event_type: &str,
            event_version: &str,
            payload: &Value,
        ) -> std::result::Result<Option<(String, Value)>, CodecError> {
            match (event_type, event_version) {
                ("Counted", "1.0.0") if payload.pointer("/Counted/n").is_some() => Ok(None),
                ("Counted", "1.0.0") => Err(CodecError::Malformed("`Counted.n` is missing".into())),
                ("Counted", "0.9.0") => {
                    let count = payload.pointer("/Counted/count").cloned();
                    Ok(Some(("1.0.0".into(), json!({"Counted": {"n": count}}))))
                }
                _ => Err(CodecError::Unknown),
            }
        }
    }

    async fn the_codec_is_honoured(store: EventStore) -> Result {
        let store = store.with_codec("Counter", Arc::new(CounterCodec));
        let mut old = event(0);
        old.event_version = "0.9.0".into();
        old.payload = json!({"Counted": {"count": 41}});
        let current = event(1);
        let mut unknown = event(2);
        unknown.event_type = "Teleported".into();
        store
            .append("Counter", "a", 0, vec![old, current.clone()])
            .await?;
        store.append("Counter", "b", 0, vec![unknown]).await?;

        // Upgraded where the codec upgrades, the stored text where it does not; the read
        // stops before the event it cannot read, exactly as the parsed read does.
        let (parsed, raw) = read_both(&store, 2).await?;
        assert_eq!(raw[0].event_version, "1.0.0");
        assert_eq!(raw[0].payload_value()?, json!({"Counted": {"n": 41}}));
        assert_eq!(raw[1].payload_value()?, current.payload);
        let raw: Vec<RecordedEvent> = raw
            .into_iter()
            .map(RawRecordedEvent::parse)
            .collect::<std::result::Result<_, _>>()?;
        assert_eq!(raw, parsed);

        // The unreadable event is the error once it comes first, on both paths alike.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let (parsed_error, raw_error) = loop {
            let parsed = store.read_all(raw[1].position, 10).await;
            let raw = store.read_all_raw(raw[1].position, 10).await;
            if let (Err(p), Err(r)) = (&parsed, &raw) {
                break (p.to_string(), r.to_string());
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the unknown event never became readable"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(raw_error, parsed_error);
        assert!(raw_error.contains("Teleported"), "{raw_error}");
        let mut subscription = store.subscribe_raw(raw[1].position);
        assert!(subscription.next_batch(10).await.is_err());
        assert_eq!(subscription.position(), raw[1].position);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_the_codec_is_honoured() -> Result {
        the_codec_is_honoured(postgres().await?).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_the_codec_is_honoured() -> Result {
        the_codec_is_honoured(sqlite().await?).await
    }

    /// Writers append concurrently (many transactions in flight on PostgreSQL) while a raw
    /// subscription reads from the start in small batches: it sees every event once, in
    /// order, and nothing else.
    async fn a_raw_subscription_sees_every_event_once(store: EventStore) -> Result {
        const WRITERS: u64 = 6;
        const PER_WRITER: u64 = 150;
        let total = usize::try_from(WRITERS * PER_WRITER)?;
        let reader = {
            let mut subscription = store.subscribe_raw(Position::START).with_batch_size(7);
            tokio::spawn(async move {
                let mut seen = Vec::with_capacity(total);
                while seen.len() < total {
                    let batch =
                        tokio::time::timeout(Duration::from_secs(60), subscription.next_batch(5))
                            .await??;
                    anyhow::ensure!(
                        !batch.is_empty() && batch.len() <= 5,
                        "a batch of {}",
                        batch.len()
                    );
                    seen.extend(batch);
                    anyhow::ensure!(subscription.position() == seen[seen.len() - 1].position);
                }
                if let Ok(extra) =
                    tokio::time::timeout(Duration::from_millis(300), subscription.next_batch(5))
                        .await
                {
                    anyhow::bail!("events beyond the {total} written: {extra:?}");
                }
                Ok(seen)
            })
        };
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for n in 0..PER_WRITER {
                    let stream = format!("w{w}-{}", n % 5);
                    let version = store.stream_version("Counter", &stream).await?;
                    store
                        .append("Counter", &stream, version, vec![event(n)])
                        .await?;
                }
                anyhow::Ok(())
            }));
        }
        for writer in writers {
            writer.await??;
        }
        let seen = reader.await??;
        let ids: HashSet<EventId> = seen.iter().map(|e| e.event_id).collect();
        assert_eq!(ids.len(), total, "an event was handed out twice");
        assert!(seen.windows(2).all(|w| w[0].position < w[1].position));
        let (parsed, _) = read_both(&store, total).await?;
        assert_eq!(
            seen.iter().map(|e| e.event_id).collect::<Vec<_>>(),
            parsed.iter().map(|e| e.event_id).collect::<Vec<_>>()
        );
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_a_raw_subscription_sees_every_event_once() -> Result {
        a_raw_subscription_sees_every_event_once(postgres().await?).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_a_raw_subscription_sees_every_event_once() -> Result {
        a_raw_subscription_sees_every_event_once(sqlite().await?).await
    }

    /// An event whose transaction is still open holds back every later one: the raw read
    /// hands out nothing past it until it commits, then both, in position order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_a_slow_writer_is_never_skipped() -> Result {
        use sqlx::{Connection, Row};
        let url = fresh_postgres_url().await?;
        let config = StoreConfig {
            database_url: Some(url.clone()),
            ..StoreConfig::default()
        };
        let store = EventStore::open(&config, Arc::new(SystemClock)).await?;
        let mut slow = sqlx::PgConnection::connect(&url).await?;
        let mut tx = slow.begin().await?;
        let slow_position: i64 = sqlx::query(
            "INSERT INTO events (position, event_id, stream_type, stream_id, stream_version, \
                                 event_type, event_version, payload, metadata, recorded_at) \
             VALUES ((pg_current_xact_id()::text::bigint << 16) + 1, $1, 'Counter', 'slow', 1, \
                     'Counted', '1.0.0', '{\"Counted\": {\"n\": 1}}', '{}', now()) \
             RETURNING position",
        )
        .bind(uuid::Uuid::new_v4())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let fast = store.append("Counter", "fast", 0, vec![event(2)]).await?;
        assert!(fast[0].position.get() > u64::try_from(slow_position)?);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            store.read_all_raw(Position::START, 100).await?.is_empty(),
            "an event after an open transaction's was handed out"
        );
        tx.commit().await?;
        let (_, raw) = read_both(&store, 2).await?;
        assert_eq!(
            raw.iter().map(|e| e.stream_id.as_str()).collect::<Vec<_>>(),
            ["slow", "fast"]
        );
        Ok(())
    }

    #[test]
    fn metadata_text_reads_like_metadata_json() -> Result {
        for text in [
            r#"{"actor": "hongqili-li", "traceparent": "00-ab-cd-01"}"#,
            r#"{"actor": "a\"b", "attempt": 3, "flags": {"x": [1, null]}, "none": null}"#,
            r#"{}"#,
            r#"[]"#,
            r#"null"#,
        ] {
            let json: Value = serde_json::from_str(text)?;
            assert_eq!(
                metadata_from_text(text)?,
                metadata_from_json(json),
                "{text}"
            );
        }
        assert!(metadata_from_text("{not json").is_err());
        Ok(())
    }
}
