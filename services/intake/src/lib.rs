//! Intake of incidents from other systems (hotline platform, IoT sensors, property
//! companies).
//!
//! - **Consumes**: JetStream stream `INCIDENTS` (subjects `incidents.>`), durable pull
//!   consumer `intake`, explicit acks, one message at a time in stream order (an update
//!   never overtakes its trigger).
//! - **Decides** ([`Intake::accept`]): the message must parse and validate
//!   ([`whistle_events::incident`]) and its location must be in the jurisdiction tree;
//!   `trigger` receives the ticket whose id is derived from source + external id (the same
//!   incident lands on the same ticket forever, inside JetStream's dedupe window or not),
//!   `update` records the source's note, `resolve` records that the source cleared it and
//!   resolves the ticket when no department is at work on it. Every effect is a command
//!   the aggregate makes idempotent (a second `Receive` changes nothing, a `SourceUpdated`
//!   is recorded once per message id), so a redelivered message is harmless.
//! - **Rejects**: an invalid message is published to stream `REJECTED`
//!   (`rejected.incidents.<source>`) with its code, reason and original payload, then
//!   acknowledged: never dropped silently, never redelivered forever. A message that fails
//!   [`IntakeConfig::max_deliveries`] times for another reason is parked there too.
//! - **Answers**: a publisher that sends a request (a reply subject) gets
//!   `{"status":"accepted","ticket_id":…}` or `{"status":"rejected","code":…,"reason":…}`
//!   once the message is decided. The `INCIDENTS` stream is created without publish acks,
//!   so JetStream's own ack never takes the place of that answer.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, AckKind, consumer::pull, stream};
use futures::StreamExt as _;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use whistle_clock::Clock;
use whistle_events::incident::{
    INCIDENTS_PREFIX, IncidentAnswer, IncidentRejection, IncidentRequest, RejectedIncident,
    RejectionCode, parse_incident, rejected_subject,
};
use whistle_events::subjects::UNKNOWN_TOKEN;
use whistle_events::{ActorId, EventMetadata, Text, TicketId};
use whistle_routing::Catalogue;
use whistle_ticket::{CommandError, Stage, TicketCommand, TicketError, Tickets};

/// Intake's configuration. Defaults are production's.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// The stream incidents are kept in.
    pub stream: String,
    /// The stream rejected messages go to.
    pub rejected_stream: String,
    /// The durable consumer's name.
    pub durable: String,
    /// Incidents arrive on `<subject_prefix>.<source>`.
    pub subject_prefix: String,
    /// Rejections go to `<rejected_prefix>.incidents.<source>`; the rejected stream takes
    /// `<rejected_prefix>.>`.
    pub rejected_prefix: String,
    /// Deliveries before a message that keeps failing is parked in the rejected stream.
    pub max_deliveries: i64,
    /// How long to wait before retrying while the event store is unreachable.
    pub retry_after: Duration,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            stream: "INCIDENTS".to_owned(),
            rejected_stream: "REJECTED".to_owned(),
            durable: "intake".to_owned(),
            subject_prefix: INCIDENTS_PREFIX.to_owned(),
            rejected_prefix: "rejected".to_owned(),
            max_deliveries: 5,
            retry_after: Duration::from_secs(1),
        }
    }
}

/// The labels of intake's counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct IntakeLabels {
    /// `accepted`, or the rejection code.
    pub outcome: String,
}

/// Intake's counters.
#[derive(Debug, Clone, Default)]
pub struct IntakeMetrics {
    messages: Family<IntakeLabels, Counter>,
}

impl IntakeMetrics {
    /// Counters registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "whistle_intake_messages",
            "Incident messages decided by the intake consumer, by outcome (accepted or the rejection code)",
            metrics.messages.clone(),
        );
        metrics
    }

    fn count(&self, outcome: &str) {
        self.messages
            .get_or_create(&IntakeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// How many messages ended with `outcome`.
    pub fn get(&self, outcome: &str) -> u64 {
        self.messages
            .get_or_create(&IntakeLabels {
                outcome: outcome.to_owned(),
            })
            .get()
    }
}

/// Deciding incident messages.
#[derive(Debug, Clone)]
pub struct Intake {
    tickets: Arc<Tickets>,
    catalogue: Arc<Catalogue>,
}

/// The store could not be reached: nothing was decided, try again.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

fn rejected(code: RejectionCode, reason: impl Into<String>) -> IncidentAnswer {
    IncidentRejection::new(code, reason).into()
}

impl Intake {
    /// Intake acting through `tickets`, checking locations against `catalogue`.
    pub fn new(tickets: Arc<Tickets>, catalogue: Arc<Catalogue>) -> Self {
        Self { tickets, catalogue }
    }

    /// Decides one message received on `subject`, whose source token is `source` (`None`:
    /// the subject does not end in a single source token).
    pub async fn accept(
        &self,
        subject: &str,
        source: Option<&str>,
        payload: &[u8],
    ) -> Result<IncidentAnswer, Unavailable> {
        let Some(token) = source else {
            return Ok(rejected(
                RejectionCode::SourceMismatch,
                format!(
                    "subject `{subject}` is not `{INCIDENTS_PREFIX}.<source>`: publish on the subject named after your source code"
                ),
            ));
        };
        let incident = match parse_incident(token, payload) {
            Ok(incident) => incident,
            Err(rejection) => return Ok(rejection.into()),
        };
        let ticket = incident.ticket();
        let actor = ActorId::parse(format!("source-{}", incident.source()))
            .or_else(|_| ActorId::parse("source"))
            .map_err(|e| Unavailable(e.to_string()))?;
        let metadata = EventMetadata::by(actor);
        let message_id = uuid::Uuid::new_v5(&ticket.as_uuid(), payload);
        let received = incident.received();
        match incident.into_request() {
            IncidentRequest::Trigger { location, .. } => {
                if let Err(unknown) = self.catalogue.check_location(&location) {
                    return Ok(rejected(
                        RejectionCode::UnknownLocation,
                        unknown.to_string(),
                    ));
                }
                let Some(received) = received else {
                    return Err(Unavailable("a trigger without a complaint".to_owned()));
                };
                self.run(ticket, TicketCommand::Receive(received), &metadata)
                    .await
            }
            IncidentRequest::Update { note } => {
                self.update(ticket, Some(note), false, message_id, &metadata)
                    .await
            }
            IncidentRequest::Resolve { note } => {
                let answer = self
                    .update(ticket, note.clone(), true, message_id, &metadata)
                    .await?;
                if matches!(answer, IncidentAnswer::Accepted { .. }) {
                    self.resolve_if_unassigned(ticket, note, &metadata).await?;
                }
                Ok(answer)
            }
        }
    }

    async fn update(
        &self,
        ticket: TicketId,
        note: Option<Text>,
        cleared: bool,
        message_id: uuid::Uuid,
        metadata: &EventMetadata,
    ) -> Result<IncidentAnswer, Unavailable> {
        let state = self.tickets.load(ticket).await.map_err(unavailable)?;
        match state.stage() {
            Stage::New => {
                return Ok(rejected(
                    RejectionCode::UnknownIncident,
                    "no incident with this source and external_id was triggered: send action `trigger` first",
                ));
            }
            // The source clears an incident whose ticket is already closed: nothing to do.
            Stage::Closed | Stage::Merged { .. } if cleared => {
                return Ok(IncidentAnswer::Accepted { ticket_id: ticket });
            }
            _ => {}
        }
        self.run(
            ticket,
            TicketCommand::RecordSourceUpdate {
                note,
                cleared,
                message_id,
            },
            metadata,
        )
        .await
    }

    /// Resolves the ticket when the source cleared the incident and no department is at
    /// work on it yet; a whistled ticket stays with its departments, who see the update.
    async fn resolve_if_unassigned(
        &self,
        ticket: TicketId,
        note: Option<Text>,
        metadata: &EventMetadata,
    ) -> Result<(), Unavailable> {
        let state = self.tickets.load(ticket).await.map_err(unavailable)?;
        if !matches!(
            state.stage(),
            Stage::Received | Stage::Acknowledged | Stage::HandlingLocally | Stage::CalledUp
        ) {
            return Ok(());
        }
        let summary = match note {
            Some(note) => format!("the reporting system cleared the incident: {note}"),
            None => "the reporting system cleared the incident".to_owned(),
        };
        let summary: String = summary.chars().take(2_000).collect();
        let summary = Text::note(summary).map_err(|e| Unavailable(e.to_string()))?;
        match self
            .tickets
            .execute(ticket, TicketCommand::Resolve { summary }, metadata)
            .await
        {
            // Someone moved it on meanwhile (whistled, resolved): theirs to finish.
            Ok(()) | Err(CommandError::Rejected(_)) => Ok(()),
            Err(other) => Err(unavailable(other)),
        }
    }

    async fn run(
        &self,
        ticket: TicketId,
        command: TicketCommand,
        metadata: &EventMetadata,
    ) -> Result<IncidentAnswer, Unavailable> {
        match self.tickets.execute(ticket, command, metadata).await {
            Ok(()) => Ok(IncidentAnswer::Accepted { ticket_id: ticket }),
            Err(CommandError::Rejected(TicketError::Closed | TicketError::Merged { .. })) => {
                Ok(rejected(
                    RejectionCode::TicketClosed,
                    format!(
                        "ticket {ticket} is closed and takes no updates: if the problem is back, trigger a new incident with a new external_id"
                    ),
                ))
            }
            Err(CommandError::Rejected(other)) => {
                Ok(rejected(RejectionCode::Unprocessable, other.to_string()))
            }
            Err(other) => Err(unavailable(other)),
        }
    }
}

fn unavailable(error: CommandError) -> Unavailable {
    Unavailable(error.to_string())
}

/// Where the rejection of a message whose source token is `source` is kept, under
/// `rejected_prefix` (`rejected`, or `<namespace>.rejected`):
/// `<rejected_prefix>.incidents.<source>`, `_` standing for a token that is not a source code.
pub fn rejected_subject_under(rejected_prefix: &str, source: &str) -> String {
    let subject = rejected_subject(source);
    match subject.split_once('.') {
        Some((_, rest)) => format!("{rejected_prefix}.{rest}"),
        None => subject,
    }
}

/// Keeps `record` in the `REJECTED` stream on `subject` and waits for JetStream to store
/// it. The one way a rejection is kept, whether the message came over NATS or over HTTP,
/// so operators find every rejected incident in one place.
pub async fn keep_rejected(
    js: &jetstream::Context,
    subject: String,
    record: &RejectedIncident,
) -> anyhow::Result<()> {
    let body = serde_json::to_vec(record).context("encoding a rejection")?;
    js.publish(subject, body.into())
        .await
        .context("publishing a rejection")?
        .await
        .context("storing a rejection in the REJECTED stream")?;
    Ok(())
}

/// The intake service on NATS.
#[derive(Debug)]
pub struct IntakeService {
    intake: Intake,
    client: async_nats::Client,
    clock: Arc<dyn Clock>,
    config: IntakeConfig,
    metrics: IntakeMetrics,
}

impl IntakeService {
    /// The service deciding with `intake`, on `client`'s NATS.
    pub fn new(
        intake: Intake,
        client: async_nats::Client,
        clock: Arc<dyn Clock>,
        config: IntakeConfig,
        metrics: IntakeMetrics,
    ) -> Self {
        Self {
            intake,
            client,
            clock,
            config,
            metrics,
        }
    }

    /// The source token of an incident subject (`<subject_prefix>.<source>`).
    fn source_of<'a>(&self, subject: &'a str) -> Option<&'a str> {
        subject
            .strip_prefix(self.config.subject_prefix.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .filter(|rest| !rest.is_empty() && !rest.contains('.'))
    }

    /// Where a rejection of a message from `source` goes.
    fn rejected_subject(&self, source: &str) -> String {
        rejected_subject_under(&self.config.rejected_prefix, source)
    }

    /// Creates the streams if missing.
    pub async fn ensure_streams(&self) -> anyhow::Result<jetstream::stream::Stream> {
        let js = jetstream::new(self.client.clone());
        js.get_or_create_stream(stream::Config {
            name: self.config.rejected_stream.clone(),
            subjects: vec![format!("{}.>", self.config.rejected_prefix)],
            description: Some(
                "Messages whistle could not accept, with the reason and the original payload"
                    .to_owned(),
            ),
            ..Default::default()
        })
        .await
        .with_context(|| {
            format!(
                "creating the JetStream stream {}",
                self.config.rejected_stream
            )
        })?;
        js.get_or_create_stream(stream::Config {
            name: self.config.stream.clone(),
            subjects: vec![format!("{}.>", self.config.subject_prefix)],
            description: Some("Incident messages from other systems".to_owned()),
            // Requests are answered by intake itself, once the message is decided.
            no_ack: true,
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating the JetStream stream {}", self.config.stream))
    }

    /// Creates the streams and subscribes for requests: once this returns, a request is
    /// both answered and kept. A request answered before `INCIDENTS` existed would be
    /// decided but never kept (and its rejection never reach `REJECTED`), so nothing is
    /// answered before.
    pub async fn prepare(&self) -> anyhow::Result<async_nats::Subscriber> {
        self.ensure_streams().await?;
        self.client
            .queue_subscribe(
                format!("{}.>", self.config.subject_prefix),
                "whistle-intake".to_owned(),
            )
            .await
            .context("subscribing to incident requests")
    }

    /// Runs until `shutdown`: prepares (retrying until NATS lets it), then answers
    /// requests and consumes the stream, starting over after an error.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let requests = loop {
            match self.prepare().await {
                Ok(requests) => break requests,
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "intake cannot create its streams yet; retrying"
                ),
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.config.retry_after) => {}
            }
        };
        self.run_prepared(requests, shutdown).await
    }

    /// Runs until `shutdown` with the subscription [`IntakeService::prepare`] made.
    pub async fn run_prepared(
        self,
        requests: async_nats::Subscriber,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let answering = self.answer_requests(requests, shutdown.clone());
        let consuming = async {
            loop {
                match self.consume(&shutdown).await {
                    Ok(()) => return,
                    Err(error) => tracing::warn!(
                        error = format!("{error:#}"),
                        "intake stopped; starting over"
                    ),
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(self.config.retry_after) => {}
                }
            }
        };
        let (answered, ()) = tokio::join!(answering, consuming);
        answered
    }

    /// Answers publishers that asked (a reply subject), deciding the message at once.
    /// The same message also reaches the durable consumer, which decides it again, with
    /// no further effect.
    async fn answer_requests(
        &self,
        mut requests: async_nats::Subscriber,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                message = requests.next() => message,
            };
            let Some(message) = message else {
                return Ok(());
            };
            let Some(reply) = message.reply else { continue };
            let source = self.source_of(&message.subject);
            match self
                .intake
                .accept(&message.subject, source, &message.payload)
                .await
            {
                Ok(answer) => {
                    let body = serde_json::to_vec(&answer).unwrap_or_default();
                    if let Err(error) = self.client.publish(reply, body.into()).await {
                        tracing::warn!(%error, "cannot answer an incident request");
                    }
                }
                // No answer: the publisher's request times out and it retries, which is
                // harmless; the stream keeps the message for the durable consumer.
                Err(error) => tracing::warn!(%error, "cannot decide an incident request now"),
            }
        }
    }

    async fn consume(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let stream = self.ensure_streams().await?;
        let consumer: jetstream::consumer::Consumer<pull::Config> = stream
            .get_or_create_consumer(
                &self.config.durable,
                pull::Config {
                    durable_name: Some(self.config.durable.clone()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    max_deliver: self.config.max_deliveries + 1,
                    ..Default::default()
                },
            )
            .await
            .context("opening the intake consumer")?;
        let js = jetstream::new(self.client.clone());
        loop {
            let mut messages = consumer
                .fetch()
                .max_messages(64)
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .context("fetching incidents")?;
            loop {
                let message = tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    message = messages.next() => message,
                };
                let Some(message) = message else { break };
                let message = message.map_err(|e| anyhow::anyhow!("receiving an incident: {e}"))?;
                let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
                let answer = if delivered > self.config.max_deliveries {
                    rejected(
                        RejectionCode::Unprocessable,
                        format!(
                            "delivered {delivered} times without being decided (the process stopped on it each time); publish it again once the cause is fixed"
                        ),
                    )
                } else {
                    loop {
                        let source = self.source_of(&message.subject);
                        match self
                            .intake
                            .accept(&message.subject, source, &message.payload)
                            .await
                        {
                            Ok(answer) => break answer,
                            Err(error) => {
                                tracing::warn!(%error, "cannot decide an incident now; retrying");
                                tokio::select! {
                                    () = shutdown.cancelled() => return Ok(()),
                                    () = tokio::time::sleep(self.config.retry_after) => {}
                                }
                            }
                        }
                    }
                };
                match &answer {
                    IncidentAnswer::Accepted { .. } => self.metrics.count("accepted"),
                    IncidentAnswer::Rejected { code, reason } => {
                        self.metrics.count(code.as_str());
                        let token = self.source_of(&message.subject).unwrap_or(UNKNOWN_TOKEN);
                        let record = RejectedIncident::new(
                            &message.subject,
                            &IncidentRejection::new(*code, reason.clone()),
                            &message.payload,
                            self.clock.now(),
                        );
                        keep_rejected(&js, self.rejected_subject(token), &record).await?;
                        tracing::info!(subject = %message.subject, code = code.as_str(), %reason, "incident rejected");
                    }
                }
                message
                    .ack_with(AckKind::Ack)
                    .await
                    .map_err(|e| anyhow::anyhow!("acknowledging an incident: {e}"))?;
            }
        }
    }
}
