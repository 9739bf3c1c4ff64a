//! The community stage (社区): accept the complaint and answer the resident fast, fix
//! what the community can, call the street up for the rest.
//!
//! - **Consumes** (consumer `community`): `Received`, `Acknowledged`, `HandledLocally`,
//!   `CalledUp`, `WhistleBlown`, `Resolved`, `Reopened`, `Closed`, `MergedInto`.
//! - **Keeps** the read model `community_queue`: one row per complaint the community
//!   holds, keyed `<community>/<ticket>`; [`queue`] lists them, the acknowledge deadline
//!   first.
//! - **Commands** for community workers ([`Workstation`]).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use whistle_consumer::{
    Handler, HandlerError, put_row, read_row, read_rows, ticket_event, ticket_of,
};
use whistle_events::subjects::PublishedEvent;
use whistle_events::{
    ActorId, Category, Channel, CommunityId, EventMetadata, Location, Text, TicketEvent, TicketId,
    Urgency,
};
use whistle_store::{EventStore, RowChange, StoreError};
use whistle_ticket::{CommandError, Stage, TicketCommand, Tickets};

/// The read model's table.
pub const QUEUE: &str = "community_queue";

/// How long the community has to answer, until the SLA policy (a later stage) applies
/// business hours: 5 minutes (seed 002, 新乡红旗区 "e岗通").
pub const ACKNOWLEDGE_WITHIN: Duration = Duration::minutes(5);

/// Where a complaint stands with the community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommunityStatus {
    /// Waiting to be acknowledged.
    Received,
    /// Acknowledged: handle it locally or call the street up.
    Acknowledged,
    /// The community is fixing it.
    HandlingLocally,
}

/// A complaint the community holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommunityEntry {
    /// The ticket.
    pub ticket: TicketId,
    /// Where it stands.
    pub status: CommunityStatus,
    /// When it arrived (or came back, reopened).
    pub received_at: DateTime<Utc>,
    /// When the resident must have had an answer.
    pub acknowledge_due: DateTime<Utc>,
    /// When the community answered.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// How it reached us.
    pub channel: Channel,
    /// Where the problem is.
    pub location: Location,
    /// What kind of problem.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
    /// What the resident said.
    pub description: String,
}

fn key(community: &CommunityId, ticket: &TicketId) -> String {
    format!("{community}/{ticket}")
}

/// The complaints `community` holds: waiting for an answer first, by deadline.
pub async fn queue(
    store: &EventStore,
    community: &CommunityId,
) -> Result<Vec<CommunityEntry>, StoreError> {
    let mut entries: Vec<CommunityEntry> =
        read_rows(store, QUEUE, &format!("{community}/")).await?;
    entries.sort_by_key(|e| (e.status != CommunityStatus::Received, e.acknowledge_due));
    Ok(entries)
}

/// The consumer that keeps the community queues.
#[derive(Debug)]
pub struct CommunityStage {
    store: EventStore,
    tickets: Arc<Tickets>,
}

impl CommunityStage {
    /// The stage, reading tickets through `tickets`.
    pub fn new(tickets: Arc<Tickets>) -> Self {
        Self {
            store: tickets.store().clone(),
            tickets,
        }
    }
}

const WANTED: [&str; 9] = [
    "Received",
    "Acknowledged",
    "HandledLocally",
    "CalledUp",
    "WhistleBlown",
    "Resolved",
    "Reopened",
    "Closed",
    "MergedInto",
];

#[async_trait]
impl Handler for CommunityStage {
    fn name(&self) -> &str {
        "community"
    }

    fn wants(&self, event_type: &str) -> bool {
        WANTED.contains(&event_type)
    }

    async fn handle(&self, event: &PublishedEvent) -> Result<Vec<RowChange>, HandlerError> {
        let Some(decoded) = ticket_event(event)? else {
            return Ok(Vec::new());
        };
        let ticket = ticket_of(event)?;
        let at = event.recorded_at;
        let entry = |received: &whistle_events::ticket::Received, status| CommunityEntry {
            ticket,
            status,
            received_at: at,
            acknowledge_due: at + ACKNOWLEDGE_WITHIN,
            acknowledged_at: None,
            channel: received.channel,
            location: received.location.clone(),
            category: received.category,
            urgency: received.urgency,
            description: received.description.to_string(),
        };
        if let TicketEvent::Received(received) = &decoded {
            let row = entry(received, CommunityStatus::Received);
            return Ok(vec![put_row(
                QUEUE,
                key(&received.location.community, &ticket),
                &row,
            )?]);
        }
        let state = self
            .tickets
            .load_after(ticket, event.stream_version)
            .await?;
        let Some(received) = state.received() else {
            return Ok(Vec::new());
        };
        let key = key(&received.location.community, &ticket);
        let existing: Option<CommunityEntry> = read_row(&self.store, QUEUE, &key).await?;
        match decoded {
            TicketEvent::Acknowledged(_) | TicketEvent::HandledLocally(_) => {
                let Some(mut row) = existing else {
                    return Ok(Vec::new());
                };
                if matches!(decoded, TicketEvent::Acknowledged(_)) {
                    row.status = CommunityStatus::Acknowledged;
                    row.acknowledged_at = Some(at);
                } else {
                    row.status = CommunityStatus::HandlingLocally;
                }
                Ok(vec![put_row(QUEUE, key, &row)?])
            }
            // Back with the community (it had handled it): it answers again.
            TicketEvent::Reopened(_) if state.stage() == Stage::Acknowledged => {
                let mut row = entry(received, CommunityStatus::Acknowledged);
                row.acknowledged_at = Some(at);
                Ok(vec![put_row(QUEUE, key, &row)?])
            }
            _ => Ok(vec![RowChange::delete(QUEUE, key)]),
        }
    }
}

/// What a community worker can do.
#[derive(Debug, Clone)]
pub struct Workstation {
    tickets: Arc<Tickets>,
}

impl Workstation {
    /// The workstation, executing through `tickets`.
    pub fn new(tickets: Arc<Tickets>) -> Self {
        Self { tickets }
    }

    async fn run(
        &self,
        ticket: TicketId,
        actor: ActorId,
        command: TicketCommand,
    ) -> Result<(), CommandError> {
        self.tickets
            .execute(ticket, command, &EventMetadata::by(actor))
            .await
    }

    /// Accepts the complaint and answers the resident.
    pub async fn acknowledge(
        &self,
        ticket: TicketId,
        actor: ActorId,
        reply: Text,
    ) -> Result<(), CommandError> {
        self.run(ticket, actor, TicketCommand::Acknowledge { reply })
            .await
    }

    /// Takes it on locally.
    pub async fn handle_locally(
        &self,
        ticket: TicketId,
        actor: ActorId,
        plan: Text,
    ) -> Result<(), CommandError> {
        self.run(ticket, actor, TicketCommand::HandleLocally { plan })
            .await
    }

    /// Calls the street up.
    pub async fn call_up(
        &self,
        ticket: TicketId,
        actor: ActorId,
        reason: Text,
    ) -> Result<(), CommandError> {
        self.run(ticket, actor, TicketCommand::CallUp { reason })
            .await
    }

    /// Reports the community's own fix: the ticket is resolved.
    pub async fn resolve(
        &self,
        ticket: TicketId,
        actor: ActorId,
        summary: Text,
    ) -> Result<(), CommandError> {
        self.run(ticket, actor, TicketCommand::Resolve { summary })
            .await
    }
}
