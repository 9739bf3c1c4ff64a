//! Durable, idempotent consumers of whistle's ticket events.
//!
//! A stage (community, street, department) is a [`Handler`]: it looks at one event, may
//! execute commands on the Ticket aggregate, and returns the changes to its read models.
//! A [`Consumer`] feeds it events in log order and commits those changes together with
//! its checkpoint in one transaction ([`EventStore::commit_effect`]), so replaying an
//! event (a redelivery, a restart) changes nothing.
//!
//! - **Feeds**: [`Feed::Log`] reads the event store's global log directly (the embedded
//!   default, no NATS); [`Feed::JetStream`] reads the `TICKETS` stream through a durable
//!   pull consumer of the handler's name, with explicit acks.
//! - **In order**: events are handled one at a time; a failing event is retried in place
//!   (never skipped for a later one), so a checkpoint always means "everything up to here".
//! - **Bounded retries**: an event that keeps failing is parked after
//!   [`ConsumerConfig::max_attempts`] attempts, counting JetStream's earlier deliveries
//!   (a poison message that crashes the process is parked too). The parked record and the
//!   checkpoint are one transaction; the consumer moves on. A store that is unreachable is
//!   not the event's fault: that is retried until the store answers.
//! - **Commands are idempotent by state**: a handler that executes a command checks the
//!   ticket first (a replayed call-up finds the whistle already blown).
//! - **One active instance** per consumer (a lease named after it); a second waits.

pub mod metrics;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, AckKind, consumer::pull, stream};
use async_trait::async_trait;
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;
use whistle_events::subjects::{PublishedEvent, TICKETS_PREFIX, headers};
use whistle_events::{ActorId, DecodeError, EventMetadata, TicketEvent};
use whistle_store::{Committed, Effect, EventStore, Lease, Position, RecordedEvent, RowChange};
use whistle_ticket::CommandError;

pub use metrics::ConsumerMetrics;

/// Why a handler could not handle an event.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandlerError {
    /// Something it needs is unreachable (the store): try again later, without end.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Handling this event failed; after a bounded number of attempts it is parked.
    #[error("{0}")]
    Failed(String),
}

/// One stage's reaction to ticket events.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// The consumer's durable name: its checkpoint, its lease, its JetStream consumer.
    fn name(&self) -> &str;

    /// Whether the handler wants events of this type (others are skipped unread).
    fn wants(&self, event_type: &str) -> bool;

    /// Handles one event: executes any commands it implies (idempotently), and returns
    /// the read-model changes to commit with the checkpoint.
    async fn handle(&self, event: &PublishedEvent) -> Result<Vec<RowChange>, HandlerError>;

    /// Called once the event's changes are committed (for notifications). Not called for
    /// a duplicate.
    async fn committed(&self, _event: &PublishedEvent) {}
}

/// Decodes a delivered ticket event (`None` for an event of another stream type).
pub fn ticket_event(event: &PublishedEvent) -> Result<Option<TicketEvent>, HandlerError> {
    if event.stream_type != "Ticket" {
        return Ok(None);
    }
    TicketEvent::decode(&event.event_type, &event.event_version, &event.payload)
        .map(Some)
        .map_err(|e: DecodeError| {
            HandlerError::Failed(format!(
                "event {} at position {}: {e}",
                event.event_id, event.position
            ))
        })
}

/// Metadata for a command a service executes because of `event`: the service as actor,
/// the event as cause, and the event's correlation id and trace context carried on, so
/// one complaint can be followed end to end.
pub fn caused_by(event: &PublishedEvent, actor: &ActorId) -> EventMetadata {
    let from = EventMetadata::from_map(&event.metadata);
    EventMetadata {
        actor: Some(actor.clone()),
        correlation_id: from.correlation_id,
        causation_id: Some(event.event_id),
        traceparent: from.traceparent,
        tracestate: from.tracestate,
    }
}

impl From<CommandError> for HandlerError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Unavailable(_) | CommandError::OutcomeUnknown(_) => {
                Self::Unavailable(error.to_string())
            }
            other => Self::Failed(other.to_string()),
        }
    }
}

impl From<whistle_store::StoreError> for HandlerError {
    fn from(error: whistle_store::StoreError) -> Self {
        match error {
            whistle_store::StoreError::Unavailable { .. } => Self::Unavailable(error.to_string()),
            other => Self::Failed(other.to_string()),
        }
    }
}

/// The row `key` of the read model `table`, read as `T`.
pub async fn read_row<T: serde::de::DeserializeOwned>(
    store: &EventStore,
    table: &str,
    key: &str,
) -> Result<Option<T>, HandlerError> {
    let Some(row) = store.row(table, key).await? else {
        return Ok(None);
    };
    serde_json::from_value(row.value).map(Some).map_err(|e| {
        HandlerError::Failed(format!(
            "row `{key}` of {table} is unreadable ({e}); rebuild the read model from the log"
        ))
    })
}

/// Every row of `table` under `prefix`, read as `T`, in key order.
pub async fn read_rows<T: serde::de::DeserializeOwned>(
    store: &EventStore,
    table: &str,
    prefix: &str,
) -> Result<Vec<T>, whistle_store::StoreError> {
    store
        .rows(table, prefix)
        .await?
        .into_iter()
        .map(|row| {
            serde_json::from_value(row.value).map_err(|e| {
                whistle_store::StoreError::Corrupt(format!(
                    "row `{}` of {table} is unreadable ({e}); rebuild the read model from the log",
                    row.key
                ))
            })
        })
        .collect()
}

/// Sets the row `key` of `table` to `value`.
pub fn put_row<T: serde::Serialize>(
    table: &str,
    key: impl Into<String>,
    value: &T,
) -> Result<RowChange, HandlerError> {
    let key = key.into();
    let value = serde_json::to_value(value)
        .map_err(|e| HandlerError::Failed(format!("cannot encode row `{key}` of {table}: {e}")))?;
    Ok(RowChange::put(table, key, value))
}

/// The ticket a delivered event belongs to.
pub fn ticket_of(event: &PublishedEvent) -> Result<whistle_events::TicketId, HandlerError> {
    whistle_events::TicketId::parse(&event.stream_id)
        .map_err(|e| HandlerError::Failed(format!("stream id `{}`: {e}", event.stream_id)))
}

/// A stored event as a delivered one.
pub fn delivered(event: &RecordedEvent) -> PublishedEvent {
    PublishedEvent {
        position: event.position.get(),
        event_id: event.event_id,
        stream_type: event.stream_type.clone(),
        stream_id: event.stream_id.clone(),
        stream_version: event.stream_version,
        event_type: event.event_type.clone(),
        event_version: event.event_version.clone(),
        recorded_at: event.recorded_at,
        metadata: event.metadata.clone(),
        payload: event.payload.clone(),
    }
}

/// Where a consumer reads events from.
#[derive(Debug, Clone)]
pub enum Feed {
    /// The event store's global log (catch-up subscription): the embedded default.
    Log,
    /// The JetStream stream the relay publishes to.
    JetStream(Box<jetstream::Context>),
}

/// How a consumer behaves. Defaults are production's.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Attempts (deliveries) before an event is parked.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time up to `max_backoff`.
    pub backoff: Duration,
    /// The longest wait between retries.
    pub max_backoff: Duration,
    /// How often a waiting instance tries the lease.
    pub lease_poll: Duration,
    /// The JetStream stream to read.
    pub stream: String,
    /// Its subject prefix.
    pub subject_prefix: String,
    /// Events fetched at a time.
    pub batch: usize,
    /// How long JetStream waits for an ack before delivering again.
    pub ack_wait: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            lease_poll: Duration::from_millis(500),
            stream: "TICKETS".to_owned(),
            subject_prefix: TICKETS_PREFIX.to_owned(),
            batch: 256,
            ack_wait: Duration::from_secs(60),
        }
    }
}

/// What became of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied,
    Skipped,
    Duplicate,
    Parked,
    Stopped,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Skipped => "skipped",
            Self::Duplicate => "duplicate",
            Self::Parked => "parked",
            Self::Stopped => "stopped",
        }
    }
}

/// Runs one handler.
#[derive(Clone)]
pub struct Consumer {
    store: EventStore,
    handler: Arc<dyn Handler>,
    config: ConsumerConfig,
    metrics: ConsumerMetrics,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("name", &self.handler.name())
            .field("store", &self.store.describe())
            .finish()
    }
}

impl Consumer {
    /// A consumer of `handler` committing to `store`.
    pub fn new(
        store: EventStore,
        handler: Arc<dyn Handler>,
        config: ConsumerConfig,
        metrics: ConsumerMetrics,
    ) -> Self {
        Self {
            store,
            handler,
            config,
            metrics,
        }
    }

    fn name(&self) -> &str {
        self.handler.name()
    }

    /// Runs until `shutdown`: waits for the consumer's lease, consumes `feed` while it
    /// holds it, and starts over after an error (NATS or the store unreachable).
    pub async fn run(self, feed: Feed, shutdown: CancellationToken) -> anyhow::Result<()> {
        let lease_name = format!("consumer-{}", self.name());
        loop {
            let lease = loop {
                match self.store.try_lease(&lease_name).await {
                    Ok(Some(lease)) => break lease,
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(consumer = self.name(), error = %error, "cannot take the consumer's lease")
                    }
                }
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(self.config.lease_poll) => {}
                }
            };
            tracing::info!(consumer = self.name(), "consumer holds its lease and runs");
            let outcome = match &feed {
                Feed::Log => self.consume_log(lease, &shutdown).await,
                Feed::JetStream(js) => self.consume_jetstream(js, lease, &shutdown).await,
            };
            match outcome {
                Ok(()) => return Ok(()),
                Err(error) => {
                    tracing::warn!(
                        consumer = self.name(),
                        error = format!("{error:#}"),
                        "consumer stopped; starting over"
                    );
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(self.config.max_backoff) => {}
                    }
                }
            }
        }
    }

    async fn consume_log(
        &self,
        mut lease: Lease,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let checkpoint = self.store.checkpoint(self.name()).await?;
        tracing::info!(consumer = self.name(), %checkpoint, "consuming the log");
        let mut subscription = self.store.subscribe(checkpoint);
        loop {
            let batch = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                batch = subscription.next_batch(self.config.batch) => batch?,
            };
            if !lease.is_held().await {
                anyhow::bail!("lost the consumer's lease (its database connection broke)");
            }
            let mut trailing_skip = None;
            for event in &batch {
                let event = delivered(event);
                match self.process(&event, 0, shutdown).await? {
                    Outcome::Stopped => return Ok(()),
                    Outcome::Skipped => trailing_skip = Some(event.position),
                    _ => trailing_skip = None,
                }
            }
            // Events it does not want move the checkpoint too, once per batch.
            if let Some(position) = trailing_skip {
                self.commit(
                    Position::new(position),
                    &Effect::Apply(Vec::new()),
                    shutdown,
                )
                .await?;
            }
        }
    }

    async fn consume_jetstream(
        &self,
        js: &jetstream::Context,
        mut lease: Lease,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let stream = js
            .get_or_create_stream(stream::Config {
                name: self.config.stream.clone(),
                subjects: vec![format!("{}.>", self.config.subject_prefix)],
                ..Default::default()
            })
            .await
            .with_context(|| format!("opening the JetStream stream {}", self.config.stream))?;
        let consumer: jetstream::consumer::Consumer<pull::Config> = stream
            .get_or_create_consumer(
                self.name(),
                pull::Config {
                    durable_name: Some(self.name().to_owned()),
                    description: Some(format!("whistle consumer {}", self.name())),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: self.config.ack_wait,
                    // JetStream's own bound, for a process that dies on a message before
                    // it can park it; the consumer parks at `max_attempts` first.
                    max_deliver: i64::from(self.config.max_attempts) + 1,
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("opening the durable consumer {}", self.name()))?;
        tracing::info!(consumer = self.name(), stream = %self.config.stream, "consuming JetStream");
        loop {
            let mut messages = consumer
                .fetch()
                .max_messages(self.config.batch)
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .context("fetching from JetStream")?;
            loop {
                let message = tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    message = messages.next() => message,
                };
                let Some(message) = message else { break };
                let message =
                    message.map_err(|e| anyhow::anyhow!("receiving from JetStream: {e}"))?;
                let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
                let event = self.read_message(&message)?;
                let outcome = match event {
                    Ok(event) => {
                        let earlier =
                            u32::try_from(delivered.saturating_sub(1)).unwrap_or(u32::MAX);
                        let outcome = self.process(&event, earlier, shutdown).await?;
                        if outcome == Outcome::Skipped {
                            self.commit(
                                Position::new(event.position),
                                &Effect::Apply(Vec::new()),
                                shutdown,
                            )
                            .await?;
                        }
                        outcome
                    }
                    Err((position, reason)) => {
                        let effect = Effect::Park {
                            event_id: header(&message, headers::MSG_ID).unwrap_or_default(),
                            reason,
                            attempts: u32::try_from(delivered).unwrap_or(u32::MAX),
                            message: serde_json::Value::String(
                                String::from_utf8_lossy(&message.payload).into_owned(),
                            ),
                        };
                        match self.commit(position, &effect, shutdown).await? {
                            Some(Committed::Applied) => {
                                tracing::error!(consumer = self.name(), %position, reason = ?effect, "parking an unreadable message");
                                self.metrics.outcome(self.name(), "parked");
                                Outcome::Parked
                            }
                            Some(Committed::AlreadyApplied) => Outcome::Duplicate,
                            None => Outcome::Stopped,
                        }
                    }
                };
                if outcome == Outcome::Stopped {
                    return Ok(());
                }
                message
                    .ack_with(AckKind::Ack)
                    .await
                    .map_err(|e| anyhow::anyhow!("acknowledging a message: {e}"))?;
            }
            if !lease.is_held().await {
                anyhow::bail!("lost the consumer's lease (its database connection broke)");
            }
        }
    }

    /// The event in a JetStream message, or (its position, why it cannot be read). A
    /// message without a position, or from another event store, stops the consumer: it is
    /// not whistle's, or the configuration mixes two deployments.
    fn read_message(
        &self,
        message: &jetstream::Message,
    ) -> anyhow::Result<Result<PublishedEvent, (Position, String)>> {
        let position = header(message, headers::POSITION)
            .and_then(|p| p.parse::<u64>().ok())
            .with_context(|| {
                format!(
                    "a message on {} has no {} header: only whistle's relay may publish on the {} stream",
                    message.subject,
                    headers::POSITION,
                    self.config.stream
                )
            })?;
        if let Some(store) = header(message, headers::STORE)
            && store != self.store.identity()
        {
            anyhow::bail!(
                "the {} stream holds events of event store {store}, not of this one ({}): point NATS_URL and DATABASE_URL at the same deployment",
                self.config.stream,
                self.store.identity()
            );
        }
        Ok(
            serde_json::from_slice::<PublishedEvent>(&message.payload).map_err(|e| {
                (
                    Position::new(position),
                    format!("the message at position {position} is not a published event: {e}"),
                )
            }),
        )
    }

    /// Handles one event with bounded retries, commits its effect, and counts it.
    async fn process(
        &self,
        event: &PublishedEvent,
        earlier_attempts: u32,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Outcome> {
        if !self.handler.wants(&event.event_type) {
            self.metrics.outcome(self.name(), "skipped");
            return Ok(Outcome::Skipped);
        }
        let position = Position::new(event.position);
        let mut attempts = earlier_attempts;
        let mut wait = self.config.backoff;
        let effect = loop {
            match self.handler.handle(event).await {
                Ok(changes) => break Effect::Apply(changes),
                Err(HandlerError::Unavailable(reason)) => {
                    tracing::warn!(consumer = self.name(), position = event.position, %reason, "store unavailable; retrying");
                }
                Err(HandlerError::Failed(reason)) => {
                    attempts += 1;
                    if attempts >= self.config.max_attempts {
                        tracing::error!(consumer = self.name(), position = event.position, event_type = %event.event_type, attempts, %reason, "parking the event");
                        break Effect::Park {
                            event_id: event.event_id.to_string(),
                            reason,
                            attempts,
                            message: serde_json::to_value(event).unwrap_or_default(),
                        };
                    }
                    tracing::warn!(consumer = self.name(), position = event.position, attempts, %reason, "handling failed; retrying");
                }
            }
            self.metrics.retried(self.name());
            tokio::select! {
                () = shutdown.cancelled() => return Ok(Outcome::Stopped),
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(self.config.max_backoff);
        };
        let outcome = match self.commit(position, &effect, shutdown).await? {
            None => Outcome::Stopped,
            Some(Committed::AlreadyApplied) => Outcome::Duplicate,
            Some(Committed::Applied) if matches!(effect, Effect::Park { .. }) => Outcome::Parked,
            Some(Committed::Applied) => {
                self.handler.committed(event).await;
                Outcome::Applied
            }
        };
        if outcome != Outcome::Stopped {
            self.metrics.outcome(self.name(), outcome.label());
        }
        Ok(outcome)
    }

    /// Commits an effect, retrying while the store is unreachable (`None`: shut down).
    async fn commit(
        &self,
        position: Position,
        effect: &Effect,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<Committed>> {
        let mut wait = self.config.backoff;
        loop {
            match self
                .store
                .commit_effect(self.name(), position, effect)
                .await
            {
                Ok(committed) => {
                    self.metrics.at(self.name(), position.get());
                    return Ok(Some(committed));
                }
                Err(error @ whistle_store::StoreError::Unavailable { .. }) => {
                    tracing::warn!(consumer = self.name(), error = %error, "cannot commit; retrying");
                }
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!("consumer {} committing position {position}", self.name())
                    });
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(None),
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(self.config.max_backoff);
        }
    }
}

fn header(message: &jetstream::Message, name: &str) -> Option<String> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
}
