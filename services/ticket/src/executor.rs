//! Runs ticket commands: load the ticket from its stream, let the aggregate decide,
//! append the events, and retry on a concurrency conflict a bounded number of times.

use std::sync::Arc;
use std::time::Duration;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateError, CqrsFramework, EventStore as _};
use whistle_clock::Clock;
use whistle_events::{EventMetadata, TicketEvent, TicketId};
use whistle_store::{CacheHandle, CachedEventStore, EventStore, StoreError};

use crate::aggregate::{Ticket, TicketServices};
use crate::codec::TicketCodec;
use crate::command::TicketCommand;
use crate::error::TicketError;
use crate::timeline::TimelineEntry;

/// How many times a command is tried when other commands keep changing the ticket first.
pub const DEFAULT_ATTEMPTS: u32 = 5;

/// How many ticket states a process keeps in memory between commands.
pub const DEFAULT_CACHED_TICKETS: usize = 10_000;

/// Why a command did not take effect. Nothing was written, except where
/// [`CommandError::OutcomeUnknown`] says it may have been.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The ticket refused the command.
    #[error(transparent)]
    Rejected(#[from] TicketError),
    /// Other commands kept changing the ticket first.
    #[error(
        "ticket {ticket} kept changing while this command ran ({attempts} attempts); nothing was written. You may safely retry the request"
    )]
    Conflict {
        /// The ticket.
        ticket: TicketId,
        /// How many times it was tried.
        attempts: u32,
    },
    /// The event store cannot be reached. Nothing was written.
    #[error("{0}")]
    Unavailable(String),
    /// The command's events were sent but not confirmed: they may or may not be recorded.
    /// Read the ticket's timeline before trying again.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// A stored event of the ticket cannot be read (unknown type or version, bad payload).
    #[error("{0}")]
    Unreadable(String),
    /// Anything else the store reported.
    #[error("{0}")]
    Store(String),
}

impl CommandError {
    fn from_aggregate(error: AggregateError<TicketError>) -> Self {
        match error {
            AggregateError::UserError(e) => Self::Rejected(e),
            AggregateError::DatabaseConnectionError(e) => Self::Unavailable(e.to_string()),
            AggregateError::DeserializationError(e) => Self::Unreadable(e.to_string()),
            AggregateError::UnexpectedError(e) => match e.downcast_ref::<StoreError>() {
                Some(StoreError::OutcomeUnknown { .. }) => Self::OutcomeUnknown(e.to_string()),
                _ => Self::Store(e.to_string()),
            },
            // Handled by the retry loop; kept total in case a caller maps one directly.
            AggregateError::AggregateConflict => Self::Store(
                "the ticket changed while the command ran; nothing was written, retry".into(),
            ),
        }
    }
}

/// The one way to change a ticket.
pub struct Tickets {
    cqrs: CqrsFramework<Ticket, CachedEventStore<Ticket>>,
    cache: CacheHandle<Ticket>,
    events: PersistedEventStore<EventStore, Ticket>,
    store: EventStore,
    attempts: u32,
}

impl std::fmt::Debug for Tickets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tickets")
            .field("store", &self.store.describe())
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl Tickets {
    /// Ticket commands on `store`, timed by `clock`. Registers the ticket codec on the
    /// store, so every read of a ticket stream is checked.
    pub fn new(store: EventStore, clock: Arc<dyn Clock>) -> Self {
        Self::with_cache(store, clock, DEFAULT_CACHED_TICKETS)
    }

    /// Like [`Tickets::new`], keeping up to `cached` ticket states in memory between
    /// commands (0: load every ticket from the log for every command).
    pub fn with_cache(store: EventStore, clock: Arc<dyn Clock>, cached: usize) -> Self {
        let store = store.with_codec(
            <Ticket as cqrs_es::Aggregate>::TYPE,
            Arc::new(TicketCodec::current()),
        );
        // Events only, no cqrs-es snapshot store (in 0.5.0 they apply every event twice);
        // the cache in front is safe because every append checks the stream's version.
        let events = CachedEventStore::new(store.clone(), cached);
        let cache = events.handle();
        let cqrs = CqrsFramework::new(events, vec![], TicketServices { clock });
        Self {
            cqrs,
            cache,
            events: PersistedEventStore::new_event_store(store.clone()),
            store,
            attempts: DEFAULT_ATTEMPTS,
        }
    }

    /// Tries a conflicting command at most `attempts` times (at least once).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The store, with the ticket codec registered.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// Executes `command` on `ticket`, recording `metadata` with its events.
    #[tracing::instrument(skip(self, command, metadata), fields(command = command_name(&command)))]
    pub async fn execute(
        &self,
        ticket: TicketId,
        command: TicketCommand,
        metadata: &EventMetadata,
    ) -> Result<(), CommandError> {
        if let TicketCommand::MergeInto { into, .. } = &command
            && *into == ticket
        {
            return Err(TicketError::SelfMerge.into());
        }
        let id = ticket.to_string();
        let map = metadata.to_map();
        let mut attempt = 0;
        let mut decided_from_log = false;
        while attempt < self.attempts {
            attempt += 1;
            match self
                .cqrs
                .execute_with_metadata(&id, command.clone(), map.clone())
                .await
            {
                Ok(()) => return Ok(()),
                // A rejection appends nothing, so no version check vouches for the state it
                // was decided on: if that state came from the cache, decide once more from
                // the log (this does not use up an attempt).
                Err(AggregateError::UserError(_))
                    if !decided_from_log && self.cache.forget(&id) =>
                {
                    tracing::debug!("rejected on a cached state, deciding again from the log");
                    decided_from_log = true;
                    attempt -= 1;
                }
                Err(AggregateError::AggregateConflict) if attempt < self.attempts => {
                    tracing::debug!(attempt, "concurrency conflict, retrying");
                    tokio::time::sleep(Duration::from_millis(2 * u64::from(attempt))).await;
                }
                Err(AggregateError::AggregateConflict) => {
                    tracing::warn!(attempts = self.attempts, "concurrency conflict, giving up");
                    return Err(CommandError::Conflict {
                        ticket,
                        attempts: self.attempts,
                    });
                }
                Err(e) => return Err(CommandError::from_aggregate(e)),
            }
        }
        Err(CommandError::Conflict {
            ticket,
            attempts: self.attempts,
        })
    }

    /// The ticket's current state (a read: nothing is written).
    pub async fn load(&self, ticket: TicketId) -> Result<Ticket, CommandError> {
        let mut context = self
            .events
            .load_aggregate(&ticket.to_string())
            .await
            .map_err(CommandError::from_aggregate)?;
        Ok(cqrs_es::AggregateContext::aggregate(&mut context).clone())
    }

    /// The ticket's state including at least its first `version` events: the cached
    /// state when it is that recent (the services' own commands keep it so), else read
    /// from the log. For readers reacting to an event, which pass its stream version.
    pub async fn load_after(&self, ticket: TicketId, version: u64) -> Result<Ticket, CommandError> {
        let id = ticket.to_string();
        let needed = usize::try_from(version).unwrap_or(usize::MAX);
        if let Some(state) = self.cache.at_least(&id, needed) {
            return Ok(state);
        }
        let mut context = self
            .events
            .load_aggregate(&id)
            .await
            .map_err(CommandError::from_aggregate)?;
        let state = cqrs_es::AggregateContext::aggregate(&mut context).clone();
        self.cache
            .remember(&id, state.clone(), context.current_sequence);
        Ok(state)
    }

    /// Every event of the ticket, oldest first, with who did it and when.
    pub async fn timeline(&self, ticket: TicketId) -> Result<Vec<TimelineEntry>, CommandError> {
        let events = self
            .store
            .read_stream(<Ticket as cqrs_es::Aggregate>::TYPE, &ticket.to_string(), 0)
            .await
            .map_err(|e| {
                if matches!(e, whistle_store::StoreError::Unavailable { .. }) {
                    CommandError::Unavailable(e.to_string())
                } else {
                    CommandError::Unreadable(e.to_string())
                }
            })?;
        events
            .into_iter()
            .map(|recorded| {
                let event = TicketEvent::decode(
                    &recorded.event_type,
                    &recorded.event_version,
                    &recorded.payload,
                )
                .map_err(|e| {
                    CommandError::Unreadable(format!(
                        "{} at position {}: {e}",
                        recorded.stream(),
                        recorded.position
                    ))
                })?;
                Ok(TimelineEntry {
                    position: recorded.position,
                    version: recorded.stream_version,
                    recorded_at: recorded.recorded_at,
                    metadata: recorded.metadata(),
                    event,
                })
            })
            .collect()
    }
}

fn command_name(command: &TicketCommand) -> &'static str {
    match command {
        TicketCommand::Receive(_) => "Receive",
        TicketCommand::Acknowledge { .. } => "Acknowledge",
        TicketCommand::HandleLocally { .. } => "HandleLocally",
        TicketCommand::CallUp { .. } => "CallUp",
        TicketCommand::BlowWhistle { .. } => "BlowWhistle",
        TicketCommand::ReportIn { .. } => "ReportIn",
        TicketCommand::Decline { .. } => "Decline",
        TicketCommand::NoteProgress { .. } => "NoteProgress",
        TicketCommand::Finish { .. } => "Finish",
        TicketCommand::RequestExtension { .. } => "RequestExtension",
        TicketCommand::ApproveExtension { .. } => "ApproveExtension",
        TicketCommand::DenyExtension { .. } => "DenyExtension",
        TicketCommand::Resolve { .. } => "Resolve",
        TicketCommand::RecordFeedback { .. } => "RecordFeedback",
        TicketCommand::Reopen { .. } => "Reopen",
        TicketCommand::Close { .. } => "Close",
        TicketCommand::MergeInto { .. } => "MergeInto",
        TicketCommand::AbsorbDuplicate { .. } => "AbsorbDuplicate",
        TicketCommand::OpenSupervision { .. } => "OpenSupervision",
        TicketCommand::RecordBreach { .. } => "RecordBreach",
        TicketCommand::RecordSourceUpdate { .. } => "RecordSourceUpdate",
        TicketCommand::RecordWarning { .. } => "RecordWarning",
        TicketCommand::PauseClocks { .. } => "PauseClocks",
        TicketCommand::ResumeClocks { .. } => "ResumeClocks",
    }
}
