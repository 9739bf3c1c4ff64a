//! The events of a ticket's life.
//!
//! A ticket is one stream; these are its only events. Each variant wraps a struct of its
//! own so it has its own JSON Schema and golden fixture. The stored payload is the
//! externally tagged enum (`{"WhistleBlown": {...}}`), so a payload names its own type.
//!
//! Never change a shipped event: add a field with `#[serde(default)]` and bump that event's
//! minor version, or add a new major version with an upcaster that rewrites old payloads.
//! Each kind has its own version ([`TicketEvent::KINDS`]); a payload of an earlier minor
//! version of the same major decodes as it is, since every field added since has a default.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{DepartmentId, LiaisonId, StreetId, TicketId};
use crate::values::{
    Category, Channel, ExternalSource, Location, ReporterContact, Score, SealedContact, Text,
    Urgency,
};

/// A resident's complaint was received (受理前): the first event of every ticket.
///
/// Version 1.1.0 added `sealed_reporter` (and `address` in the contact). Version 1.0.0
/// payloads hold the contact in plain `reporter` and decode unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Received {
    /// How it reached us.
    pub channel: Channel,
    /// How to reach the resident (personal data), in plain text. Empty when the contact is
    /// sealed in `sealed_reporter`, which is how the ticket executor records every contact:
    /// a plain one is found only in events recorded before sealing existed.
    #[serde(default)]
    pub reporter: ReporterContact,
    /// How to reach the resident, encrypted with the ticket's own key. Only the ticket
    /// executor, holding the master key, opens it; once the key is erased no one can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_reporter: Option<SealedContact>,
    /// Where the problem is.
    pub location: Location,
    /// What kind of problem.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
    /// What the resident said.
    pub description: Text,
    /// The other system's incident, when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ExternalSource>,
}

/// The community accepted the complaint and answered the resident (受理/回应).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Acknowledged {
    /// What the resident was told.
    pub reply: Text,
}

/// The community took the complaint on itself (what the community can fix, it fixes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HandledLocally {
    /// What the community will do.
    pub plan: Text,
}

/// The community called the street up (社区呼叫): it cannot fix this alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CalledUp {
    /// The street office now responsible.
    pub street: StreetId,
    /// Why the community cannot handle it.
    pub reason: Text,
}

/// The street blew the whistle (街道吹哨): these departments are summoned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WhistleBlown {
    /// Departments summoned by this whistle; each gets a summons.
    pub departments: Vec<DepartmentId>,
    /// The lead department (首接负责/牵头) for the ticket from now on.
    pub lead: DepartmentId,
    /// Why these departments.
    pub reason: Text,
}

/// A department reported in (报到): its liaison claimed the summons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DepartmentReportedIn {
    /// The summoned department.
    pub department: DepartmentId,
    /// The liaison who now holds the summons.
    pub liaison: LiaisonId,
}

/// A department declined its summons (退单); it goes back to the street to re-dispatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DepartmentDeclined {
    /// The declining department.
    pub department: DepartmentId,
    /// The liaison who declined.
    pub liaison: LiaisonId,
    /// Why it is not theirs.
    pub reason: Text,
}

/// A department noted progress (including a site visit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProgressNoted {
    /// The department.
    pub department: DepartmentId,
    /// The liaison who wrote it.
    pub liaison: LiaisonId,
    /// What happened.
    pub note: Text,
    /// Whether this note records a visit on site.
    #[serde(default)]
    pub on_site: bool,
}

/// A department reported its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DepartmentFinished {
    /// The department.
    pub department: DepartmentId,
    /// The liaison who reported.
    pub liaison: LiaisonId,
    /// Whether the department fixed its part (false: explained why it cannot be fixed).
    pub fixed: bool,
    /// What was done.
    pub outcome: Text,
}

/// A department asked for more time (延期).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionRequested {
    /// The department.
    pub department: DepartmentId,
    /// The liaison asking.
    pub liaison: LiaisonId,
    /// The new deadline asked for.
    pub until: DateTime<Utc>,
    /// Why; the resident is told.
    pub reason: Text,
}

/// The street approved an extension: the department's deadline moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionApproved {
    /// The department.
    pub department: DepartmentId,
    /// The new deadline, told to the resident.
    pub until: DateTime<Utc>,
    /// The reason, told to the resident.
    pub reason: Text,
}

/// The street denied an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionDenied {
    /// The department.
    pub department: DepartmentId,
    /// Why not.
    pub reason: Text,
}

/// The ticket is resolved: every summoned department finished or declined, or the
/// community fixed it. The resident is asked for feedback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Resolved {
    /// What was done, as the resident is told.
    pub summary: Text,
}

/// The resident rated the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FeedbackRecorded {
    /// Whether the resident says the problem is solved (解决).
    pub resolved: bool,
    /// Whether the resident is satisfied (满意).
    pub satisfied: bool,
    /// Score 1–5, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    /// Comment, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Text>,
}

/// The ticket was reopened (重办) after an unresolved or unsatisfied outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reopened {
    /// Why.
    pub reason: Text,
    /// Which round of handling starts now (the first reopen starts round 2).
    pub round: u32,
}

/// Why a ticket was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The resident gave feedback and it stands.
    Feedback,
    /// The feedback window passed with no answer from the resident.
    NoFeedback,
}

/// The ticket is closed; from now on it can only be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Closed {
    /// Why.
    pub reason: CloseReason,
}

/// This ticket was a duplicate and was merged into another (one flood, fifty calls).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MergedInto {
    /// The ticket that carries on.
    pub into: TicketId,
    /// Why they are the same incident.
    pub reason: Text,
}

/// A duplicate ticket was merged into this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MergedFrom {
    /// The duplicate.
    pub from: TicketId,
}

/// Who supervises (督办).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionLevel {
    /// The street office supervises.
    Street,
    /// The district supervises.
    District,
}

/// A supervisor opened supervision (督办) on the ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SupervisionOpened {
    /// At which level.
    pub level: SupervisionLevel,
    /// The department supervised, if one is singled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentId>,
    /// Why.
    pub reason: Text,
}

/// The clocks a ticket is timed by.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SlaClock {
    /// The community acknowledges the resident (e.g. within 5 working minutes).
    Acknowledge,
    /// A summoned department reports in (e.g. within 30 minutes of the whistle).
    ReportIn,
    /// The ticket is completed (2 h, 24 h, 7 days or 15 days by tier).
    Completion,
}

impl SlaClock {
    /// Every clock.
    pub const ALL: [Self; 3] = [Self::Acknowledge, Self::ReportIn, Self::Completion];

    /// The clock's name as serialized (`report_in`), for keys and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledge",
            Self::ReportIn => "report_in",
            Self::Completion => "completion",
        }
    }
}

/// A clock ran past its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SlaBreached {
    /// Which clock.
    pub clock: SlaClock,
    /// The department, for a department's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentId>,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// The policy version the ticket is timed under.
    pub policy_version: String,
}

/// A clock has used up part of its allowed time (a warning at 50% or 75%): the people
/// on the clock are told before it is too late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SlaWarned {
    /// Which clock.
    pub clock: SlaClock,
    /// The department, for a department's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentId>,
    /// How much of the allowed time has passed, in percent (50, 75).
    pub percent: u8,
    /// When the clock is due.
    pub due_at: DateTime<Utc>,
    /// The policy version the ticket is timed under.
    pub policy_version: String,
}

/// The completion clocks stop running (e.g. waiting on the resident to let the department
/// in); the time paused does not count against anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SlaPaused {
    /// What the ticket waits for; the resident is told.
    pub reason: Text,
}

/// The completion clocks run again after a pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SlaResumed {
    /// What ended the wait.
    pub reason: Text,
}

/// The system a ticket came from updated its incident (action `update`), or said it is
/// over (action `resolve`, `cleared`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceUpdated {
    /// What the source said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text>,
    /// Whether the source says the incident is over.
    pub cleared: bool,
    /// The message's identity (derived from its content): the same message delivered
    /// again changes nothing.
    pub message_id: uuid::Uuid,
}

/// The resident's personal data on this ticket (the reporter's contact) was erased: the
/// key that sealed it is destroyed, so the sealed contact in `Received` can never be read
/// again. Every other event stays as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PersonalDataErased {
    /// Why (the resident asked, the retention period ran out…).
    pub reason: Text,
}

/// Every event of a ticket's life.
///
/// Exhaustive on purpose: a new variant breaks every `match` in the workspace that must
/// handle it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[expect(
    clippy::large_enum_variant,
    reason = "`Received` comes once per ticket; boxing it would change every match and constructor of the event contract to save a copy of a few hundred bytes"
)]
pub enum TicketEvent {
    /// See [`Received`].
    Received(Received),
    /// See [`Acknowledged`].
    Acknowledged(Acknowledged),
    /// See [`HandledLocally`].
    HandledLocally(HandledLocally),
    /// See [`CalledUp`].
    CalledUp(CalledUp),
    /// See [`WhistleBlown`].
    WhistleBlown(WhistleBlown),
    /// See [`DepartmentReportedIn`].
    DepartmentReportedIn(DepartmentReportedIn),
    /// See [`DepartmentDeclined`].
    DepartmentDeclined(DepartmentDeclined),
    /// See [`ProgressNoted`].
    ProgressNoted(ProgressNoted),
    /// See [`DepartmentFinished`].
    DepartmentFinished(DepartmentFinished),
    /// See [`ExtensionRequested`].
    ExtensionRequested(ExtensionRequested),
    /// See [`ExtensionApproved`].
    ExtensionApproved(ExtensionApproved),
    /// See [`ExtensionDenied`].
    ExtensionDenied(ExtensionDenied),
    /// See [`Resolved`].
    Resolved(Resolved),
    /// See [`FeedbackRecorded`].
    FeedbackRecorded(FeedbackRecorded),
    /// See [`Reopened`].
    Reopened(Reopened),
    /// See [`Closed`].
    Closed(Closed),
    /// See [`MergedInto`].
    MergedInto(MergedInto),
    /// See [`MergedFrom`].
    MergedFrom(MergedFrom),
    /// See [`SupervisionOpened`].
    SupervisionOpened(SupervisionOpened),
    /// See [`SlaBreached`].
    SlaBreached(SlaBreached),
    /// See [`SourceUpdated`].
    SourceUpdated(SourceUpdated),
    /// See [`SlaWarned`].
    SlaWarned(SlaWarned),
    /// See [`SlaPaused`].
    SlaPaused(SlaPaused),
    /// See [`SlaResumed`].
    SlaResumed(SlaResumed),
    /// See [`PersonalDataErased`].
    PersonalDataErased(PersonalDataErased),
}

/// The kind of a ticket event, with its current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKind {
    /// The event type, as stored (`WhistleBlown`).
    pub name: &'static str,
    /// The current version of its payload, three-part semver.
    pub version: &'static str,
}

/// The version every ticket event kind starts at, and keeps until its payload gains a
/// field. A kind that has changed since names its own version in `kinds!` below; see
/// [`TicketEvent::KINDS`] for the current version of each.
pub const TICKET_EVENT_VERSION: &str = "1.0.0";

/// `version!()` is [`TICKET_EVENT_VERSION`], `version!("1.1.0")` is that version.
macro_rules! version {
    () => {
        TICKET_EVENT_VERSION
    };
    ($version:literal) => {
        $version
    };
}

macro_rules! kinds {
    ($($variant:ident $(=> $version:literal)?),* $(,)?) => {
        impl TicketEvent {
            /// Every kind of ticket event at its current version.
            pub const KINDS: &'static [EventKind] = &[
                $(EventKind { name: stringify!($variant), version: version!($($version)?) }),*
            ];

            /// This event's kind.
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Self::$variant(_) => EventKind { name: stringify!($variant), version: version!($($version)?) }),*
                }
            }
        }
    };
}

// A kind whose payload gained a field names its new version here (minor bump), and the
// golden fixture of its old version stays in `events/tests/fixtures/`.
kinds!(
    // 1.1.0: `sealed_reporter`, and `address` in the contact.
    Received => "1.1.0",
    Acknowledged,
    HandledLocally,
    CalledUp,
    WhistleBlown,
    DepartmentReportedIn,
    DepartmentDeclined,
    ProgressNoted,
    DepartmentFinished,
    ExtensionRequested,
    ExtensionApproved,
    ExtensionDenied,
    Resolved,
    FeedbackRecorded,
    Reopened,
    Closed,
    MergedInto,
    MergedFrom,
    SupervisionOpened,
    SlaBreached,
    SourceUpdated,
    SlaWarned,
    SlaPaused,
    SlaResumed,
    PersonalDataErased,
);

/// Why a stored payload could not become a [`TicketEvent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No code for this type and version: an upcaster is missing, or the log was written
    /// by a newer whistle.
    #[error(
        "unknown ticket event type `{event_type}` version `{event_version}`: no upcaster turns it into a version this build knows; upgrade whistle or add an upcaster"
    )]
    Unknown {
        /// The stored type.
        event_type: String,
        /// The stored version.
        event_version: String,
    },
    /// The type and version are known but the payload does not fit them.
    #[error("payload of `{event_type}` version `{event_version}` does not deserialize: {reason}")]
    Malformed {
        /// The stored type.
        event_type: String,
        /// The stored version.
        event_version: String,
        /// What serde said.
        reason: String,
    },
}

/// `major.minor.patch`, or `None` when `version` is not three numbers.
fn semver(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(major)), Some(Some(minor)), Some(Some(patch)), None) => {
            Some((major, minor, patch))
        }
        _ => None,
    }
}

impl TicketEvent {
    /// Whether this build can read `event_type` at `event_version` without an upcaster:
    /// its current version, or an earlier minor or patch version of the same major (the
    /// fields added since have defaults). A later version is not known, even a minor one:
    /// reading it here would silently drop what the newer writer added (a sealed contact
    /// would read as no contact at all).
    pub fn is_known(event_type: &str, event_version: &str) -> bool {
        let Some(stored) = semver(event_version) else {
            return false;
        };
        Self::KINDS.iter().any(|k| {
            k.name == event_type
                && semver(k.version)
                    .is_some_and(|current| current.0 == stored.0 && stored <= current)
        })
    }

    /// Decodes a stored payload of the given type and (already upcast) version.
    pub fn decode(
        event_type: &str,
        event_version: &str,
        payload: &serde_json::Value,
    ) -> Result<Self, DecodeError> {
        Self::checked(event_type, event_version, || Self::deserialize(payload))
    }

    /// [`TicketEvent::decode`] from the payload's JSON text, without building a
    /// [`serde_json::Value`] of it first.
    pub fn decode_json(
        event_type: &str,
        event_version: &str,
        payload: &str,
    ) -> Result<Self, DecodeError> {
        Self::checked(event_type, event_version, || serde_json::from_str(payload))
    }

    fn checked(
        event_type: &str,
        event_version: &str,
        parse: impl FnOnce() -> Result<Self, serde_json::Error>,
    ) -> Result<Self, DecodeError> {
        if !Self::is_known(event_type, event_version) {
            return Err(DecodeError::Unknown {
                event_type: event_type.to_owned(),
                event_version: event_version.to_owned(),
            });
        }
        let malformed = |reason: String| DecodeError::Malformed {
            event_type: event_type.to_owned(),
            event_version: event_version.to_owned(),
            reason,
        };
        let event: Self = parse().map_err(|e| malformed(e.to_string()))?;
        if event.kind().name != event_type {
            return Err(malformed(format!(
                "the payload holds a `{}` event",
                event.kind().name
            )));
        }
        Ok(event)
    }
}
