//! Runs ticket commands: load the ticket from its stream, let the aggregate decide,
//! append the events, and retry on a concurrency conflict a bounded number of times.
//!
//! Around the aggregate it keeps the resident's personal data sealed (see `privacy.rs`):
//! a `Receive` with a contact is sealed with the ticket's key before the aggregate sees
//! it, the key is stored before the event (an orphan key is harmless, an event no key
//! opens is not), and `ErasePersonalData` destroys the key once the erasure is recorded.

use std::sync::Arc;
use std::time::Duration;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateError, CqrsFramework, EventStore as _};
use whistle_clock::Clock;
use whistle_events::ticket::Received;
use whistle_events::{EventMetadata, ReporterContact, TicketEvent, TicketId};
use whistle_store::{CacheHandle, CachedEventStore, EventStore, StoreError, TicketKey};

use crate::aggregate::{Ticket, TicketServices};
use crate::codec::TicketCodec;
use crate::command::TicketCommand;
use crate::error::TicketError;
use crate::privacy::{Reporter, SealError, TicketCipher, Vault};
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

impl From<SealError> for CommandError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::Unsealable { .. } => Self::Store(error.to_string()),
            SealError::WrongMasterKey { .. } | SealError::Unopenable { .. } => {
                Self::Unreadable(error.to_string())
            }
        }
    }
}

/// A store error outside an append: unreachable (nothing happened), or anything else.
fn store_error(error: StoreError) -> CommandError {
    match error {
        StoreError::Unavailable { .. } => CommandError::Unavailable(error.to_string()),
        other => CommandError::Store(other.to_string()),
    }
}

/// The key a `Receive` seals its contact with.
enum ContactKey {
    /// The ticket's key, unwrapped.
    Open(TicketCipher),
    /// The ticket's personal data was erased: nothing is sealed for it again.
    Erased,
}

/// The one way to change a ticket.
pub struct Tickets {
    cqrs: CqrsFramework<Ticket, CachedEventStore<Ticket>>,
    cache: CacheHandle<Ticket>,
    events: PersistedEventStore<EventStore, Ticket>,
    store: EventStore,
    attempts: u32,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Tickets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tickets")
            .field("store", &self.store.describe())
            .field("attempts", &self.attempts)
            .field("vault", &self.vault)
            .finish()
    }
}

impl Tickets {
    /// Ticket commands on `store`, timed by `clock`. Registers the ticket codec on the
    /// store, so every read of a ticket stream is checked.
    ///
    /// Contacts are sealed under an [ephemeral](Vault::ephemeral) master key until
    /// [`Tickets::with_vault`] gives the configured one: fine for tests and demos, but a
    /// service that must read contacts back after a restart has to call it.
    pub fn new(store: EventStore, clock: Arc<dyn Clock>) -> Self {
        Self::with_cache(store, clock, DEFAULT_CACHED_TICKETS)
    }

    /// Like [`Tickets::new`], keeping up to `cached` ticket states in memory between
    /// commands (0: load every ticket from the log for every command).
    pub fn with_cache(store: EventStore, clock: Arc<dyn Clock>, cached: usize) -> Self {
        let store = TicketCodec::register(store);
        // Events only, no cqrs-es snapshot store (in 0.5.0 they apply every event twice);
        // the cache in front is safe because every append checks the stream's version.
        let events = CachedEventStore::new(store.clone(), cached);
        let cache = events.handle();
        let cqrs = CqrsFramework::new(
            events,
            vec![],
            TicketServices {
                clock: clock.clone(),
            },
        );
        Self {
            cqrs,
            cache,
            events: PersistedEventStore::new_event_store(store.clone()),
            store,
            attempts: DEFAULT_ATTEMPTS,
            vault: Arc::new(Vault::ephemeral()),
            clock,
        }
    }

    /// Seals and opens contacts with `vault`'s master key (the one from configuration:
    /// every process of one store must use the same).
    pub fn with_vault(mut self, vault: Arc<Vault>) -> Self {
        self.vault = vault;
        self
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
        // The key first: an orphan key (the append then fails) is harmless, an event whose
        // key was never stored is not.
        let contact_key = match &command {
            TicketCommand::Receive(received) if !received.reporter.is_empty() => {
                Some(self.contact_key(ticket).await?)
            }
            _ => None,
        };
        let id = ticket.to_string();
        let map = metadata.to_map();
        let mut attempt = 0;
        let mut decided_from_log = false;
        while attempt < self.attempts {
            attempt += 1;
            // Sealed again on every attempt: whether the complaint is already recorded
            // (and so must be handed over as recorded) may have changed.
            let decide = match (&command, &contact_key) {
                (TicketCommand::Receive(received), Some(key)) => {
                    TicketCommand::Receive(self.seal(ticket, received, key).await?)
                }
                _ => command.clone(),
            };
            match self
                .cqrs
                .execute_with_metadata(&id, decide, map.clone())
                .await
            {
                Ok(()) => {
                    if matches!(command, TicketCommand::ErasePersonalData { .. }) {
                        self.erase_key(ticket).await?;
                    }
                    return Ok(());
                }
                // A rejection appends nothing, so no version check vouches for the state it
                // was decided on: if that state came from the cache, decide once more from
                // the log (this does not use up an attempt). A sealed `Receive` is decided
                // once more in any case: it was sealed on a state read before the aggregate
                // read its own, and a complaint recorded in between must be handed over as
                // recorded to be recognised.
                Err(AggregateError::UserError(_))
                    if !decided_from_log && (self.cache.forget(&id) || contact_key.is_some()) =>
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

    /// The ticket's key for sealing a contact: stored now unless the ticket has one (then
    /// that one, so racing commands agree), and unwrapped.
    async fn contact_key(&self, ticket: TicketId) -> Result<ContactKey, CommandError> {
        let wrapped = self
            .vault
            .new_ticket_key(ticket)
            .map_err(|e| CommandError::Store(e.to_string()))?;
        match self
            .store
            .put_ticket_key(ticket, &wrapped)
            .await
            .map_err(store_error)?
        {
            TicketKey::Present(stored) => Ok(ContactKey::Open(
                self.vault.open_ticket_key(ticket, &stored)?,
            )),
            TicketKey::Erased { .. } => Ok(ContactKey::Erased),
            TicketKey::Missing => Err(CommandError::Store(format!(
                "the store kept no key for ticket {ticket}; nothing was written, retry"
            ))),
        }
    }

    /// `received` as the aggregate is to see it: its contact sealed under a fresh nonce;
    /// or, when the ticket already holds a complaint with this same contact (or one whose
    /// contact was erased and can no longer be compared), with the contact exactly as it
    /// was recorded, so the aggregate compares the rest and recognises a complaint sent
    /// again. The plain contact never reaches the aggregate.
    async fn seal(
        &self,
        ticket: TicketId,
        received: &Received,
        key: &ContactKey,
    ) -> Result<Received, CommandError> {
        let state = self.load_after(ticket, 0).await?;
        if let Some(existing) = state.received() {
            let same_contact = match (key, &existing.sealed_reporter) {
                (ContactKey::Erased, _) => true,
                (ContactKey::Open(cipher), Some(sealed)) => {
                    cipher.open(ticket, sealed)? == received.reporter
                }
                (ContactKey::Open(_), None) => existing.reporter == received.reporter,
            };
            if same_contact {
                return Ok(Received {
                    reporter: existing.reporter.clone(),
                    sealed_reporter: existing.sealed_reporter.clone(),
                    ..received.clone()
                });
            }
        }
        match key {
            ContactKey::Open(cipher) => Ok(Received {
                reporter: ReporterContact::default(),
                sealed_reporter: Some(cipher.seal(ticket, &received.reporter)?),
                ..received.clone()
            }),
            ContactKey::Erased => Err(CommandError::Store(format!(
                "the personal data of ticket {ticket} was erased, yet the ticket holds no complaint; nothing was written: submit the complaint under a new ticket id"
            ))),
        }
    }

    /// Destroys the ticket's key, after its erasure is recorded. Idempotent.
    async fn erase_key(&self, ticket: TicketId) -> Result<(), CommandError> {
        self.store
            .erase_ticket_key(ticket, self.clock.now())
            .await
            .map_err(|e| {
                CommandError::Store(format!(
                    "the erasure of ticket {ticket}'s personal data is recorded, but its key could not be destroyed yet ({e}); run ErasePersonalData again: it destroys the key without recording the erasure twice"
                ))
            })
    }

    /// The resident's contact on `ticket`, opened with the ticket's key: show it only to
    /// roles that call the resident back. A ticket recorded before contacts were sealed
    /// gives its plain contact; an erased one [`Reporter::Erased`], whatever it held.
    pub async fn reporter(&self, ticket: TicketId) -> Result<Reporter, CommandError> {
        let timeline = self.timeline(ticket).await?;
        let mut received = None;
        let mut erased_at = None;
        for entry in &timeline {
            match &entry.event {
                TicketEvent::Received(r) => {
                    received.get_or_insert(r);
                }
                TicketEvent::PersonalDataErased(_) => {
                    erased_at.get_or_insert(entry.recorded_at);
                }
                _ => {}
            }
        }
        let received = received.ok_or(TicketError::NotReceived)?;
        if let Some(at) = erased_at {
            return Ok(Reporter::Erased { at });
        }
        let Some(sealed) = &received.sealed_reporter else {
            return Ok(if received.reporter.is_empty() {
                Reporter::None
            } else {
                Reporter::Contact(received.reporter.clone())
            });
        };
        match self.store.ticket_key(ticket).await.map_err(store_error)? {
            TicketKey::Present(wrapped) => {
                let cipher = self.vault.open_ticket_key(ticket, &wrapped)?;
                Ok(Reporter::Contact(cipher.open(ticket, sealed)?))
            }
            TicketKey::Erased { at } => Ok(Reporter::Erased { at }),
            TicketKey::Missing => Err(CommandError::Unreadable(format!(
                "the reporter contact of ticket {ticket} is sealed, but the store holds no key for it: restore the table `ticket_keys` from a backup"
            ))),
        }
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
        TicketCommand::ErasePersonalData { .. } => "ErasePersonalData",
    }
}
