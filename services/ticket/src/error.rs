//! Why the Ticket aggregate refused a command. Each message names the problem and what to
//! do instead.

use chrono::{DateTime, Utc};
use whistle_events::{DepartmentId, LiaisonId, TicketId};

/// A command the ticket refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// No complaint was received under this id.
    #[error(
        "no complaint has been received under this ticket id; check the id, or submit the complaint first"
    )]
    NotReceived,
    /// The ticket id is taken by another complaint.
    #[error(
        "this ticket id already holds a different complaint; submit the new complaint under a new id"
    )]
    AlreadyReceived,
    /// Closed tickets can only be read.
    #[error(
        "the ticket is closed and can only be read; file a new complaint if the problem came back"
    )]
    Closed,
    /// Merged tickets can only be read.
    #[error("the ticket was merged into ticket {into} and can only be read; act on {into} instead")]
    Merged {
        /// The surviving ticket.
        into: TicketId,
    },
    /// The resident was already answered.
    #[error("the ticket was already acknowledged")]
    AlreadyAcknowledged,
    /// Local handling starts after the resident was answered.
    #[error("acknowledge the resident before taking the ticket on locally")]
    NotAcknowledged,
    /// The command does not fit where the ticket is.
    #[error("cannot {action} while the ticket is {stage}")]
    WrongStage {
        /// What was attempted.
        action: &'static str,
        /// Where the ticket is.
        stage: &'static str,
    },
    /// A whistle must summon someone.
    #[error("a whistle must summon at least one department")]
    NoDepartments,
    /// The same department twice in one whistle.
    #[error("department {0} is named twice in the whistle; name each department once")]
    DuplicateDepartment(DepartmentId),
    /// The department already has an open summons on this ticket.
    #[error(
        "department {0} is already summoned on this ticket and has not declined; wait for its report instead"
    )]
    AlreadySummoned(DepartmentId),
    /// The lead must be a department at work on the ticket.
    #[error(
        "the lead department {0} is neither summoned by this whistle nor at work on the ticket; summon it too or pick another lead"
    )]
    LeadNotSummoned(DepartmentId),
    /// The department has no summons on this ticket.
    #[error(
        "department {0} was not summoned on this ticket; only summoned departments can report on it"
    )]
    NotSummoned(DepartmentId),
    /// A summons is claimed once.
    #[error("department {department}'s summons is already claimed by {holder}")]
    AlreadyClaimed {
        /// The department.
        department: DepartmentId,
        /// Who holds it.
        holder: LiaisonId,
    },
    /// The summons has not been claimed yet.
    #[error("department {0} has not reported in on this ticket; claim the summons first")]
    NotClaimed(DepartmentId),
    /// Only the liaison who claimed may report on the summons.
    #[error(
        "department {department}'s summons is held by {holder}, not {liaison}; only the holder reports on it"
    )]
    NotHolder {
        /// The department.
        department: DepartmentId,
        /// Who holds it.
        holder: LiaisonId,
        /// Who tried.
        liaison: LiaisonId,
    },
    /// The department declined; only a new whistle can summon it again.
    #[error("department {0} declined this summons; the street must summon it again first")]
    SummonsDeclined(DepartmentId),
    /// The department already reported its result.
    #[error("department {0} already reported its result on this ticket")]
    AlreadyFinished(DepartmentId),
    /// One extension request at a time.
    #[error("department {0} already has an extension request waiting for the street's decision")]
    ExtensionPending(DepartmentId),
    /// Nothing to approve or deny.
    #[error("department {0} has no extension request waiting for a decision")]
    NoExtensionPending(DepartmentId),
    /// An extension must move the deadline into the future.
    #[error("the extension asks for {until}, which is not in the future; ask for a later time")]
    ExtensionNotInFuture {
        /// The requested deadline.
        until: DateTime<Utc>,
    },
    /// Departments are still at work.
    #[error("cannot resolve: {} still neither finished nor declined", list(.0))]
    DepartmentsOutstanding(Vec<DepartmentId>),
    /// The resident said the problem is solved and is satisfied.
    #[error(
        "the resident reported the problem solved and is satisfied; close the ticket, or file a new complaint if the problem came back"
    )]
    ResidentSatisfied,
    /// Feedback comes after resolution.
    #[error("feedback can only be recorded once the ticket is resolved")]
    FeedbackBeforeResolution,
    /// Feedback is recorded once per resolution.
    #[error(
        "feedback for this resolution was already recorded; reopen the ticket if the problem is not solved"
    )]
    FeedbackAlreadyRecorded,
    /// Closing on feedback needs feedback.
    #[error(
        "no feedback has been recorded; close with reason no_feedback once the feedback window has passed"
    )]
    NoFeedback,
    /// Closing for lack of feedback when there is feedback.
    #[error("the resident gave feedback; close with reason feedback")]
    FeedbackGiven,
    /// The resident said the problem is not solved or is not satisfied.
    #[error(
        "the resident reported the problem unsolved or is not satisfied; reopen the ticket instead of closing it"
    )]
    UnsatisfiedFeedback,
    /// Departments are still at work on the duplicate.
    #[error(
        "cannot merge: {} still at work on this ticket; let them finish or decline, or merge the other ticket into this one",
        list(.0)
    )]
    SummonsOpen(Vec<DepartmentId>),
    /// A ticket cannot merge into itself.
    #[error("a ticket cannot be merged into itself; name the ticket it duplicates")]
    SelfMerge,
    /// This supervision is already open.
    #[error("supervision at this level is already open on this ticket")]
    AlreadySupervised,
    /// The clocks are already paused.
    #[error("the clocks are already paused; resume them first")]
    AlreadyPaused,
    /// The clocks are not paused.
    #[error("the clocks are not paused, so there is nothing to resume")]
    NotPaused,
    /// A warning must be a share of the allowed time.
    #[error("a warning is a share of the allowed time, between 1 and 99 percent; got {0}")]
    WarningPercent(u8),
}

fn list(departments: &[DepartmentId]) -> String {
    departments
        .iter()
        .map(DepartmentId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
