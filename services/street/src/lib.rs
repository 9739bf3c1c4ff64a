//! The street whistle stage (街道吹哨).
//!
//! - **Consumes** (consumer `street`): `CalledUp`, `Reopened`, `DepartmentDeclined`,
//!   `DepartmentFinished`, `WhistleBlown`, `Resolved`, `Closed`, `MergedInto`.
//! - **Decides** whom to summon with the routing catalogue: under the street's `auto`
//!   policy it blows the whistle itself; under `confirm`, or when no one is left to
//!   summon, the ticket waits in the read model `dispatch_queue` (rows
//!   `<street>/<ticket>`, [`queue`]) with the catalogue's suggestion.
//! - **Re-dispatches** a declined summons (退单) to the next candidate, or to the
//!   dispatcher.
//! - **Resolves** a ticket once every summoned department reported its result and no
//!   declined summons is waiting to be re-dispatched.
//! - **Idempotent by state**: each reaction first checks the ticket (a replayed call-up
//!   finds the whistle blown; a replayed decline finds the replacement summoned).
//! - **Commands** for people ([`Dispatcher`]): blow the whistle (or confirm the
//!   suggestion), approve or deny extensions.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use whistle_consumer::{
    Handler, HandlerError, caused_by, put_row, read_row, read_rows, ticket_event, ticket_of,
};
use whistle_events::subjects::PublishedEvent;
use whistle_events::ticket::{ExtensionApproved, ExtensionDenied};
use whistle_events::{
    ActorId, Category, DepartmentId, EventMetadata, LiaisonId, Location, StreetId, Text,
    TicketEvent, TicketId, Urgency,
};
use whistle_routing::{Catalogue, DispatchPolicy, Route};
use whistle_store::{EventStore, RowChange, StoreError};
use whistle_ticket::{CommandError, Stage, SummonsState, Ticket, TicketCommand, Tickets};

/// The read model's table.
pub const QUEUE: &str = "dispatch_queue";

/// The read model of extension requests waiting for a street's answer.
pub const EXTENSIONS: &str = "extension_requests";

/// A department asks the street for more time, and the street has not answered yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionRequest {
    /// The ticket.
    pub ticket: TicketId,
    /// The street that answers.
    pub street: StreetId,
    /// The department asking.
    pub department: DepartmentId,
    /// The liaison asking.
    pub liaison: LiaisonId,
    /// The new deadline asked for.
    pub until: DateTime<Utc>,
    /// Why (the resident is told).
    pub reason: String,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
    /// Where the problem is.
    pub location: Location,
    /// What kind of problem.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
    /// What the resident said.
    pub description: String,
}

fn extension_key(street: &StreetId, ticket: &TicketId, department: &DepartmentId) -> String {
    format!("{street}/{ticket}/{department}")
}

/// The extension requests waiting for `street`'s answer, oldest first.
pub async fn extension_requests(
    store: &EventStore,
    street: &StreetId,
) -> Result<Vec<ExtensionRequest>, StoreError> {
    let mut requests: Vec<ExtensionRequest> =
        read_rows(store, EXTENSIONS, &format!("{street}/")).await?;
    requests.sort_by_key(|r| r.requested_at);
    Ok(requests)
}

/// Why a ticket waits for a dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Waiting {
    /// Called up (or reopened) under the `confirm` policy: confirm the suggestion.
    Confirm,
    /// A department declined and the street re-dispatches by hand.
    Declined {
        /// Who declined.
        department: DepartmentId,
    },
    /// The catalogue found no one left to summon.
    NoCandidate,
}

/// The catalogue's suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Departments to summon.
    pub departments: Vec<DepartmentId>,
    /// The lead.
    pub lead: DepartmentId,
    /// The rule that decided.
    pub rule: String,
}

/// A ticket waiting for the street's dispatcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispatchEntry {
    /// The ticket.
    pub ticket: TicketId,
    /// The street.
    pub street: StreetId,
    /// Why it waits.
    pub waiting: Waiting,
    /// Since when.
    pub since: DateTime<Utc>,
    /// What the catalogue suggests, if anything.
    pub suggestion: Option<Suggestion>,
    /// The catalogue's reasoning, and its version.
    pub note: String,
    /// Where the problem is.
    pub location: Location,
    /// What kind of problem.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
    /// What the resident said.
    pub description: String,
}

fn key(street: &StreetId, ticket: &TicketId) -> String {
    format!("{street}/{ticket}")
}

/// The tickets waiting for `street`'s dispatcher, oldest first.
pub async fn queue(
    store: &EventStore,
    street: &StreetId,
) -> Result<Vec<DispatchEntry>, StoreError> {
    let mut entries: Vec<DispatchEntry> = read_rows(store, QUEUE, &format!("{street}/")).await?;
    entries.sort_by_key(|e| (std::cmp::Reverse(e.urgency), e.since));
    Ok(entries)
}

/// The consumer that routes, whistles, re-dispatches and resolves.
#[derive(Debug)]
pub struct StreetStage {
    store: EventStore,
    tickets: Arc<Tickets>,
    catalogue: Arc<Catalogue>,
    actor: ActorId,
}

const WANTED: [&str; 11] = [
    "CalledUp",
    "ExtensionRequested",
    "ExtensionApproved",
    "ExtensionDenied",
    "Reopened",
    "DepartmentDeclined",
    "DepartmentFinished",
    "WhistleBlown",
    "Resolved",
    "Closed",
    "MergedInto",
];

/// A reason the ticket records, cut to what a reason may hold.
fn reason_text(reason: &str) -> Result<Text, HandlerError> {
    let cut: String = reason.chars().take(500).collect();
    Text::reason(cut).map_err(|e| HandlerError::Failed(format!("routing reason: {e}")))
}

impl StreetStage {
    /// The stage, routing with `catalogue` and acting through `tickets`.
    pub fn new(tickets: Arc<Tickets>, catalogue: Arc<Catalogue>) -> Result<Self, String> {
        Ok(Self {
            store: tickets.store().clone(),
            tickets,
            catalogue,
            actor: ActorId::parse("whistle-street").map_err(|e| e.to_string())?,
        })
    }

    /// Routes the ticket (`tried`: departments summoned or declined already) and either
    /// blows the whistle or queues it for the dispatcher.
    async fn dispatch(
        &self,
        ticket: TicketId,
        state: &Ticket,
        event: &PublishedEvent,
        waiting: Waiting,
    ) -> Result<Vec<RowChange>, HandlerError> {
        let Some(received) = state.received() else {
            return Err(HandlerError::Failed(format!(
                "ticket {ticket} has no complaint"
            )));
        };
        let street = received.location.street.clone();
        let tried: Vec<DepartmentId> = state.summonses().keys().cloned().collect();
        let route = self
            .catalogue
            .route(&received.location, received.category, &tried);
        let policy = self.catalogue.policy_for(&street);
        let (suggestion, waiting) = match route {
            Route::Summon {
                departments,
                lead,
                reason,
                rule,
                ..
            } => {
                if policy == DispatchPolicy::Auto {
                    // Keep a lead that is still at work; else the route's lead leads.
                    let lead = match state.lead() {
                        Some(current)
                            if state.summonses().get(current).is_some_and(|s| {
                                matches!(
                                    s.state,
                                    SummonsState::Summoned | SummonsState::ReportedIn { .. }
                                )
                            }) =>
                        {
                            current.clone()
                        }
                        _ => lead,
                    };
                    let reason = match &waiting {
                        Waiting::Declined { department } => format!(
                            "{} declined; {reason}",
                            self.catalogue
                                .name_of(department.as_str())
                                .unwrap_or(department.as_str())
                        ),
                        _ => reason,
                    };
                    self.tickets
                        .execute(
                            ticket,
                            TicketCommand::BlowWhistle {
                                departments,
                                lead,
                                reason: reason_text(&reason)?,
                            },
                            &caused_by(event, &self.actor),
                        )
                        .await?;
                    return Ok(vec![RowChange::delete(QUEUE, key(&street, &ticket))]);
                }
                (
                    Some(Suggestion {
                        departments,
                        lead,
                        rule,
                    }),
                    (waiting, reason),
                )
            }
            Route::Dispatcher { reason, .. } => (
                None,
                (
                    match waiting {
                        Waiting::Confirm => Waiting::NoCandidate,
                        other => other,
                    },
                    reason,
                ),
            ),
        };
        let (waiting, note) = waiting;
        Ok(vec![put_row(
            QUEUE,
            key(&street, &ticket),
            &DispatchEntry {
                ticket,
                street,
                waiting,
                since: event.recorded_at,
                suggestion,
                note,
                location: received.location.clone(),
                category: received.category,
                urgency: received.urgency,
                description: received.description.to_string(),
            },
        )?])
    }

    /// Resolves the ticket when every summons is finished or declined, at least one
    /// department finished, and every decline has been answered by a later whistle.
    async fn resolve_if_done(
        &self,
        ticket: TicketId,
        event: &PublishedEvent,
    ) -> Result<(), HandlerError> {
        let state = self
            .tickets
            .load_after(ticket, event.stream_version)
            .await?;
        if state.stage() != Stage::Whistled {
            return Ok(());
        }
        let open = state.summonses().values().any(|s| {
            matches!(
                s.state,
                SummonsState::Summoned | SummonsState::ReportedIn { .. }
            )
        });
        if open {
            return Ok(());
        }
        // This round's history: a decline not followed by a whistle is still the street's.
        let events = self
            .store
            .read_stream("Ticket", &ticket.to_string(), 0)
            .await?;
        let mut unanswered_decline = false;
        let mut outcomes = Vec::new();
        for recorded in &events {
            let decoded = TicketEvent::decode(
                &recorded.event_type,
                &recorded.event_version,
                &recorded.payload,
            )
            .map_err(|e| HandlerError::Failed(format!("ticket {ticket}: {e}")))?;
            match decoded {
                TicketEvent::Reopened(_) => {
                    unanswered_decline = false;
                    outcomes.clear();
                }
                TicketEvent::DepartmentDeclined(_) => unanswered_decline = true,
                TicketEvent::WhistleBlown(_) => unanswered_decline = false,
                TicketEvent::DepartmentFinished(e) => outcomes.push(format!(
                    "{}: {}",
                    self.catalogue
                        .name_of(e.department.as_str())
                        .unwrap_or(e.department.as_str()),
                    e.outcome
                )),
                _ => {}
            }
        }
        if unanswered_decline || outcomes.is_empty() {
            return Ok(());
        }
        let summary: String = outcomes.join("; ").chars().take(2_000).collect();
        let summary = Text::note(summary).map_err(|e| HandlerError::Failed(e.to_string()))?;
        self.tickets
            .execute(
                ticket,
                TicketCommand::Resolve { summary },
                &caused_by(event, &self.actor),
            )
            .await?;
        Ok(())
    }

    async fn street_of(
        &self,
        ticket: TicketId,
        event: &PublishedEvent,
    ) -> Result<Option<StreetId>, HandlerError> {
        let state = self
            .tickets
            .load_after(ticket, event.stream_version)
            .await?;
        Ok(state.received().map(|r| r.location.street.clone()))
    }
}

#[async_trait]
impl Handler for StreetStage {
    fn name(&self) -> &str {
        "street"
    }

    fn wants(&self, event_type: &str) -> bool {
        WANTED.contains(&event_type)
    }

    async fn handle(&self, event: &PublishedEvent) -> Result<Vec<RowChange>, HandlerError> {
        let Some(decoded) = ticket_event(event)? else {
            return Ok(Vec::new());
        };
        let ticket = ticket_of(event)?;
        match decoded {
            TicketEvent::CalledUp(_) | TicketEvent::Reopened(_) => {
                let state = self
                    .tickets
                    .load_after(ticket, event.stream_version)
                    .await?;
                // Whistled since (or back with the community): nothing left to do here.
                if state.stage() != Stage::CalledUp {
                    return Ok(Vec::new());
                }
                self.dispatch(ticket, &state, event, Waiting::Confirm).await
            }
            TicketEvent::DepartmentDeclined(declined) => {
                // A department that declined asks for no more time.
                let forget = self.street_of(ticket, event).await?.map(|street| {
                    RowChange::delete(
                        EXTENSIONS,
                        extension_key(&street, &ticket, &declined.department),
                    )
                });
                let later = self
                    .store
                    .read_stream("Ticket", &ticket.to_string(), event.stream_version)
                    .await?;
                if later.iter().any(|e| e.event_type == "WhistleBlown") {
                    return Ok(forget.into_iter().collect());
                }
                let state = self
                    .tickets
                    .load_after(ticket, event.stream_version)
                    .await?;
                // Still with departments, or back with the street when every one declined.
                if !matches!(state.stage(), Stage::Whistled | Stage::CalledUp) {
                    return Ok(forget.into_iter().collect());
                }
                let mut changes = self
                    .dispatch(
                        ticket,
                        &state,
                        event,
                        Waiting::Declined {
                            department: declined.department,
                        },
                    )
                    .await?;
                changes.extend(forget);
                Ok(changes)
            }
            TicketEvent::DepartmentFinished(finished) => {
                self.resolve_if_done(ticket, event).await?;
                // A department that finished asks for no more time.
                Ok(self
                    .street_of(ticket, event)
                    .await?
                    .map(|street| {
                        RowChange::delete(
                            EXTENSIONS,
                            extension_key(&street, &ticket, &finished.department),
                        )
                    })
                    .into_iter()
                    .collect())
            }
            TicketEvent::ExtensionRequested(asked) => {
                let state = self
                    .tickets
                    .load_after(ticket, event.stream_version)
                    .await?;
                let Some(received) = state.received() else {
                    return Ok(Vec::new());
                };
                let street = received.location.street.clone();
                Ok(vec![put_row(
                    EXTENSIONS,
                    extension_key(&street, &ticket, &asked.department),
                    &ExtensionRequest {
                        ticket,
                        street,
                        department: asked.department,
                        liaison: asked.liaison,
                        until: asked.until,
                        reason: asked.reason.to_string(),
                        requested_at: event.recorded_at,
                        location: received.location.clone(),
                        category: received.category,
                        urgency: received.urgency,
                        description: received.description.to_string(),
                    },
                )?])
            }
            TicketEvent::ExtensionApproved(ExtensionApproved { department, .. })
            | TicketEvent::ExtensionDenied(ExtensionDenied { department, .. }) => Ok(self
                .street_of(ticket, event)
                .await?
                .map(|street| {
                    RowChange::delete(EXTENSIONS, extension_key(&street, &ticket, &department))
                })
                .into_iter()
                .collect()),
            TicketEvent::WhistleBlown(_) => Ok(self
                .street_of(ticket, event)
                .await?
                .map(|street| RowChange::delete(QUEUE, key(&street, &ticket)))
                .into_iter()
                .collect()),
            // The ticket is done here: nothing waits for the street any more.
            TicketEvent::Resolved(_) | TicketEvent::Closed(_) | TicketEvent::MergedInto(_) => {
                let Some(street) = self.street_of(ticket, event).await? else {
                    return Ok(Vec::new());
                };
                let waiting: Vec<ExtensionRequest> =
                    read_rows(&self.store, EXTENSIONS, &format!("{street}/{ticket}/")).await?;
                Ok(
                    std::iter::once(RowChange::delete(QUEUE, key(&street, &ticket)))
                        .chain(waiting.iter().map(|request| {
                            RowChange::delete(
                                EXTENSIONS,
                                extension_key(&street, &ticket, &request.department),
                            )
                        }))
                        .collect(),
                )
            }
            _ => Ok(Vec::new()),
        }
    }
}

/// What a street dispatcher can do.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    tickets: Arc<Tickets>,
}

impl Dispatcher {
    /// The dispatcher's desk, executing through `tickets`.
    pub fn new(tickets: Arc<Tickets>) -> Self {
        Self { tickets }
    }

    /// Blows the whistle: summons `departments`, `lead` leading.
    pub async fn blow_whistle(
        &self,
        ticket: TicketId,
        actor: ActorId,
        departments: Vec<DepartmentId>,
        lead: DepartmentId,
        reason: Text,
    ) -> Result<(), CommandError> {
        self.tickets
            .execute(
                ticket,
                TicketCommand::BlowWhistle {
                    departments,
                    lead,
                    reason,
                },
                &EventMetadata::by(actor),
            )
            .await
    }

    /// Confirms the catalogue's suggestion for a waiting ticket.
    pub async fn confirm(
        &self,
        ticket: TicketId,
        street: &StreetId,
        actor: ActorId,
    ) -> Result<(), ConfirmError> {
        let entry: Option<DispatchEntry> =
            read_row(self.tickets.store(), QUEUE, &key(street, &ticket))
                .await
                .map_err(|e| ConfirmError::Unavailable(e.to_string()))?;
        let Some(entry) = entry else {
            return Err(ConfirmError::NotWaiting {
                ticket,
                street: street.clone(),
            });
        };
        let Some(suggestion) = entry.suggestion else {
            return Err(ConfirmError::NoSuggestion {
                ticket,
                note: entry.note,
            });
        };
        let reason = reason_text(&format!("confirmed: {}", entry.note))
            .map_err(|e| ConfirmError::Unavailable(e.to_string()))?;
        self.blow_whistle(
            ticket,
            actor,
            suggestion.departments,
            suggestion.lead,
            reason,
        )
        .await
        .map_err(ConfirmError::Command)
    }

    /// Approves a department's extension.
    pub async fn approve_extension(
        &self,
        ticket: TicketId,
        actor: ActorId,
        department: DepartmentId,
        reason: Text,
    ) -> Result<(), CommandError> {
        self.tickets
            .execute(
                ticket,
                TicketCommand::ApproveExtension { department, reason },
                &EventMetadata::by(actor),
            )
            .await
    }

    /// Denies a department's extension.
    pub async fn deny_extension(
        &self,
        ticket: TicketId,
        actor: ActorId,
        department: DepartmentId,
        reason: Text,
    ) -> Result<(), CommandError> {
        self.tickets
            .execute(
                ticket,
                TicketCommand::DenyExtension { department, reason },
                &EventMetadata::by(actor),
            )
            .await
    }
}

/// Why a suggestion could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// The ticket is not in the street's queue.
    #[error("ticket {ticket} is not waiting for street {street}'s dispatcher; reload the queue")]
    NotWaiting {
        /// The ticket.
        ticket: TicketId,
        /// The street.
        street: StreetId,
    },
    /// The catalogue had no one to suggest.
    #[error(
        "ticket {ticket} has no suggestion to confirm ({note}); choose the departments and blow the whistle"
    )]
    NoSuggestion {
        /// The ticket.
        ticket: TicketId,
        /// What the catalogue said.
        note: String,
    },
    /// The queue could not be read.
    #[error("{0}")]
    Unavailable(String),
    /// The whistle was refused.
    #[error(transparent)]
    Command(CommandError),
}
