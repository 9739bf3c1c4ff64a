//! The relay: tails whistle's global log and publishes every event to the JetStream
//! stream `TICKETS`, exactly once, in log order.
//!
//! - **Consumes**: the event store's global log (catch-up subscription), from its checkpoint
//!   `relay` (table `checkpoints`).
//! - **Produces**: JetStream stream `TICKETS`, subjects
//!   `tickets.<district>.<street>.<EventType>`, each message with `Nats-Msg-Id` = the event
//!   id, `Event-Type`, `Whistle-Position`, `Whistle-Store` (the event store's identity) and
//!   the event's `traceparent`; the body is a
//!   [`PublishedEvent`](whistle_events::subjects::PublishedEvent), which holds the rest (the
//!   stream, the payload's version). A stream holding another store's events is refused.
//! - **Exactly once**: publishes are pipelined, up to four batches in flight while the next
//!   ones are read (by a task of their own, which also makes them into messages: payloads
//!   stay the stored JSON text, see [`EventStore::read_all_raw`]); the checkpoint moves
//!   (every half second, and when the log is idle) only to a batch whose acks, and all
//!   earlier ones, have arrived. After a crash, the relay starts again from the later
//!   of its checkpoint and the `Whistle-Position` of the last message already in the stream
//!   (one connection keeps publish order), so nothing is published twice even beyond
//!   JetStream's deduplication window. After a batch that failed part way inside a running
//!   relay, it starts from the checkpoint and `Nats-Msg-Id` drops what was stored already.
//! - **One active instance**: the relay holds the lease `relay` (a PostgreSQL advisory lock
//!   on a connection of its own) while it publishes. A second instance waits, and takes over
//!   when the first dies. A relay that loses its lease connection stops publishing at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::{self, stream};
use async_nats::{HeaderMap, HeaderName, HeaderValue, Subject};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use whistle_events::subjects::{TICKETS_PREFIX, UNKNOWN_TOKEN, headers, ticket_event_subject};
use whistle_events::{TicketEvent, metadata};
use whistle_store::{EventStore, Position, RawRecordedEvent};

/// The relay's configuration. Defaults are production's.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The JetStream stream (created if missing).
    pub stream: String,
    /// The subject prefix; the stream takes `<prefix>.>`.
    pub subject_prefix: String,
    /// The checkpoint name and the lease name.
    pub name: String,
    /// Events published before waiting for their acks.
    pub batch: usize,
    /// How often a waiting instance tries the lease.
    pub lease_poll: Duration,
    /// JetStream's deduplication window for new streams.
    pub duplicate_window: Duration,
    /// How long to wait before starting again after an error (NATS or the database down).
    pub retry_after: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            stream: "TICKETS".to_owned(),
            subject_prefix: TICKETS_PREFIX.to_owned(),
            name: "relay".to_owned(),
            batch: 256,
            lease_poll: Duration::from_millis(500),
            duplicate_window: Duration::from_secs(120),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// What a relay instance is doing, for operators and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayState {
    /// Waiting for the lease: another instance is active.
    Waiting,
    /// Holding the lease and publishing.
    Active,
    /// Stopped (shut down).
    Stopped,
}

/// A relay instance.
#[derive(Debug)]
pub struct Relay {
    store: EventStore,
    jetstream: jetstream::Context,
    config: RelayConfig,
    state: watch::Sender<RelayState>,
    // Turns events into messages, in a task of its own while the relay publishes.
    messages: Messages,
    // Set when a batch failed part way: some of its messages may be in the stream and some
    // not, so the stream's last message does not say where to resume. The next attempt
    // starts from the checkpoint, and JetStream's deduplication (the retry comes well inside
    // its window) drops what was already stored.
    batch_failed: bool,
}

/// [`whistle_events::subjects::PublishedEvent`] serialized from borrowed fields, the payload
/// embedded as the stored JSON text, so publishing neither parses nor clones a payload.
/// Same field names and order; the relay's tests read every body back as a
/// `PublishedEvent`.
#[derive(serde::Serialize)]
struct PublishedEventRef<'a> {
    position: u64,
    event_id: &'a whistle_events::EventId,
    stream_type: &'a str,
    stream_id: &'a str,
    stream_version: u64,
    event_type: &'a str,
    event_version: &'a str,
    recorded_at: &'a chrono::DateTime<chrono::Utc>,
    metadata: &'a HashMap<String, String>,
    payload: &'a RawValue,
}

// Header names, made once: a name made from a `&str` is checked on every message.
const MSG_ID: HeaderName = HeaderName::from_static(headers::MSG_ID);
const EVENT_TYPE: HeaderName = HeaderName::from_static(headers::EVENT_TYPE);
const POSITION: HeaderName = HeaderName::from_static(headers::POSITION);
const STORE: HeaderName = HeaderName::from_static(headers::STORE);
const TRACEPARENT: HeaderName = HeaderName::from_static(headers::TRACEPARENT);

/// Room for a body's fields besides the payload and the metadata, so that serializing it
/// does not grow the buffer.
const BODY_FIELDS: usize = 384;

/// Batches sent before the relay waits for the acks of the oldest.
const MAX_BATCHES_IN_FLIGHT: usize = 4;
/// Batches read and made into messages ahead of the one being published.
const BATCHES_READ_AHEAD: usize = 2;
/// Batches read from the log per round trip to the database.
const BATCHES_PER_READ: usize = 2;
/// How long the relay waits for new events before it settles the acks in flight.
const IDLE_FLUSH: Duration = Duration::from_millis(20);
/// How often the checkpoint is saved while events flow.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// How often the lease's connection is checked while events flow.
const LEASE_CHECK: Duration = Duration::from_millis(200);

/// How many ticket locations the relay remembers before it starts over (each costs one read
/// of the ticket's first event to learn again).
const MAX_LOCATIONS: usize = 100_000;

impl Relay {
    /// A relay from `store` to the JetStream of `client`.
    pub fn new(store: EventStore, client: async_nats::Client, config: RelayConfig) -> Self {
        let (state, _) = watch::channel(RelayState::Waiting);
        let messages = Messages::new(store.clone(), &config.subject_prefix);
        Self {
            store,
            jetstream: jetstream::new(client),
            config,
            state,
            messages,
            batch_failed: false,
        }
    }

    /// Watches what this instance is doing.
    pub fn state(&self) -> watch::Receiver<RelayState> {
        self.state.subscribe()
    }

    /// Runs until `shutdown` is cancelled: waits for the lease, publishes while it holds
    /// it, and starts over after any error (NATS or the database unreachable), logging why.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            self.state.send_replace(RelayState::Waiting);
            let Some(mut lease) = self.wait_for_lease(&shutdown).await else {
                self.state.send_replace(RelayState::Stopped);
                return Ok(());
            };
            self.state.send_replace(RelayState::Active);
            tracing::info!(lease = lease.name(), "relay holds the lease and publishes");
            let outcome = self.publish_while_held(&mut lease, &shutdown).await;
            drop(lease);
            match outcome {
                Ok(()) => {
                    self.state.send_replace(RelayState::Stopped);
                    return Ok(());
                }
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "relay stopped publishing; starting over"
                    );
                    tokio::select! {
                        () = shutdown.cancelled() => {
                            self.state.send_replace(RelayState::Stopped);
                            return Ok(());
                        }
                        () = tokio::time::sleep(self.config.retry_after) => {}
                    }
                }
            }
        }
    }

    async fn wait_for_lease(&self, shutdown: &CancellationToken) -> Option<whistle_store::Lease> {
        loop {
            match self.store.try_lease(&self.config.name).await {
                Ok(Some(lease)) => return Some(lease),
                Ok(None) => {}
                Err(error) => tracing::warn!(error = %error, "cannot take the relay lease"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return None,
                () = tokio::time::sleep(self.config.lease_poll) => {}
            }
        }
    }

    async fn publish_while_held(
        &mut self,
        lease: &mut whistle_store::Lease,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let stream = self.ensure_stream().await?;
        let checkpoint = self.store.checkpoint(&self.config.name).await?;
        let published = last_published(&stream, self.store.identity()).await?;
        let resume = if self.batch_failed {
            checkpoint
        } else {
            checkpoint.max(published)
        };
        tracing::info!(%checkpoint, %published, %resume, "relay resumes");
        // The log is read, and its events made into messages, ahead of the publishing.
        let mut log = ReadAhead::start(&self.store, &self.messages, resume, self.config.batch);
        // Batches sent and not yet acknowledged, oldest first, with the last position of
        // each: while their acks travel, the next batches are read and sent.
        let mut in_flight: VecDeque<(Position, Vec<PublishAckFuture>)> = VecDeque::new();
        let mut acknowledged: Option<Position> = None;
        let mut saved_at = Instant::now();
        let mut lease_checked_at = Instant::now();
        loop {
            // With acks outstanding, wait only briefly for new events: an idle log must not
            // leave acks (and their errors) and the checkpoint waiting.
            let wait = if in_flight.is_empty() {
                Duration::MAX
            } else {
                IDLE_FLUSH
            };
            let next = tokio::select! {
                () = shutdown.cancelled() => {
                    self.settle(&mut in_flight, &mut acknowledged).await?;
                    return self.save(acknowledged).await;
                }
                batch = tokio::time::timeout(wait, log.next()) => batch,
            };
            let Ok(batch) = next else {
                self.settle(&mut in_flight, &mut acknowledged).await?;
                self.save(acknowledged.take()).await?;
                saved_at = Instant::now();
                continue;
            };
            let batch = batch?;
            if lease_checked_at.elapsed() >= LEASE_CHECK && {
                lease_checked_at = Instant::now();
                !lease.is_held().await
            } {
                anyhow::bail!("lost the relay lease (its database connection broke)");
            }
            self.batch_failed = true;
            let last = batch.last().map(|m| m.position);
            let mut acks = Vec::with_capacity(batch.len());
            for message in batch {
                let ack = self
                    .jetstream
                    .publish_with_headers(message.subject, message.headers, message.body)
                    .await
                    .with_context(|| {
                        format!("publishing the event at position {}", message.position)
                    })?;
                acks.push(ack);
            }
            if let Some(last) = last {
                in_flight.push_back((last, acks));
            }
            while in_flight.len() > MAX_BATCHES_IN_FLIGHT {
                if let Some((last, acks)) = in_flight.pop_front() {
                    await_acks(last, acks).await?;
                    acknowledged = Some(last);
                }
            }
            if in_flight.is_empty() {
                self.batch_failed = false;
            }
            // The checkpoint only has to keep up roughly: on restart the relay also starts
            // after the stream's last message.
            if saved_at.elapsed() >= CHECKPOINT_EVERY {
                self.save(acknowledged.take()).await?;
                saved_at = Instant::now();
            }
        }
    }

    /// Waits for every batch in flight; afterwards nothing is outstanding.
    async fn settle(
        &mut self,
        in_flight: &mut VecDeque<(Position, Vec<PublishAckFuture>)>,
        acknowledged: &mut Option<Position>,
    ) -> anyhow::Result<()> {
        while let Some((last, acks)) = in_flight.pop_front() {
            await_acks(last, acks).await?;
            *acknowledged = Some(last);
        }
        self.batch_failed = false;
        Ok(())
    }

    async fn save(&self, acknowledged: Option<Position>) -> anyhow::Result<()> {
        if let Some(position) = acknowledged {
            self.store
                .save_checkpoint(&self.config.name, position)
                .await?;
        }
        Ok(())
    }

    async fn ensure_stream(&self) -> anyhow::Result<stream::Stream> {
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: self.config.stream.clone(),
                subjects: vec![format!("{}.>", self.config.subject_prefix)],
                duplicate_window: self.config.duplicate_window,
                storage: stream::StorageType::File,
                ..stream::Config::default()
            })
            .await
            .with_context(|| {
                format!(
                    "creating or opening the JetStream stream {}",
                    self.config.stream
                )
            })
    }
}

/// An event made into a message, ready to publish.
#[derive(Debug)]
struct Message {
    position: Position,
    subject: Subject,
    headers: HeaderMap,
    body: bytes::Bytes,
}

/// Makes events into messages: the subject (from the ticket's location), the headers and
/// the body.
#[derive(Debug, Clone)]
struct Messages {
    store: EventStore,
    prefix: String,
    // `<prefix>._._.`: the start of the subject of an event whose location is not known.
    unknown_location: Arc<str>,
    // The `Whistle-Store` header's value, the same on every message.
    identity: HeaderValue,
    // Ticket id → the start of its events' subjects, `<prefix>.<district>.<street>.`,
    // learnt from each ticket's `Received` event. Shared by the relay's attempts, so a
    // restart does not read every ticket's first event again.
    locations: Arc<Mutex<HashMap<String, Arc<str>>>>,
}

impl Messages {
    fn new(store: EventStore, prefix: &str) -> Self {
        Self {
            unknown_location: subject_stem(prefix, UNKNOWN_TOKEN, UNKNOWN_TOKEN),
            identity: HeaderValue::from(store.identity()),
            store,
            prefix: prefix.to_owned(),
            locations: Arc::default(),
        }
    }

    /// The messages of a batch of events, in the same order.
    async fn batch(&self, events: Vec<RawRecordedEvent>) -> anyhow::Result<Vec<Message>> {
        let mut messages = Vec::with_capacity(events.len());
        for event in events {
            messages.push(self.message(event).await?);
        }
        Ok(messages)
    }

    /// The subject, headers and body an event is published with.
    async fn message(&self, event: RawRecordedEvent) -> anyhow::Result<Message> {
        let stem = self.location(&event).await?;
        let mut subject = String::with_capacity(stem.len() + event.event_type.len());
        subject.push_str(&stem);
        subject.push_str(&event.event_type);
        let payload = event.payload.get();
        let mut body = Vec::with_capacity(BODY_FIELDS + payload.len() + metadata_len(&event));
        serde_json::to_writer(
            &mut body,
            &PublishedEventRef {
                position: event.position.get(),
                event_id: &event.event_id,
                stream_type: &event.stream_type,
                stream_id: &event.stream_id,
                stream_version: event.stream_version,
                event_type: &event.event_type,
                event_version: &event.event_version,
                recorded_at: &event.recorded_at,
                metadata: &event.metadata,
                payload: &event.payload,
            },
        )
        .with_context(|| {
            format!(
                "serializing the event at position {} for publishing",
                event.position
            )
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(MSG_ID, event.event_id.to_string());
        headers.insert(POSITION, event.position.to_string());
        headers.insert(STORE, self.identity.clone());
        if let Some(traceparent) = event.metadata.get(metadata::keys::TRACEPARENT) {
            headers.insert(TRACEPARENT, traceparent.as_str());
        }
        headers.insert(EVENT_TYPE, event.event_type);
        Ok(Message {
            position: event.position,
            subject: Subject::from(subject),
            headers,
            body: body.into(),
        })
    }

    /// The start of the subjects of the event's ticket, `<prefix>.<district>.<street>.`, from
    /// the ticket's `Received` event.
    async fn location(&self, event: &RawRecordedEvent) -> anyhow::Result<Arc<str>> {
        if event.stream_type != "Ticket" {
            return Ok(self.unknown_location.clone());
        }
        if let Some(known) = self.known_locations().get(&event.stream_id) {
            return Ok(known.clone());
        }
        // Only the `Received` event's payload is parsed, the first of each ticket.
        let received = if event.stream_version == 1 {
            event.payload_value().ok().map(|payload| {
                (
                    event.event_type.clone(),
                    event.event_version.clone(),
                    payload,
                )
            })
        } else {
            self.store
                .read_stream(&event.stream_type, &event.stream_id, 0)
                .await?
                .into_iter()
                .next()
                .map(|e| (e.event_type, e.event_version, e.payload))
        };
        let stem = match received.and_then(|(event_type, event_version, payload)| {
            TicketEvent::decode(&event_type, &event_version, &payload).ok()
        }) {
            Some(TicketEvent::Received(r)) => subject_stem(
                &self.prefix,
                &r.location.district.to_string(),
                &r.location.street.to_string(),
            ),
            _ => self.unknown_location.clone(),
        };
        let mut locations = self.known_locations();
        if locations.len() >= MAX_LOCATIONS {
            locations.clear();
        }
        locations.insert(event.stream_id.clone(), stem.clone());
        Ok(stem)
    }

    fn known_locations(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<str>>> {
        // The map stays consistent whatever panicked while holding it: each entry is
        // written whole.
        self.locations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// `<prefix>.<district>.<street>.`: a subject without its event type.
fn subject_stem(prefix: &str, district: &str, street: &str) -> Arc<str> {
    Arc::from(ticket_event_subject(prefix, district, street, ""))
}

/// About the length of the event's metadata as JSON.
fn metadata_len(event: &RawRecordedEvent) -> usize {
    event
        .metadata
        .iter()
        .map(|(key, value)| key.len() + value.len() + 6)
        .sum()
}

/// Reads the log ahead of the publishing, in a task of its own, and makes the events into
/// messages there: while one batch is published, the next ones are read, decoded and
/// serialized on the other core. Batches come in log order; the first error is the last
/// thing handed out. Dropping it stops the task.
struct ReadAhead {
    batches: mpsc::Receiver<anyhow::Result<Vec<Message>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ReadAhead {
    /// Reads after `resume`, handing out batches of up to `batch` messages.
    fn start(store: &EventStore, messages: &Messages, resume: Position, batch: usize) -> Self {
        // Payloads stay the stored JSON text: the relay passes them on unparsed.
        let mut subscription = store
            .subscribe_raw(resume)
            .with_batch_size(batch.saturating_mul(BATCHES_PER_READ));
        let messages = messages.clone();
        let (sender, batches) = mpsc::channel(BATCHES_READ_AHEAD);
        let task = tokio::spawn(async move {
            loop {
                let next = match subscription.next_batch(batch).await {
                    Ok(events) => messages.batch(events).await,
                    Err(error) => Err(error.into()),
                };
                let failed = next.is_err();
                if sender.send(next).await.is_err() || failed {
                    return;
                }
            }
        });
        Self { batches, task }
    }

    /// The next batch: at least one message, waiting for it if the log has no more yet.
    async fn next(&mut self) -> anyhow::Result<Vec<Message>> {
        match self.batches.recv().await {
            Some(batch) => batch,
            None => anyhow::bail!(
                "the relay's log reader stopped without saying why (it panicked); the relay starts over"
            ),
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn await_acks(last: Position, acks: Vec<PublishAckFuture>) -> anyhow::Result<()> {
    for ack in acks {
        ack.await.with_context(|| {
            format!("JetStream did not acknowledge the batch ending at position {last}")
        })?;
    }
    Ok(())
}

/// The log position of the last message in the stream (START when it is empty). A stream
/// that holds another event store's events is refused: its positions mean nothing here,
/// and resuming from them would skip or repeat events.
async fn last_published(stream: &stream::Stream, identity: &str) -> anyhow::Result<Position> {
    let mut stream = stream.clone();
    let last = stream
        .info()
        .await
        .context("reading the stream's state")?
        .state
        .last_sequence;
    if last == 0 {
        return Ok(Position::START);
    }
    let message = stream
        .get_raw_message(last)
        .await
        .with_context(|| format!("reading the stream's last message (sequence {last})"))?;
    let origin = message
        .headers
        .get(headers::STORE)
        .map(|v| v.as_str().to_owned());
    if origin.as_deref() != Some(identity) {
        anyhow::bail!(
            "the stream's last message (sequence {last}) comes from event store {}, not this one ({identity}); \
             give this relay a stream of its own, or point it at the database that stream belongs to",
            origin.as_deref().unwrap_or("unknown")
        );
    }
    let position = message
        .headers
        .get(headers::POSITION)
        .and_then(|v| v.as_str().parse::<u64>().ok())
        .with_context(|| {
            format!(
                "the stream's last message (sequence {last}) has no {} header: was something else published on its subjects?",
                headers::POSITION
            )
        })?;
    Ok(Position::new(position))
}
