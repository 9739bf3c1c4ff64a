//! The department report-in stage (部门报到).
//!
//! - **Consumes** (consumer `department`): `WhistleBlown`, `DepartmentReportedIn`,
//!   `DepartmentDeclined`, `ProgressNoted`, `DepartmentFinished`, `ExtensionRequested`,
//!   `ExtensionApproved`, `ExtensionDenied`, `Resolved`, `Reopened`, `Closed`,
//!   `MergedInto`.
//! - **Keeps** the read model `department_queue`: one row per open summons, keyed
//!   `<department>/<ticket>`; [`queue`] lists a department's summons by deadline.
//! - **Tells** the department's liaisons about every change ([`notices`]).
//! - **Commands** ([`Desk`]): a liaison claims (报到), declines with a reason (退单), notes
//!   progress and reports the result; a claim that lost a race says who won.

pub mod notices;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use whistle_consumer::{
    Handler, HandlerError, put_row, read_row, read_rows, ticket_event, ticket_of,
};
use whistle_events::subjects::PublishedEvent;
use whistle_events::{
    ActorId, Category, DepartmentId, EventMetadata, LiaisonId, Location, Text, TicketEvent,
    TicketId, Urgency,
};
use whistle_store::{EventStore, RowChange, StoreError};
use whistle_ticket::{CommandError, TicketCommand, Tickets};

pub use notices::{Notice, NoticeKind, Notices};

/// The read model's table.
pub const QUEUE: &str = "department_queue";

/// How long a summoned department has to report in, until the SLA policy (a later
/// stage) says otherwise: 30 minutes, Pinggu's rule.
pub const REPORT_IN_WITHIN: Duration = Duration::minutes(30);

/// Where a summons stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummonsStatus {
    /// Waiting for a liaison to claim it.
    Summoned,
    /// Claimed; the department is at work.
    ReportedIn,
}

/// One open summons in a department's queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The ticket.
    pub ticket: TicketId,
    /// The summoned department.
    pub department: DepartmentId,
    /// Whether it leads (首接负责).
    pub lead: bool,
    /// Where it stands.
    pub status: SummonsStatus,
    /// Who claimed it.
    pub liaison: Option<LiaisonId>,
    /// When the whistle summoned it.
    pub summoned_at: DateTime<Utc>,
    /// When it must report in by.
    pub report_in_due: DateTime<Utc>,
    /// When it reported in.
    pub reported_in_at: Option<DateTime<Utc>>,
    /// An approved extension of its deadline.
    pub extended_until: Option<DateTime<Utc>>,
    /// The deadline asked for in an extension request the street has not answered yet.
    #[serde(default)]
    pub extension_requested: Option<DateTime<Utc>>,
    /// The latest progress note.
    pub last_note: Option<String>,
    /// Where the problem is.
    pub location: Location,
    /// What kind of problem.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
    /// What the resident said.
    pub description: String,
}

impl QueueEntry {
    /// The deadline the queue is ordered by: reporting in while summoned, else the
    /// extension (if any), else the report-in deadline.
    pub fn due(&self) -> DateTime<Utc> {
        match self.status {
            SummonsStatus::Summoned => self.report_in_due,
            SummonsStatus::ReportedIn => self.extended_until.unwrap_or(self.report_in_due),
        }
    }
}

fn key(department: &DepartmentId, ticket: &TicketId) -> String {
    format!("{department}/{ticket}")
}

/// A department's open summons, most urgent deadline first.
pub async fn queue(
    store: &EventStore,
    department: &DepartmentId,
) -> Result<Vec<QueueEntry>, StoreError> {
    let mut entries: Vec<QueueEntry> = read_rows(store, QUEUE, &format!("{department}/")).await?;
    entries.sort_by_key(|e| {
        (
            e.status == SummonsStatus::ReportedIn,
            e.due(),
            e.summoned_at,
        )
    });
    Ok(entries)
}

/// The consumer that keeps the department queues and sends notices.
#[derive(Debug)]
pub struct ReportInStage {
    store: EventStore,
    tickets: Arc<Tickets>,
    notices: Notices,
}

impl ReportInStage {
    /// The stage, reading tickets through `tickets` and telling liaisons through `notices`.
    pub fn new(tickets: Arc<Tickets>, notices: Notices) -> Self {
        Self {
            store: tickets.store().clone(),
            tickets,
            notices,
        }
    }

    async fn update(
        &self,
        department: &DepartmentId,
        ticket: &TicketId,
        change: impl FnOnce(&mut QueueEntry),
    ) -> Result<Vec<RowChange>, HandlerError> {
        match read_row::<QueueEntry>(&self.store, QUEUE, &key(department, ticket)).await? {
            Some(mut entry) => {
                change(&mut entry);
                Ok(vec![put(&entry)?])
            }
            // Not in the queue (already closed): nothing to change.
            None => Ok(Vec::new()),
        }
    }

    /// Every department ever summoned on the ticket (a reopened ticket's state forgets
    /// its earlier summonses; its stream does not).
    async fn summoned(&self, ticket: &TicketId) -> Result<BTreeSet<DepartmentId>, HandlerError> {
        let mut departments = BTreeSet::new();
        for recorded in self
            .store
            .read_stream("Ticket", &ticket.to_string(), 0)
            .await?
        {
            if recorded.event_type == "WhistleBlown"
                && let Ok(TicketEvent::WhistleBlown(whistle)) = TicketEvent::decode(
                    &recorded.event_type,
                    &recorded.event_version,
                    &recorded.payload,
                )
            {
                departments.extend(whistle.departments);
            }
        }
        Ok(departments)
    }

    /// Removes the ticket from every department's queue.
    async fn close_all(&self, ticket: &TicketId) -> Result<Vec<RowChange>, HandlerError> {
        Ok(self
            .summoned(ticket)
            .await?
            .iter()
            .map(|department| RowChange::delete(QUEUE, key(department, ticket)))
            .collect())
    }
}

fn put(entry: &QueueEntry) -> Result<RowChange, HandlerError> {
    put_row(QUEUE, key(&entry.department, &entry.ticket), entry)
}

const WANTED: [&str; 12] = [
    "WhistleBlown",
    "DepartmentReportedIn",
    "DepartmentDeclined",
    "ProgressNoted",
    "DepartmentFinished",
    "ExtensionRequested",
    "ExtensionApproved",
    "ExtensionDenied",
    "Resolved",
    "Reopened",
    "Closed",
    "MergedInto",
];

#[async_trait]
impl Handler for ReportInStage {
    fn name(&self) -> &str {
        "department"
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
        match decoded {
            TicketEvent::WhistleBlown(whistle) => {
                let state = self
                    .tickets
                    .load_after(ticket, event.stream_version)
                    .await?;
                let Some(received) = state.received() else {
                    return Err(HandlerError::Failed(format!(
                        "ticket {ticket} has a whistle but no complaint"
                    )));
                };
                let mut changes = Vec::new();
                for department in &whistle.departments {
                    changes.push(put(&QueueEntry {
                        ticket,
                        department: department.clone(),
                        lead: *department == whistle.lead,
                        status: SummonsStatus::Summoned,
                        liaison: None,
                        summoned_at: at,
                        report_in_due: at + REPORT_IN_WITHIN,
                        reported_in_at: None,
                        extended_until: None,
                        extension_requested: None,
                        last_note: None,
                        location: received.location.clone(),
                        category: received.category,
                        urgency: received.urgency,
                        description: received.description.to_string(),
                    })?);
                }
                // A new lead named among departments already at work.
                for department in state.summonses().keys() {
                    if !whistle.departments.contains(department) {
                        let lead = *department == whistle.lead;
                        changes.extend(self.update(department, &ticket, |e| e.lead = lead).await?);
                    }
                }
                Ok(changes)
            }
            TicketEvent::DepartmentReportedIn(e) => {
                self.update(&e.department, &ticket, |entry| {
                    entry.status = SummonsStatus::ReportedIn;
                    entry.liaison = Some(e.liaison.clone());
                    entry.reported_in_at = Some(at);
                })
                .await
            }
            TicketEvent::ProgressNoted(e) => {
                self.update(&e.department, &ticket, |entry| {
                    entry.last_note = Some(e.note.to_string())
                })
                .await
            }
            TicketEvent::ExtensionRequested(e) => {
                self.update(&e.department, &ticket, |entry| {
                    entry.extension_requested = Some(e.until)
                })
                .await
            }
            TicketEvent::ExtensionApproved(e) => {
                self.update(&e.department, &ticket, |entry| {
                    entry.extended_until = Some(e.until);
                    entry.extension_requested = None;
                })
                .await
            }
            TicketEvent::ExtensionDenied(e) => {
                self.update(&e.department, &ticket, |entry| {
                    entry.extension_requested = None
                })
                .await
            }
            TicketEvent::DepartmentDeclined(e) => {
                Ok(vec![RowChange::delete(QUEUE, key(&e.department, &ticket))])
            }
            TicketEvent::DepartmentFinished(e) => {
                Ok(vec![RowChange::delete(QUEUE, key(&e.department, &ticket))])
            }
            TicketEvent::Resolved(_)
            | TicketEvent::Reopened(_)
            | TicketEvent::Closed(_)
            | TicketEvent::MergedInto(_) => self.close_all(&ticket).await,
            _ => Ok(Vec::new()),
        }
    }

    async fn committed(&self, event: &PublishedEvent) {
        let (Ok(Some(decoded)), Ok(ticket)) = (ticket_event(event), ticket_of(event)) else {
            return;
        };
        let notice = |kind, department: &DepartmentId, liaison: Option<&LiaisonId>| Notice {
            kind,
            ticket,
            department: department.clone(),
            liaison: liaison.cloned(),
            at: event.recorded_at,
            event_id: event.event_id,
        };
        let notices: Vec<Notice> = match &decoded {
            TicketEvent::WhistleBlown(e) => e
                .departments
                .iter()
                .map(|d| notice(NoticeKind::Summoned, d, None))
                .collect(),
            TicketEvent::DepartmentReportedIn(e) => {
                vec![notice(
                    NoticeKind::ReportedIn,
                    &e.department,
                    Some(&e.liaison),
                )]
            }
            TicketEvent::DepartmentDeclined(e) => {
                vec![notice(
                    NoticeKind::Declined,
                    &e.department,
                    Some(&e.liaison),
                )]
            }
            TicketEvent::ProgressNoted(e) => {
                vec![notice(
                    NoticeKind::Progress,
                    &e.department,
                    Some(&e.liaison),
                )]
            }
            TicketEvent::DepartmentFinished(e) => {
                vec![notice(
                    NoticeKind::Finished,
                    &e.department,
                    Some(&e.liaison),
                )]
            }
            TicketEvent::Resolved(_)
            | TicketEvent::Reopened(_)
            | TicketEvent::Closed(_)
            | TicketEvent::MergedInto(_) => match self.summoned(&ticket).await {
                Ok(departments) => departments
                    .iter()
                    .map(|d| notice(NoticeKind::Closed, d, None))
                    .collect(),
                Err(_) => Vec::new(),
            },
            _ => Vec::new(),
        };
        for n in notices {
            self.notices.send(n).await;
        }
    }
}

/// What a liaison can do, for one department.
#[derive(Debug, Clone)]
pub struct Desk {
    tickets: Arc<Tickets>,
}

impl Desk {
    /// The department desk executing through `tickets`.
    pub fn new(tickets: Arc<Tickets>) -> Self {
        Self { tickets }
    }

    fn metadata(liaison: &LiaisonId) -> Result<EventMetadata, CommandError> {
        let actor = ActorId::parse(format!("liaison-{liaison}")).map_err(|e| {
            CommandError::Store(format!("liaison `{liaison}` cannot be an actor: {e}"))
        })?;
        Ok(EventMetadata::by(actor))
    }

    /// Claims the department's summons (报到). When another liaison claimed first, the
    /// error names them.
    pub async fn claim(
        &self,
        ticket: TicketId,
        department: DepartmentId,
        liaison: LiaisonId,
    ) -> Result<(), CommandError> {
        let metadata = Self::metadata(&liaison)?;
        self.tickets
            .execute(
                ticket,
                TicketCommand::ReportIn {
                    department,
                    liaison,
                },
                &metadata,
            )
            .await
    }

    /// Declines the summons (退单) with a reason; the street re-dispatches.
    pub async fn decline(
        &self,
        ticket: TicketId,
        department: DepartmentId,
        liaison: LiaisonId,
        reason: Text,
    ) -> Result<(), CommandError> {
        let metadata = Self::metadata(&liaison)?;
        self.tickets
            .execute(
                ticket,
                TicketCommand::Decline {
                    department,
                    liaison,
                    reason,
                },
                &metadata,
            )
            .await
    }

    /// Notes progress (or a site visit).
    pub async fn note_progress(
        &self,
        ticket: TicketId,
        department: DepartmentId,
        liaison: LiaisonId,
        note: Text,
        on_site: bool,
    ) -> Result<(), CommandError> {
        let metadata = Self::metadata(&liaison)?;
        self.tickets
            .execute(
                ticket,
                TicketCommand::NoteProgress {
                    department,
                    liaison,
                    note,
                    on_site,
                },
                &metadata,
            )
            .await
    }

    /// Reports the department's result.
    pub async fn finish(
        &self,
        ticket: TicketId,
        department: DepartmentId,
        liaison: LiaisonId,
        fixed: bool,
        outcome: Text,
    ) -> Result<(), CommandError> {
        let metadata = Self::metadata(&liaison)?;
        self.tickets
            .execute(
                ticket,
                TicketCommand::Finish {
                    department,
                    liaison,
                    fixed,
                    outcome,
                },
                &metadata,
            )
            .await
    }
}
