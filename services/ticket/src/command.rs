//! The commands of a ticket's life. Each is imperative (`BlowWhistle`), carries already
//! parsed values (ids, texts), and is validated by the [`Ticket`](crate::Ticket) aggregate.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use whistle_events::ticket::{CloseReason, Received, SlaClock, SupervisionLevel};
use whistle_events::{DepartmentId, LiaisonId, Score, Text, TicketId};

/// Everything that can be asked of a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[expect(
    clippy::large_enum_variant,
    reason = "`Receive` carries the whole complaint, once per ticket; boxing it would change every caller to save a copy of a few hundred bytes"
)]
pub enum TicketCommand {
    /// Intake: a resident's complaint arrives (from a person or another system), with
    /// everything the `Received` event records. Receiving the same complaint, or the same
    /// external incident, again is accepted and changes nothing.
    ///
    /// Give the contact in plain `reporter` and leave `sealed_reporter` empty: the
    /// [`Tickets`](crate::Tickets) executor seals the contact with the ticket's key before
    /// the aggregate sees it, and hands a complaint sent again with the same contact in the
    /// form it was recorded in, so the aggregate recognises it.
    Receive(Received),
    /// Community: accept the complaint and answer the resident.
    Acknowledge {
        /// What the resident is told.
        reply: Text,
    },
    /// Community: take the complaint on locally.
    HandleLocally {
        /// What the community will do.
        plan: Text,
    },
    /// Community: call the street up; the ticket goes to the location's street office.
    CallUp {
        /// Why the community cannot handle it.
        reason: Text,
    },
    /// Street: summon departments, one of them the lead. Blowing again summons more.
    BlowWhistle {
        /// Departments to summon now.
        departments: Vec<DepartmentId>,
        /// The lead department: one summoned now or one already at work.
        lead: DepartmentId,
        /// Why these departments.
        reason: Text,
    },
    /// Department: a liaison claims the department's summons (报到).
    ReportIn {
        /// The department.
        department: DepartmentId,
        /// The liaison claiming.
        liaison: LiaisonId,
    },
    /// Department: decline the summons (退单); the street re-dispatches.
    Decline {
        /// The department.
        department: DepartmentId,
        /// The liaison declining.
        liaison: LiaisonId,
        /// Why it is not theirs.
        reason: Text,
    },
    /// Department: note progress or a site visit.
    NoteProgress {
        /// The department.
        department: DepartmentId,
        /// The liaison holding the summons.
        liaison: LiaisonId,
        /// What happened.
        note: Text,
        /// Whether this records a visit on site.
        on_site: bool,
    },
    /// Department: report the result.
    Finish {
        /// The department.
        department: DepartmentId,
        /// The liaison holding the summons.
        liaison: LiaisonId,
        /// Whether the department fixed its part.
        fixed: bool,
        /// What was done.
        outcome: Text,
    },
    /// Department: ask the street for more time.
    RequestExtension {
        /// The department.
        department: DepartmentId,
        /// The liaison holding the summons.
        liaison: LiaisonId,
        /// The new deadline asked for.
        until: DateTime<Utc>,
        /// Why; the resident is told.
        reason: Text,
    },
    /// Street: approve a department's pending extension.
    ApproveExtension {
        /// The department.
        department: DepartmentId,
        /// The reason the resident is told.
        reason: Text,
    },
    /// Street: deny a department's pending extension.
    DenyExtension {
        /// The department.
        department: DepartmentId,
        /// Why not.
        reason: Text,
    },
    /// Resolve the ticket once every summoned department has finished or declined (or the
    /// community fixed it).
    Resolve {
        /// What was done.
        summary: Text,
    },
    /// Resident: rate the outcome.
    RecordFeedback {
        /// Is the problem solved?
        resolved: bool,
        /// Is the resident satisfied?
        satisfied: bool,
        /// Score 1–5, if given.
        score: Option<Score>,
        /// Comment, if given.
        comment: Option<Text>,
    },
    /// Reopen a resolved ticket (重办).
    Reopen {
        /// Why.
        reason: Text,
    },
    /// Close a resolved ticket.
    Close {
        /// Why.
        reason: CloseReason,
    },
    /// Merge this duplicate into another ticket; this one is closed to commands.
    MergeInto {
        /// The ticket that carries on.
        into: TicketId,
        /// Why they are the same incident.
        reason: Text,
    },
    /// Record on the surviving ticket that a duplicate was merged into it.
    AbsorbDuplicate {
        /// The duplicate.
        from: TicketId,
    },
    /// Supervisor: open supervision (督办).
    OpenSupervision {
        /// At which level.
        level: SupervisionLevel,
        /// The department singled out, if any.
        department: Option<DepartmentId>,
        /// Why.
        reason: Text,
    },
    /// SLA engine: a clock passed its deadline. Recording the same breach again changes
    /// nothing, so a timer that fires twice is harmless.
    RecordBreach {
        /// Which clock.
        clock: SlaClock,
        /// The department, for a department's clock.
        department: Option<DepartmentId>,
        /// When it was due.
        due_at: DateTime<Utc>,
        /// The policy version the ticket is timed under.
        policy_version: String,
    },
    /// SLA engine: a clock used up part of its time. Recording the same warning again
    /// changes nothing.
    RecordWarning {
        /// Which clock.
        clock: SlaClock,
        /// The department, for a department's clock.
        department: Option<DepartmentId>,
        /// How much of the allowed time has passed, in percent.
        percent: u8,
        /// When the clock is due.
        due_at: DateTime<Utc>,
        /// The policy version the ticket is timed under.
        policy_version: String,
    },
    /// Street or department: stop the completion clocks while the ticket waits on
    /// someone outside (e.g. the resident).
    PauseClocks {
        /// What the ticket waits for.
        reason: Text,
    },
    /// Street or department: the wait is over; the completion clocks run again.
    ResumeClocks {
        /// What ended the wait.
        reason: Text,
    },
    /// Data protection: erase the resident's personal data on the ticket (the reporter's
    /// contact). The ticket's key is destroyed, so the sealed contact can never be read
    /// again; every event stays readable. Taken by closed and merged tickets too (that is
    /// when retention runs out); erasing again records nothing, but the
    /// [`Tickets`](crate::Tickets) executor destroys the key again, so a retry finishes an
    /// erasure whose key could not be destroyed the first time.
    ErasePersonalData {
        /// Why (the resident asked, the retention period ran out…).
        reason: Text,
    },
    /// Intake: the system the ticket came from updated its incident, or cleared it. The
    /// same message (same `message_id`) recorded again changes nothing.
    RecordSourceUpdate {
        /// What the source said.
        note: Option<Text>,
        /// Whether the source says the incident is over.
        cleared: bool,
        /// The message's identity.
        message_id: uuid::Uuid,
    },
}
