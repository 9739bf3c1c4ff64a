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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, AckKind, consumer::pull, stream};
use async_trait::async_trait;
use futures::{FutureExt as _, StreamExt as _};
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

/// The lease a consumer of this name holds while it runs; whatever else writes its read
/// models (a rebuild) takes it too.
pub fn lease_name(consumer: &str) -> String {
    format!("consumer-{consumer}")
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
    let pending = PENDING
        .try_with(|p| {
            p.lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&(table.to_owned(), key.to_owned()))
                .cloned()
        })
        .ok()
        .flatten();
    let value = match pending {
        // Changed earlier in this batch: deleted, or this value.
        Some(None) => return Ok(None),
        Some(Some(value)) => value,
        None => match store.row(table, key).await? {
            Some(row) => row.value,
            None => return Ok(None),
        },
    };
    serde_json::from_value(value).map(Some).map_err(|e| {
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
        let lease_name = lease_name(self.name());
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
            let events: Vec<(PublishedEvent, u32)> =
                batch.iter().map(|e| (delivered(e), 0)).collect();
            if !self.apply_batch(&events, shutdown).await? {
                return Ok(());
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
        // One continuous pull for the consumer's whole run: messages arrive in stream
        // order, and none is left in flight by an abandoned request.
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(self.config.batch)
            .heartbeat(Duration::from_secs(5))
            .messages()
            .await
            .context("pulling from JetStream")?;
        let mut lease_check = tokio::time::interval(Duration::from_secs(1));
        loop {
            let first = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = lease_check.tick() => {
                    if !lease.is_held().await {
                        anyhow::bail!("lost the consumer's lease (its database connection broke)");
                    }
                    continue;
                }
                message = messages.next() => message,
            };
            let Some(first) = first else {
                anyhow::bail!("the JetStream pull ended");
            };
            let mut batch =
                vec![first.map_err(|e| anyhow::anyhow!("receiving from JetStream: {e}"))?];
            // Take what has arrived already, without waiting.
            while batch.len() < self.config.batch {
                match messages.next().now_or_never() {
                    Some(Some(next)) => batch
                        .push(next.map_err(|e| anyhow::anyhow!("receiving from JetStream: {e}"))?),
                    _ => break,
                }
            }
            let mut events = Vec::with_capacity(batch.len());
            for message in &batch {
                let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
                let earlier = u32::try_from(delivered.saturating_sub(1)).unwrap_or(u32::MAX);
                match self.read_message(message)? {
                    Ok(event) => events.push((event, earlier)),
                    Err((position, reason)) => {
                        // Unreadable: park it where it stands, after what came before.
                        if !self.apply_batch(&events, shutdown).await? {
                            return Ok(());
                        }
                        events.clear();
                        let effect = Effect::Park {
                            event_id: header(message, headers::MSG_ID).unwrap_or_default(),
                            reason,
                            attempts: u32::try_from(delivered).unwrap_or(u32::MAX),
                            message: serde_json::Value::String(
                                String::from_utf8_lossy(&message.payload).into_owned(),
                            ),
                        };
                        match self.commit(position, &effect, shutdown).await? {
                            Some(Committed::Applied) => {
                                tracing::error!(consumer = self.name(), %position, "parked an unreadable message");
                                self.metrics.outcome(self.name(), "parked");
                            }
                            Some(Committed::AlreadyApplied) => {}
                            None => return Ok(()),
                        }
                    }
                }
            }
            if !self.apply_batch(&events, shutdown).await? {
                return Ok(());
            }
            for message in &batch {
                message
                    .ack_with(AckKind::Ack)
                    .await
                    .map_err(|e| anyhow::anyhow!("acknowledging a message: {e}"))?;
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

    /// Handles a batch (events with the attempts already made on each) and commits it.
    ///
    /// Events of different tickets are handled concurrently, each ticket's in log order;
    /// a handler reads the rows this batch changed already ([`read_row`] sees them). The
    /// effects are then committed in log order: one transaction for the rows of the
    /// whole batch, split only around a parked event, which has a commit of its own.
    /// `false`: shut down meanwhile.
    async fn apply_batch(
        &self,
        events: &[(PublishedEvent, u32)],
        shutdown: &CancellationToken,
    ) -> anyhow::Result<bool> {
        let Some((last, _)) = events.last() else {
            return Ok(true);
        };
        let checkpoint = self.store.checkpoint(self.name()).await?;
        // Lanes: one per stream, in log order within each.
        let mut lanes: Vec<Vec<usize>> = Vec::new();
        let mut lane_of: HashMap<&str, usize> = HashMap::new();
        for (index, (event, _)) in events.iter().enumerate() {
            if event.position <= checkpoint.get() || !self.handler.wants(&event.event_type) {
                continue;
            }
            let lane = *lane_of.entry(event.stream_id.as_str()).or_insert_with(|| {
                lanes.push(Vec::new());
                lanes.len() - 1
            });
            lanes[lane].push(index);
        }
        let pending: Pending = Arc::default();
        let decided: Vec<Vec<(usize, Option<Effect>)>> = PENDING
            .scope(pending.clone(), async {
                futures::future::join_all(lanes.iter().map(|lane| {
                    let pending = &pending;
                    async move {
                        let mut out = Vec::with_capacity(lane.len());
                        for &index in lane {
                            let (event, earlier) = &events[index];
                            let effect = self.decide(event, *earlier, shutdown).await;
                            if let Some(Effect::Apply(changes)) = &effect {
                                let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
                                for change in changes {
                                    pending.insert(
                                        (change.table.clone(), change.key.clone()),
                                        change.value.clone(),
                                    );
                                }
                            }
                            let stop = effect.is_none();
                            out.push((index, effect));
                            if stop {
                                break;
                            }
                        }
                        out
                    }
                }))
                .await
            })
            .await;
        let mut effects: Vec<Option<Option<Effect>>> = vec![None; events.len()];
        for (index, effect) in decided.into_iter().flatten() {
            effects[index] = Some(effect);
        }
        if effects.iter().any(|e| matches!(e, Some(None))) {
            return Ok(false);
        }

        // Commit in log order.
        let mut rows = Vec::new();
        let mut applied = Vec::new();
        let mut covered: Option<Position> = None;
        for (index, (event, _)) in events.iter().enumerate() {
            let position = Position::new(event.position);
            match effects[index].take().flatten() {
                None if event.position <= checkpoint.get() => {
                    self.metrics.outcome(self.name(), "duplicate");
                }
                None => self.metrics.outcome(self.name(), "skipped"),
                Some(Effect::Apply(changes)) => {
                    rows.extend(changes);
                    applied.push(index);
                    covered = Some(position);
                }
                Some(park @ Effect::Park { .. }) => {
                    if let Some(upto) = covered.take()
                        && !self
                            .commit_applied(
                                upto,
                                std::mem::take(&mut rows),
                                &applied,
                                events,
                                shutdown,
                            )
                            .await?
                    {
                        return Ok(false);
                    }
                    applied.clear();
                    match self.commit(position, &park, shutdown).await? {
                        None => return Ok(false),
                        Some(Committed::Applied) => self.metrics.outcome(self.name(), "parked"),
                        Some(Committed::AlreadyApplied) => {
                            self.metrics.outcome(self.name(), "duplicate");
                        }
                    }
                }
            }
        }
        // The rest, and skipped events at the end move the checkpoint too.
        let last = Position::new(last.position);
        if last > checkpoint && self.store.checkpoint(self.name()).await? < last {
            return self
                .commit_applied(last, rows, &applied, events, shutdown)
                .await;
        }
        Ok(true)
    }

    /// Commits `rows` up to `position`, then tells the handler about the applied events.
    async fn commit_applied(
        &self,
        position: Position,
        rows: Vec<RowChange>,
        applied: &[usize],
        events: &[(PublishedEvent, u32)],
        shutdown: &CancellationToken,
    ) -> anyhow::Result<bool> {
        match self
            .commit(position, &Effect::Apply(rows), shutdown)
            .await?
        {
            None => Ok(false),
            Some(Committed::AlreadyApplied) => {
                for _ in applied {
                    self.metrics.outcome(self.name(), "duplicate");
                }
                Ok(true)
            }
            Some(Committed::Applied) => {
                if let Some(&last) = applied.last() {
                    let lag = self.store.clock().now() - events[last].0.recorded_at;
                    self.metrics.lag(self.name(), lag.as_seconds_f64());
                }
                for &index in applied {
                    self.metrics.outcome(self.name(), "applied");
                    self.handler.committed(&events[index].0).await;
                }
                Ok(true)
            }
        }
    }

    /// Handles one event with bounded retries: its effect (rows, or parking), or `None`
    /// when shut down meanwhile.
    async fn decide(
        &self,
        event: &PublishedEvent,
        earlier_attempts: u32,
        shutdown: &CancellationToken,
    ) -> Option<Effect> {
        let mut attempts = earlier_attempts;
        let mut wait = self.config.backoff;
        loop {
            match self.handler.handle(event).await {
                Ok(changes) => return Some(Effect::Apply(changes)),
                Err(HandlerError::Unavailable(reason)) => {
                    tracing::warn!(consumer = self.name(), position = event.position, %reason, "store unavailable; retrying");
                }
                Err(HandlerError::Failed(reason)) => {
                    attempts += 1;
                    if attempts >= self.config.max_attempts {
                        tracing::error!(consumer = self.name(), position = event.position, event_type = %event.event_type, attempts, %reason, "parking the event");
                        return Some(Effect::Park {
                            event_id: event.event_id.to_string(),
                            reason,
                            attempts,
                            message: serde_json::to_value(event).unwrap_or_default(),
                        });
                    }
                    tracing::warn!(consumer = self.name(), position = event.position, attempts, %reason, "handling failed; retrying");
                }
            }
            self.metrics.retried(self.name());
            tokio::select! {
                () = shutdown.cancelled() => return None,
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(self.config.max_backoff);
        }
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

/// Rows a batch changed, not yet committed: handlers of later events read them first.
type Pending = Arc<Mutex<HashMap<(String, String), Option<serde_json::Value>>>>;

tokio::task_local! {
    static PENDING: Pending;
}

fn header(message: &jetstream::Message, name: &str) -> Option<String> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
}
