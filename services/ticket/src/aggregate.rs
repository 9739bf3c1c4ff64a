//! The Ticket aggregate: the whole life of one complaint, and the only writer of ticket
//! state. `handle` checks a command against the state rebuilt from the ticket's events and
//! records new events; `apply` folds an event into the state and never fails.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use whistle_clock::Clock;
use whistle_events::ticket::*;
use whistle_events::{DepartmentId, LiaisonId, ReporterContact, TicketEvent, TicketId};

use crate::command::TicketCommand;
use crate::error::TicketError;

/// A ticket event as cqrs-es carries it. The event types live in `whistle-events`, which
/// has no runtime dependencies; this wrapper gives them cqrs-es's `DomainEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Event(pub TicketEvent);

impl DomainEvent for Event {
    fn event_type(&self) -> String {
        self.0.kind().name.to_owned()
    }

    fn event_version(&self) -> String {
        self.0.kind().version.to_owned()
    }
}

impl From<TicketEvent> for Event {
    fn from(event: TicketEvent) -> Self {
        Self(event)
    }
}

/// What the aggregate needs from outside: the time.
#[derive(Debug, Clone)]
pub struct TicketServices {
    /// Injected so tests and the demo control time.
    pub clock: Arc<dyn Clock>,
}

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Nothing received yet.
    #[default]
    New,
    /// Received, waiting for the community.
    Received,
    /// The community answered the resident.
    Acknowledged,
    /// The community is handling it itself.
    HandlingLocally,
    /// With the street, waiting for a whistle.
    CalledUp,
    /// Departments are summoned.
    Whistled,
    /// Resolved, waiting for the resident's feedback.
    Resolved,
    /// Closed: read only.
    Closed,
    /// Merged into another ticket: read only.
    Merged {
        /// The surviving ticket.
        into: TicketId,
    },
}

impl Stage {
    /// How the stage reads in an error message.
    pub fn describe(self) -> &'static str {
        match self {
            Self::New => "not yet received",
            Self::Received => "waiting for the community",
            Self::Acknowledged => "acknowledged by the community",
            Self::HandlingLocally => "handled by the community",
            Self::CalledUp => "with the street, waiting for a whistle",
            Self::Whistled => "with the summoned departments",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
            Self::Merged { .. } => "merged",
        }
    }
}

/// One department's summons on this ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SummonsState {
    /// Summoned, not yet claimed.
    Summoned,
    /// Claimed by a liaison (报到).
    ReportedIn {
        /// Who holds it.
        liaison: LiaisonId,
    },
    /// Declined (退单).
    Declined,
    /// Result reported.
    Finished {
        /// Whether the department fixed its part.
        fixed: bool,
    },
}

/// A summons and its extension, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summons {
    /// Where the summons is.
    pub state: SummonsState,
    /// A requested extension waiting for the street.
    pub extension_requested: Option<DateTime<Utc>>,
    /// The latest approved extension.
    pub extended_until: Option<DateTime<Utc>>,
}

impl Summons {
    fn new() -> Self {
        Self {
            state: SummonsState::Summoned,
            extension_requested: None,
            extended_until: None,
        }
    }

    fn is_open(&self) -> bool {
        matches!(
            self.state,
            SummonsState::Summoned | SummonsState::ReportedIn { .. }
        )
    }
}

/// The state of one ticket, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    stage: Stage,
    received: Option<Received>,
    acknowledged: bool,
    summonses: BTreeMap<DepartmentId, Summons>,
    lead: Option<DepartmentId>,
    feedback: Option<FeedbackRecorded>,
    round: u32,
    merged_from: BTreeSet<TicketId>,
    /// Supervision opened, per round of handling.
    supervision: BTreeSet<(u32, SupervisionLevel, Option<DepartmentId>)>,
    breaches: BTreeSet<(SlaClock, Option<DepartmentId>, DateTime<Utc>)>,
    /// Messages from the source system already recorded.
    #[serde(default)]
    source_updates: BTreeSet<uuid::Uuid>,
    /// The source system cleared the incident in this round.
    #[serde(default)]
    source_cleared: bool,
    /// Warnings recorded: clock, department, percent, due.
    #[serde(default)]
    warnings: BTreeSet<(SlaClock, Option<DepartmentId>, u8, DateTime<Utc>)>,
    /// The completion clocks are paused.
    #[serde(default)]
    paused: bool,
    /// The resident's personal data was erased.
    #[serde(default)]
    personal_data_erased: bool,
}

impl Ticket {
    /// Where the ticket is.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// What was received, once it was.
    pub fn received(&self) -> Option<&Received> {
        self.received.as_ref()
    }

    /// The summonses, by department.
    pub fn summonses(&self) -> &BTreeMap<DepartmentId, Summons> {
        &self.summonses
    }

    /// The lead department, once a whistle named one.
    pub fn lead(&self) -> Option<&DepartmentId> {
        self.lead.as_ref()
    }

    /// The resident's rating of the current round, once given.
    pub fn feedback(&self) -> Option<&FeedbackRecorded> {
        self.feedback.as_ref()
    }

    /// The round of handling (1, or more after reopening).
    pub fn round(&self) -> u32 {
        self.round.max(1)
    }

    /// Whether the completion clocks are paused.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Whether the resident's personal data on this ticket was erased.
    pub fn personal_data_erased(&self) -> bool {
        self.personal_data_erased
    }

    /// Duplicates merged into this ticket.
    pub fn merged_from(&self) -> &BTreeSet<TicketId> {
        &self.merged_from
    }

    fn wrong_stage(&self, action: &'static str) -> TicketError {
        TicketError::WrongStage {
            action,
            stage: self.stage.describe(),
        }
    }

    /// Refuses every command on a ticket that only reads now.
    fn ensure_open(&self) -> Result<(), TicketError> {
        match self.stage {
            Stage::New => Err(TicketError::NotReceived),
            Stage::Closed => Err(TicketError::Closed),
            Stage::Merged { into } => Err(TicketError::Merged { into }),
            _ => Ok(()),
        }
    }

    fn summons(&self, department: &DepartmentId) -> Result<&Summons, TicketError> {
        self.summonses
            .get(department)
            .ok_or_else(|| TicketError::NotSummoned(department.clone()))
    }

    /// The summons must be claimed by `liaison` and not finished.
    fn held_by(
        &self,
        department: &DepartmentId,
        liaison: &LiaisonId,
    ) -> Result<&Summons, TicketError> {
        let summons = self.summons(department)?;
        match &summons.state {
            SummonsState::ReportedIn { liaison: holder } if holder == liaison => Ok(summons),
            SummonsState::ReportedIn { liaison: holder } => Err(TicketError::NotHolder {
                department: department.clone(),
                holder: holder.clone(),
                liaison: liaison.clone(),
            }),
            SummonsState::Summoned => Err(TicketError::NotClaimed(department.clone())),
            SummonsState::Declined => Err(TicketError::SummonsDeclined(department.clone())),
            SummonsState::Finished { .. } => Err(TicketError::AlreadyFinished(department.clone())),
        }
    }

    fn decide(
        &self,
        command: TicketCommand,
        now: DateTime<Utc>,
    ) -> Result<Vec<TicketEvent>, TicketError> {
        use TicketCommand as C;
        // A read-only ticket still recognises a complaint sent again, and still has its
        // personal data erased (retention runs out after a ticket closes).
        if !matches!(command, C::Receive(_) | C::ErasePersonalData { .. }) {
            self.ensure_open()?;
        }
        let event = match command {
            C::Receive(received) => {
                return match &self.received {
                    None => Ok(vec![TicketEvent::Received(received)]),
                    // The same external incident delivered again, or the same complaint
                    // submitted again (a client retry): nothing to do. A sealed contact
                    // compares as sealed: the executor hands a complaint sent again with
                    // the same contact in its recorded form (the same seal), since two
                    // seals of one contact differ.
                    Some(existing)
                        if *existing == received
                            || (existing.source.is_some()
                                && existing.source == received.source) =>
                    {
                        Ok(vec![])
                    }
                    Some(_) => Err(TicketError::AlreadyReceived),
                };
            }
            C::Acknowledge { reply } => {
                if self.acknowledged {
                    return Err(TicketError::AlreadyAcknowledged);
                }
                if self.stage == Stage::Resolved {
                    return Err(self.wrong_stage("acknowledge"));
                }
                TicketEvent::Acknowledged(Acknowledged { reply })
            }
            C::HandleLocally { plan } => match self.stage {
                Stage::Received => return Err(TicketError::NotAcknowledged),
                Stage::Acknowledged => TicketEvent::HandledLocally(HandledLocally { plan }),
                _ => return Err(self.wrong_stage("take the ticket on locally")),
            },
            C::CallUp { reason } => match self.stage {
                Stage::Received | Stage::Acknowledged | Stage::HandlingLocally => {
                    let street = self
                        .received
                        .as_ref()
                        .map(|r| r.location.street.clone())
                        .ok_or(TicketError::NotReceived)?;
                    TicketEvent::CalledUp(CalledUp { street, reason })
                }
                _ => return Err(self.wrong_stage("call the street up")),
            },
            C::BlowWhistle {
                departments,
                lead,
                reason,
            } => {
                let urgent = self
                    .received
                    .as_ref()
                    .is_some_and(|r| r.urgency == whistle_events::Urgency::Urgent);
                let may_whistle = match self.stage {
                    Stage::CalledUp | Stage::Whistled => true,
                    // Urgent matters skip the call-up.
                    Stage::Received | Stage::Acknowledged | Stage::HandlingLocally => urgent,
                    _ => false,
                };
                if !may_whistle {
                    return Err(self.wrong_stage("blow the whistle"));
                }
                if departments.is_empty() {
                    return Err(TicketError::NoDepartments);
                }
                let mut seen = BTreeSet::new();
                for department in &departments {
                    if !seen.insert(department) {
                        return Err(TicketError::DuplicateDepartment(department.clone()));
                    }
                    match self.summonses.get(department).map(|s| &s.state) {
                        Some(SummonsState::Summoned | SummonsState::ReportedIn { .. }) => {
                            return Err(TicketError::AlreadySummoned(department.clone()));
                        }
                        // Its result stands for this round; reopen the ticket to redo it.
                        Some(SummonsState::Finished { .. }) => {
                            return Err(TicketError::AlreadyFinished(department.clone()));
                        }
                        Some(SummonsState::Declined) | None => {}
                    }
                }
                let lead_at_work = self.summonses.get(&lead).is_some_and(Summons::is_open);
                if !seen.contains(&lead) && !lead_at_work {
                    return Err(TicketError::LeadNotSummoned(lead));
                }
                TicketEvent::WhistleBlown(WhistleBlown {
                    departments,
                    lead,
                    reason,
                })
            }
            C::ReportIn {
                department,
                liaison,
            } => {
                let summons = self.summons(&department)?;
                match &summons.state {
                    SummonsState::Summoned => {
                        TicketEvent::DepartmentReportedIn(DepartmentReportedIn {
                            department,
                            liaison,
                        })
                    }
                    SummonsState::ReportedIn { liaison: holder } => {
                        return Err(TicketError::AlreadyClaimed {
                            department,
                            holder: holder.clone(),
                        });
                    }
                    SummonsState::Declined => return Err(TicketError::SummonsDeclined(department)),
                    SummonsState::Finished { .. } => {
                        return Err(TicketError::AlreadyFinished(department));
                    }
                }
            }
            C::Decline {
                department,
                liaison,
                reason,
            } => {
                let summons = self.summons(&department)?;
                match &summons.state {
                    SummonsState::Summoned => {}
                    SummonsState::ReportedIn { liaison: holder } if *holder == liaison => {}
                    SummonsState::ReportedIn { liaison: holder } => {
                        return Err(TicketError::NotHolder {
                            department,
                            holder: holder.clone(),
                            liaison,
                        });
                    }
                    SummonsState::Declined => return Err(TicketError::SummonsDeclined(department)),
                    SummonsState::Finished { .. } => {
                        return Err(TicketError::AlreadyFinished(department));
                    }
                }
                TicketEvent::DepartmentDeclined(DepartmentDeclined {
                    department,
                    liaison,
                    reason,
                })
            }
            C::NoteProgress {
                department,
                liaison,
                note,
                on_site,
            } => {
                self.held_by(&department, &liaison)?;
                TicketEvent::ProgressNoted(ProgressNoted {
                    department,
                    liaison,
                    note,
                    on_site,
                })
            }
            C::Finish {
                department,
                liaison,
                fixed,
                outcome,
            } => {
                self.held_by(&department, &liaison)?;
                TicketEvent::DepartmentFinished(DepartmentFinished {
                    department,
                    liaison,
                    fixed,
                    outcome,
                })
            }
            C::RequestExtension {
                department,
                liaison,
                until,
                reason,
            } => {
                let summons = self.held_by(&department, &liaison)?;
                if summons.extension_requested.is_some() {
                    return Err(TicketError::ExtensionPending(department));
                }
                if until <= now {
                    return Err(TicketError::ExtensionNotInFuture { until });
                }
                TicketEvent::ExtensionRequested(ExtensionRequested {
                    department,
                    liaison,
                    until,
                    reason,
                })
            }
            C::ApproveExtension { department, reason } => {
                let until = self
                    .summons(&department)?
                    .extension_requested
                    .ok_or_else(|| TicketError::NoExtensionPending(department.clone()))?;
                TicketEvent::ExtensionApproved(ExtensionApproved {
                    department,
                    until,
                    reason,
                })
            }
            C::DenyExtension { department, reason } => {
                if self.summons(&department)?.extension_requested.is_none() {
                    return Err(TicketError::NoExtensionPending(department));
                }
                TicketEvent::ExtensionDenied(ExtensionDenied { department, reason })
            }
            C::Resolve { summary } => match self.stage {
                Stage::HandlingLocally => TicketEvent::Resolved(Resolved { summary }),
                // The reporting system cleared the incident before any department was
                // summoned: nothing is left to do.
                Stage::Received | Stage::Acknowledged | Stage::CalledUp if self.source_cleared => {
                    TicketEvent::Resolved(Resolved { summary })
                }
                Stage::Whistled => {
                    let outstanding: Vec<DepartmentId> = self
                        .summonses
                        .iter()
                        .filter(|(_, s)| s.is_open())
                        .map(|(d, _)| d.clone())
                        .collect();
                    if !outstanding.is_empty() {
                        return Err(TicketError::DepartmentsOutstanding(outstanding));
                    }
                    // At least one department finished here: when every department
                    // declines, the ticket goes back to the street (see `fold`).
                    TicketEvent::Resolved(Resolved { summary })
                }
                _ => return Err(self.wrong_stage("resolve")),
            },
            C::RecordFeedback {
                resolved,
                satisfied,
                score,
                comment,
            } => {
                if self.stage != Stage::Resolved {
                    return Err(TicketError::FeedbackBeforeResolution);
                }
                if self.feedback.is_some() {
                    return Err(TicketError::FeedbackAlreadyRecorded);
                }
                TicketEvent::FeedbackRecorded(FeedbackRecorded {
                    resolved,
                    satisfied,
                    score,
                    comment,
                })
            }
            C::Reopen { reason } => {
                if self.stage != Stage::Resolved {
                    return Err(self.wrong_stage("reopen"));
                }
                if self
                    .feedback
                    .as_ref()
                    .is_some_and(|f| f.resolved && f.satisfied)
                {
                    return Err(TicketError::ResidentSatisfied);
                }
                TicketEvent::Reopened(Reopened {
                    reason,
                    round: self.round() + 1,
                })
            }
            C::Close { reason } => {
                if self.stage != Stage::Resolved {
                    return Err(self.wrong_stage("close"));
                }
                match (reason, &self.feedback) {
                    (CloseReason::Feedback, None) => return Err(TicketError::NoFeedback),
                    (CloseReason::Feedback, Some(f)) if !(f.resolved && f.satisfied) => {
                        return Err(TicketError::UnsatisfiedFeedback);
                    }
                    (CloseReason::NoFeedback, Some(_)) => return Err(TicketError::FeedbackGiven),
                    _ => TicketEvent::Closed(Closed { reason }),
                }
            }
            C::MergeInto { into, reason } => {
                if self.stage == Stage::Resolved {
                    return Err(self.wrong_stage("merge into another ticket"));
                }
                // A merged ticket only reads: departments still at work on it would be
                // stranded, unable to report.
                let at_work: Vec<DepartmentId> = self
                    .summonses
                    .iter()
                    .filter(|(_, s)| s.is_open())
                    .map(|(d, _)| d.clone())
                    .collect();
                if !at_work.is_empty() {
                    return Err(TicketError::SummonsOpen(at_work));
                }
                TicketEvent::MergedInto(MergedInto { into, reason })
            }
            C::AbsorbDuplicate { from } => {
                if self.merged_from.contains(&from) {
                    return Ok(vec![]);
                }
                TicketEvent::MergedFrom(MergedFrom { from })
            }
            C::OpenSupervision {
                level,
                department,
                reason,
            } => {
                if let Some(d) = &department {
                    self.summons(d)?;
                }
                if self
                    .supervision
                    .contains(&(self.round(), level, department.clone()))
                {
                    return Err(TicketError::AlreadySupervised);
                }
                TicketEvent::SupervisionOpened(SupervisionOpened {
                    level,
                    department,
                    reason,
                })
            }
            C::RecordBreach {
                clock,
                department,
                due_at,
                policy_version,
            } => {
                if self.breaches.contains(&(clock, department.clone(), due_at)) {
                    return Ok(vec![]);
                }
                TicketEvent::SlaBreached(SlaBreached {
                    clock,
                    department,
                    due_at,
                    policy_version,
                })
            }
            C::RecordWarning {
                clock,
                department,
                percent,
                due_at,
                policy_version,
            } => {
                if !(1..=99).contains(&percent) {
                    return Err(TicketError::WarningPercent(percent));
                }
                if self
                    .warnings
                    .contains(&(clock, department.clone(), percent, due_at))
                {
                    return Ok(vec![]);
                }
                TicketEvent::SlaWarned(SlaWarned {
                    clock,
                    department,
                    percent,
                    due_at,
                    policy_version,
                })
            }
            C::PauseClocks { reason } => {
                if self.paused {
                    return Err(TicketError::AlreadyPaused);
                }
                if matches!(self.stage, Stage::Resolved) {
                    return Err(self.wrong_stage("pause the clocks"));
                }
                TicketEvent::SlaPaused(SlaPaused { reason })
            }
            C::ResumeClocks { reason } => {
                if !self.paused {
                    return Err(TicketError::NotPaused);
                }
                TicketEvent::SlaResumed(SlaResumed { reason })
            }
            C::ErasePersonalData { reason } => {
                if self.stage == Stage::New {
                    return Err(TicketError::NotReceived);
                }
                if self.personal_data_erased {
                    return Ok(vec![]);
                }
                TicketEvent::PersonalDataErased(PersonalDataErased { reason })
            }
            C::RecordSourceUpdate {
                note,
                cleared,
                message_id,
            } => {
                if self.source_updates.contains(&message_id) {
                    return Ok(vec![]);
                }
                TicketEvent::SourceUpdated(SourceUpdated {
                    note,
                    cleared,
                    message_id,
                })
            }
        };
        Ok(vec![event])
    }

    fn fold(&mut self, event: TicketEvent) {
        match event {
            TicketEvent::Received(received) => {
                self.received = Some(received);
                self.stage = Stage::Received;
                self.round = 1;
            }
            TicketEvent::Acknowledged(_) => {
                self.acknowledged = true;
                if self.stage == Stage::Received {
                    self.stage = Stage::Acknowledged;
                }
            }
            TicketEvent::HandledLocally(_) => self.stage = Stage::HandlingLocally,
            TicketEvent::CalledUp(_) => self.stage = Stage::CalledUp,
            TicketEvent::WhistleBlown(whistle) => {
                for department in whistle.departments {
                    self.summonses.insert(department, Summons::new());
                }
                self.lead = Some(whistle.lead);
                self.stage = Stage::Whistled;
            }
            TicketEvent::DepartmentReportedIn(e) => {
                if let Some(s) = self.summonses.get_mut(&e.department) {
                    s.state = SummonsState::ReportedIn { liaison: e.liaison };
                }
            }
            TicketEvent::DepartmentDeclined(e) => {
                if let Some(s) = self.summonses.get_mut(&e.department) {
                    s.state = SummonsState::Declined;
                    s.extension_requested = None;
                }
                if self.lead.as_ref() == Some(&e.department) {
                    self.lead = None;
                }
                // Nobody left at work: back to the street to re-dispatch.
                if !self.summonses.values().any(Summons::is_open)
                    && !self
                        .summonses
                        .values()
                        .any(|s| matches!(s.state, SummonsState::Finished { .. }))
                {
                    self.stage = Stage::CalledUp;
                }
            }
            TicketEvent::ProgressNoted(_) => {}
            TicketEvent::DepartmentFinished(e) => {
                if let Some(s) = self.summonses.get_mut(&e.department) {
                    s.state = SummonsState::Finished { fixed: e.fixed };
                    s.extension_requested = None;
                }
            }
            TicketEvent::ExtensionRequested(e) => {
                if let Some(s) = self.summonses.get_mut(&e.department) {
                    s.extension_requested = Some(e.until);
                }
            }
            TicketEvent::ExtensionApproved(e) => {
                if let Some(s) = self.summonses.get_mut(&e.department) {
                    s.extension_requested = None;
                    s.extended_until = Some(e.until);
                }
            }
            TicketEvent::ExtensionDenied(e) => {
                if let Some(s) = self.summonses.get_mut(&e.department) {
                    s.extension_requested = None;
                }
            }
            TicketEvent::Resolved(_) => self.stage = Stage::Resolved,
            TicketEvent::FeedbackRecorded(feedback) => self.feedback = Some(feedback),
            TicketEvent::Reopened(e) => {
                self.round = e.round;
                self.source_cleared = false;
                self.feedback = None;
                // A whistled ticket goes back to the street to summon again; one the
                // community handled goes back to the community.
                if self.summonses.is_empty() {
                    self.stage = Stage::Acknowledged;
                } else {
                    self.summonses.clear();
                    self.lead = None;
                    self.stage = Stage::CalledUp;
                }
            }
            TicketEvent::Closed(_) => self.stage = Stage::Closed,
            TicketEvent::MergedInto(e) => self.stage = Stage::Merged { into: e.into },
            TicketEvent::MergedFrom(e) => {
                self.merged_from.insert(e.from);
            }
            TicketEvent::SupervisionOpened(e) => {
                self.supervision
                    .insert((self.round(), e.level, e.department));
            }
            TicketEvent::SlaBreached(e) => {
                self.breaches.insert((e.clock, e.department, e.due_at));
            }
            TicketEvent::SourceUpdated(e) => {
                self.source_updates.insert(e.message_id);
                self.source_cleared |= e.cleared;
            }
            TicketEvent::SlaWarned(e) => {
                self.warnings
                    .insert((e.clock, e.department, e.percent, e.due_at));
            }
            TicketEvent::SlaPaused(_) => self.paused = true,
            TicketEvent::SlaResumed(_) => self.paused = false,
            TicketEvent::PersonalDataErased(_) => {
                self.personal_data_erased = true;
                // A contact recorded before sealing existed is in the event in plain text;
                // the state at least stops carrying it.
                if let Some(received) = &mut self.received {
                    received.reporter = ReporterContact::default();
                }
            }
        }
    }
}

impl Aggregate for Ticket {
    const TYPE: &'static str = "Ticket";
    type Command = TicketCommand;
    type Event = Event;
    type Error = TicketError;
    type Services = TicketServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services.clock.now())? {
            sink.write(Event(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.fold(event.0);
    }
}
