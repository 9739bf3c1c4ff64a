//! Given/when/then tests of the [`Ticket`] aggregate, through cqrs-es's `TestFramework`.
//!
//! The suite covers every `TicketCommand` on its success path and every rejection
//! `Ticket::handle` can produce: each `TicketError` variant the aggregate returns (all but
//! `SelfMerge`, which the executor checks), and `WrongStage` for each command that can
//! return it (acknowledge, handle locally, call up, blow the whistle, resolve, reopen,
//! close). It also pins the idempotent commands (a redelivered external incident, a
//! duplicate absorbed twice, a breach recorded twice, personal data erased twice), the
//! read-only tickets (closed, merged, not yet received: one command of every kind is
//! refused, but a closed or merged ticket still has its personal data erased) and how a
//! ticket moves between the community, the street and the departments (urgent whistles,
//! declines that send the ticket back to the street, reopening into round 2 and 3).
//!
//! Histories are built with [`History`] (`whistled(&["zhujian", "huanwei"], "zhujian")
//! .reported_in("zhujian")…`), commands with the `cmd` helpers and expected events with the
//! `ev` helpers, which share their texts so a command and the event it records compare
//! equal. The clock is a `ManualClock` at 2026-07-20T09:30:00Z.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use uuid::Uuid;
use whistle_clock::ManualClock;
use whistle_events::ticket::{CloseReason, SlaClock, SupervisionLevel};
use whistle_events::{
    Category, Channel, DepartmentId, ExternalId, ExternalSource, LiaisonId, Location,
    ReporterContact, Score, SealedContact, SourceSystem, Text, TicketEvent, TicketId, Urgency,
};
use whistle_ticket::{Event, Ticket, TicketCommand, TicketError, TicketServices};

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/// The instant the clock stands at: 2026-07-20T09:30:00Z.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 20, 9, 30, 0)
        .single()
        .expect("2026-07-20T09:30:00Z is a valid instant")
}

/// `now()` moved by `hours` (negative: earlier).
fn hours(hours: i64) -> DateTime<Utc> {
    now() + Duration::hours(hours)
}

/// Any code id (`DepartmentId`, `LiaisonId`, `StreetId`…), checked.
fn id<T>(code: &str) -> T
where
    T: FromStr,
    T::Err: Debug,
{
    code.parse()
        .unwrap_or_else(|e| panic!("`{code}` is not a valid id: {e:?}"))
}

fn dept(code: &str) -> DepartmentId {
    id(code)
}

fn depts(codes: &[&str]) -> Vec<DepartmentId> {
    codes.iter().map(|c| dept(c)).collect()
}

fn text(value: &str) -> Text {
    Text::note(value).expect("test texts are short and not empty")
}

/// A ticket id other than the one under test, numbered for readability.
fn ticket(n: u128) -> TicketId {
    TicketId::from_uuid(Uuid::from_u128(n))
}

/// The liaison of each demo department.
fn liaison_of(department: &str) -> &'static str {
    match department {
        "zhujian" => "zhujian-wang",
        "huanwei" => "huanwei-zhao",
        "chengguan" => "chengguan-liu",
        "gongan" => "gongan-chen",
        other => panic!("no liaison in the test data for department `{other}`"),
    }
}

fn source(external_id: &str) -> ExternalSource {
    ExternalSource {
        system: id::<SourceSystem>("hotline-12345"),
        external_id: ExternalId::parse(external_id).expect("valid external id"),
    }
}

fn location() -> Location {
    Location {
        district: id("haigang"),
        street: id("wenhualu"),
        community: id("hongqili"),
        grid: Some(id("hongqili-03")),
        place: Some("红旗里小区5号楼".to_owned()),
    }
}

const DESCRIPTION: &str = "楼前下水道堵塞，污水漫到路面";
const REPLY: &str = "已受理，社区网格员马上到现场查看";
const PLAN: &str = "社区组织物业疏通楼前雨水篦子";
const CALL_UP_REASON: &str = "涉及市政管网，社区无法单独处置";
const WHISTLE_REASON: &str = "市政管网堵塞，住建牵头、环卫配合清运";
const DECLINE_REASON: &str = "不属于本部门职责";
const NOTE: &str = "已到现场查看，正在抽排积水";
const OUTCOME: &str = "已疏通管网，路面污水清理完毕";
const EXTENSION_REASON: &str = "需等待管材到货";
const APPROVE_REASON: &str = "同意延期，已告知居民";
const DENY_REASON: &str = "积水影响通行，不同意延期";
const SUMMARY: &str = "下水道已疏通，路面已清理";
const COMMENT: &str = "处理及时";
const REOPEN_REASON: &str = "居民反映雨后再次积水";
const MERGE_REASON: &str = "同一处积水的重复来电";
const SUPERVISION_REASON: &str = "超时未报到";
const PAUSE_REASON: &str = "等待居民开门入户";
const RESUME_REASON: &str = "居民已回家";
const ERASE_REASON: &str = "居民申请删除个人信息";
const POLICY: &str = "2026.1";

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

mod cmd {
    use super::*;

    pub fn receive(urgency: Urgency, source: Option<ExternalSource>) -> TicketCommand {
        receive_saying(urgency, source, DESCRIPTION)
    }

    pub fn receive_saying(
        urgency: Urgency,
        source: Option<ExternalSource>,
        description: &str,
    ) -> TicketCommand {
        TicketCommand::Receive(whistle_events::ticket::Received {
            channel: Channel::Hotline,
            reporter: ReporterContact {
                name: Some("张女士".into()),
                phone: Some("13800001234".into()),
                address: None,
            },
            sealed_reporter: None,
            location: location(),
            category: Category::Drains,
            urgency,
            description: text(description),
            source,
        })
    }

    pub fn acknowledge() -> TicketCommand {
        TicketCommand::Acknowledge { reply: text(REPLY) }
    }

    pub fn handle_locally() -> TicketCommand {
        TicketCommand::HandleLocally { plan: text(PLAN) }
    }

    pub fn call_up() -> TicketCommand {
        TicketCommand::CallUp {
            reason: text(CALL_UP_REASON),
        }
    }

    pub fn blow_whistle(departments: &[&str], lead: &str) -> TicketCommand {
        TicketCommand::BlowWhistle {
            departments: depts(departments),
            lead: dept(lead),
            reason: text(WHISTLE_REASON),
        }
    }

    pub fn report_in(department: &str, liaison: &str) -> TicketCommand {
        TicketCommand::ReportIn {
            department: dept(department),
            liaison: id(liaison),
        }
    }

    pub fn decline(department: &str, liaison: &str) -> TicketCommand {
        TicketCommand::Decline {
            department: dept(department),
            liaison: id(liaison),
            reason: text(DECLINE_REASON),
        }
    }

    pub fn note_progress(department: &str, liaison: &str) -> TicketCommand {
        TicketCommand::NoteProgress {
            department: dept(department),
            liaison: id(liaison),
            note: text(NOTE),
            on_site: true,
        }
    }

    pub fn finish(department: &str, liaison: &str) -> TicketCommand {
        TicketCommand::Finish {
            department: dept(department),
            liaison: id(liaison),
            fixed: true,
            outcome: text(OUTCOME),
        }
    }

    pub fn request_extension(
        department: &str,
        liaison: &str,
        until: DateTime<Utc>,
    ) -> TicketCommand {
        TicketCommand::RequestExtension {
            department: dept(department),
            liaison: id(liaison),
            until,
            reason: text(EXTENSION_REASON),
        }
    }

    pub fn approve_extension(department: &str) -> TicketCommand {
        TicketCommand::ApproveExtension {
            department: dept(department),
            reason: text(APPROVE_REASON),
        }
    }

    pub fn deny_extension(department: &str) -> TicketCommand {
        TicketCommand::DenyExtension {
            department: dept(department),
            reason: text(DENY_REASON),
        }
    }

    pub fn resolve() -> TicketCommand {
        TicketCommand::Resolve {
            summary: text(SUMMARY),
        }
    }

    pub fn record_feedback(resolved: bool, satisfied: bool) -> TicketCommand {
        TicketCommand::RecordFeedback {
            resolved,
            satisfied,
            score: Some(Score::parse(5).expect("5 is a valid score")),
            comment: Some(text(COMMENT)),
        }
    }

    pub fn reopen() -> TicketCommand {
        TicketCommand::Reopen {
            reason: text(REOPEN_REASON),
        }
    }

    pub fn close(reason: CloseReason) -> TicketCommand {
        TicketCommand::Close { reason }
    }

    pub fn merge_into(into: TicketId) -> TicketCommand {
        TicketCommand::MergeInto {
            into,
            reason: text(MERGE_REASON),
        }
    }

    pub fn absorb_duplicate(from: TicketId) -> TicketCommand {
        TicketCommand::AbsorbDuplicate { from }
    }

    pub fn open_supervision(level: SupervisionLevel, department: Option<&str>) -> TicketCommand {
        TicketCommand::OpenSupervision {
            level,
            department: department.map(dept),
            reason: text(SUPERVISION_REASON),
        }
    }

    pub fn record_breach(
        clock: SlaClock,
        department: Option<&str>,
        due_at: DateTime<Utc>,
    ) -> TicketCommand {
        TicketCommand::RecordBreach {
            clock,
            department: department.map(dept),
            due_at,
            policy_version: POLICY.to_owned(),
        }
    }

    pub fn record_warning(clock: SlaClock, percent: u8, due_at: DateTime<Utc>) -> TicketCommand {
        TicketCommand::RecordWarning {
            clock,
            department: None,
            percent,
            due_at,
            policy_version: POLICY.to_owned(),
        }
    }

    pub fn pause_clocks() -> TicketCommand {
        TicketCommand::PauseClocks {
            reason: text(PAUSE_REASON),
        }
    }

    pub fn resume_clocks() -> TicketCommand {
        TicketCommand::ResumeClocks {
            reason: text(RESUME_REASON),
        }
    }

    pub fn erase_personal_data() -> TicketCommand {
        TicketCommand::ErasePersonalData {
            reason: text(ERASE_REASON),
        }
    }

    /// A hotline complaint whose contact the executor sealed as `seal` (the aggregate never
    /// opens a seal: it compares it).
    pub fn receive_sealed(seal: &str) -> TicketCommand {
        let TicketCommand::Receive(received) = receive(Urgency::Minor, None) else {
            unreachable!("cmd::receive builds a Receive command")
        };
        TicketCommand::Receive(whistle_events::ticket::Received {
            reporter: ReporterContact::default(),
            sealed_reporter: Some(SealedContact {
                nonce: format!("nonce-{seal}"),
                ciphertext: format!("ciphertext-{seal}"),
            }),
            ..received
        })
    }

    pub fn source_update(cleared: bool, message: u128) -> TicketCommand {
        TicketCommand::RecordSourceUpdate {
            note: Some(Text::note("水位回落").expect("valid")),
            cleared,
            message_id: uuid::Uuid::from_u128(message),
        }
    }
}

/// The name of a command's kind. The match is exhaustive on purpose: a new command kind
/// does not compile here until it is added, and then `one_command_of_every_kind` must be
/// extended too (the `the_command_lists_hold_one_command_of_every_kind` test checks it).
fn kind(command: &TicketCommand) -> &'static str {
    use TicketCommand as C;
    match command {
        C::Receive(_) => "Receive",
        C::Acknowledge { .. } => "Acknowledge",
        C::HandleLocally { .. } => "HandleLocally",
        C::CallUp { .. } => "CallUp",
        C::BlowWhistle { .. } => "BlowWhistle",
        C::ReportIn { .. } => "ReportIn",
        C::Decline { .. } => "Decline",
        C::NoteProgress { .. } => "NoteProgress",
        C::Finish { .. } => "Finish",
        C::RequestExtension { .. } => "RequestExtension",
        C::ApproveExtension { .. } => "ApproveExtension",
        C::DenyExtension { .. } => "DenyExtension",
        C::Resolve { .. } => "Resolve",
        C::RecordFeedback { .. } => "RecordFeedback",
        C::Reopen { .. } => "Reopen",
        C::Close { .. } => "Close",
        C::MergeInto { .. } => "MergeInto",
        C::AbsorbDuplicate { .. } => "AbsorbDuplicate",
        C::OpenSupervision { .. } => "OpenSupervision",
        C::RecordBreach { .. } => "RecordBreach",
        C::RecordSourceUpdate { .. } => "RecordSourceUpdate",
        C::RecordWarning { .. } => "RecordWarning",
        C::PauseClocks { .. } => "PauseClocks",
        C::ResumeClocks { .. } => "ResumeClocks",
        C::ErasePersonalData { .. } => "ErasePersonalData",
    }
}

/// How many kinds of command there are (the arms of [`kind`]).
const COMMAND_KINDS: usize = 25;

/// One command of every kind but the two a read-only ticket still takes, which are checked
/// on their own: `Receive` (how a ticket starts; redelivery of an external incident must
/// stay harmless forever) and `ErasePersonalData` (a resident's data is erased whatever
/// became of the ticket).
fn one_handling_command_of_every_kind() -> Vec<TicketCommand> {
    vec![
        cmd::acknowledge(),
        cmd::handle_locally(),
        cmd::call_up(),
        cmd::blow_whistle(&["zhujian"], "zhujian"),
        cmd::report_in("zhujian", "zhujian-wang"),
        cmd::decline("zhujian", "zhujian-wang"),
        cmd::note_progress("zhujian", "zhujian-wang"),
        cmd::finish("zhujian", "zhujian-wang"),
        cmd::request_extension("zhujian", "zhujian-wang", hours(48)),
        cmd::approve_extension("zhujian"),
        cmd::deny_extension("zhujian"),
        cmd::resolve(),
        cmd::record_feedback(true, true),
        cmd::reopen(),
        cmd::close(CloseReason::Feedback),
        cmd::merge_into(ticket(3)),
        cmd::absorb_duplicate(ticket(4)),
        cmd::open_supervision(SupervisionLevel::District, None),
        cmd::record_breach(SlaClock::Completion, None, hours(-1)),
        cmd::source_update(false, 1),
        cmd::record_warning(SlaClock::Completion, 50, hours(1)),
        cmd::pause_clocks(),
        cmd::resume_clocks(),
    ]
}

fn one_command_of_every_kind() -> Vec<TicketCommand> {
    let mut commands = vec![
        cmd::receive(Urgency::Minor, None),
        cmd::erase_personal_data(),
    ];
    commands.extend(one_handling_command_of_every_kind());
    commands
}

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

mod ev {
    use super::*;
    use whistle_events::ticket as e;

    /// The event a `cmd::receive*` command records (the command carries the same fields).
    pub fn received(urgency: Urgency, source: Option<ExternalSource>) -> Event {
        let TicketCommand::Receive(received) = cmd::receive(urgency, source) else {
            unreachable!("cmd::receive builds a Receive command")
        };
        Event(TicketEvent::Received(received))
    }

    pub fn acknowledged() -> Event {
        Event(TicketEvent::Acknowledged(e::Acknowledged {
            reply: text(REPLY),
        }))
    }

    pub fn handled_locally() -> Event {
        Event(TicketEvent::HandledLocally(e::HandledLocally {
            plan: text(PLAN),
        }))
    }

    pub fn called_up() -> Event {
        Event(TicketEvent::CalledUp(e::CalledUp {
            street: id("wenhualu"),
            reason: text(CALL_UP_REASON),
        }))
    }

    pub fn whistle_blown(departments: &[&str], lead: &str) -> Event {
        Event(TicketEvent::WhistleBlown(e::WhistleBlown {
            departments: depts(departments),
            lead: dept(lead),
            reason: text(WHISTLE_REASON),
        }))
    }

    pub fn reported_in(department: &str, liaison: &str) -> Event {
        Event(TicketEvent::DepartmentReportedIn(e::DepartmentReportedIn {
            department: dept(department),
            liaison: id(liaison),
        }))
    }

    pub fn declined(department: &str, liaison: &str) -> Event {
        Event(TicketEvent::DepartmentDeclined(e::DepartmentDeclined {
            department: dept(department),
            liaison: id(liaison),
            reason: text(DECLINE_REASON),
        }))
    }

    pub fn progress_noted(department: &str, liaison: &str) -> Event {
        Event(TicketEvent::ProgressNoted(e::ProgressNoted {
            department: dept(department),
            liaison: id(liaison),
            note: text(NOTE),
            on_site: true,
        }))
    }

    pub fn finished(department: &str, liaison: &str) -> Event {
        Event(TicketEvent::DepartmentFinished(e::DepartmentFinished {
            department: dept(department),
            liaison: id(liaison),
            fixed: true,
            outcome: text(OUTCOME),
        }))
    }

    pub fn extension_requested(department: &str, liaison: &str, until: DateTime<Utc>) -> Event {
        Event(TicketEvent::ExtensionRequested(e::ExtensionRequested {
            department: dept(department),
            liaison: id(liaison),
            until,
            reason: text(EXTENSION_REASON),
        }))
    }

    pub fn extension_approved(department: &str, until: DateTime<Utc>) -> Event {
        Event(TicketEvent::ExtensionApproved(e::ExtensionApproved {
            department: dept(department),
            until,
            reason: text(APPROVE_REASON),
        }))
    }

    pub fn extension_denied(department: &str) -> Event {
        Event(TicketEvent::ExtensionDenied(e::ExtensionDenied {
            department: dept(department),
            reason: text(DENY_REASON),
        }))
    }

    pub fn resolved() -> Event {
        Event(TicketEvent::Resolved(e::Resolved {
            summary: text(SUMMARY),
        }))
    }

    /// The event `cmd::record_feedback(resolved, satisfied)` records.
    pub fn feedback_recorded(resolved: bool, satisfied: bool) -> Event {
        Event(TicketEvent::FeedbackRecorded(e::FeedbackRecorded {
            resolved,
            satisfied,
            score: Some(Score::parse(5).expect("5 is a valid score")),
            comment: Some(text(COMMENT)),
        }))
    }

    pub fn reopened(round: u32) -> Event {
        Event(TicketEvent::Reopened(e::Reopened {
            reason: text(REOPEN_REASON),
            round,
        }))
    }

    pub fn closed(reason: CloseReason) -> Event {
        Event(TicketEvent::Closed(e::Closed { reason }))
    }

    pub fn merged_into(into: TicketId) -> Event {
        Event(TicketEvent::MergedInto(e::MergedInto {
            into,
            reason: text(MERGE_REASON),
        }))
    }

    pub fn merged_from(from: TicketId) -> Event {
        Event(TicketEvent::MergedFrom(e::MergedFrom { from }))
    }

    pub fn supervision_opened(level: SupervisionLevel, department: Option<&str>) -> Event {
        Event(TicketEvent::SupervisionOpened(e::SupervisionOpened {
            level,
            department: department.map(dept),
            reason: text(SUPERVISION_REASON),
        }))
    }

    pub fn sla_breached(clock: SlaClock, department: Option<&str>, due_at: DateTime<Utc>) -> Event {
        Event(TicketEvent::SlaBreached(e::SlaBreached {
            clock,
            department: department.map(dept),
            due_at,
            policy_version: POLICY.to_owned(),
        }))
    }

    pub fn sla_warned(clock: SlaClock, percent: u8, due_at: DateTime<Utc>) -> Event {
        Event(TicketEvent::SlaWarned(e::SlaWarned {
            clock,
            department: None,
            percent,
            due_at,
            policy_version: POLICY.to_owned(),
        }))
    }

    pub fn sla_paused() -> Event {
        Event(TicketEvent::SlaPaused(e::SlaPaused {
            reason: text(PAUSE_REASON),
        }))
    }

    pub fn sla_resumed() -> Event {
        Event(TicketEvent::SlaResumed(e::SlaResumed {
            reason: text(RESUME_REASON),
        }))
    }

    pub fn personal_data_erased() -> Event {
        Event(TicketEvent::PersonalDataErased(e::PersonalDataErased {
            reason: text(ERASE_REASON),
        }))
    }

    pub fn source_updated(cleared: bool, message: u128) -> Event {
        Event(TicketEvent::SourceUpdated(e::SourceUpdated {
            note: Some(Text::note("水位回落").expect("valid")),
            cleared,
            message_id: uuid::Uuid::from_u128(message),
        }))
    }
}

// ---------------------------------------------------------------------------------------
// Histories
// ---------------------------------------------------------------------------------------

fn services_at(instant: DateTime<Utc>) -> TicketServices {
    TicketServices {
        clock: Arc::new(ManualClock::new(instant)),
    }
}

fn framework() -> TestFramework<Ticket> {
    TestFramework::<Ticket>::with(services_at(now()))
}

/// A ticket's past events, built step by step.
#[derive(Debug, Clone)]
struct History(Vec<Event>);

/// A complaint received from a person (no external source).
fn received(urgency: Urgency) -> History {
    History(vec![ev::received(urgency, None)])
}

/// A complaint received from the 12345 hotline platform as incident `external_id`.
fn received_from(urgency: Urgency, external_id: &str) -> History {
    History(vec![ev::received(urgency, Some(source(external_id)))])
}

/// A minor complaint, acknowledged, called up and whistled.
fn whistled(departments: &[&str], lead: &str) -> History {
    received(Urgency::Minor)
        .acknowledged()
        .called_up()
        .whistled(departments, lead)
}

/// A ticket zhujian fixed and the street resolved.
fn resolved_by_zhujian() -> History {
    whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .finished("zhujian")
        .resolved()
}

/// A ticket the community fixed itself and resolved.
fn resolved_locally() -> History {
    received(Urgency::Minor)
        .acknowledged()
        .handled_locally()
        .resolved()
}

/// A ticket closed on satisfied feedback.
fn closed() -> History {
    resolved_by_zhujian()
        .feedback(true, true)
        .closed(CloseReason::Feedback)
}

impl History {
    fn and(mut self, event: Event) -> Self {
        self.0.push(event);
        self
    }

    fn acknowledged(self) -> Self {
        self.and(ev::acknowledged())
    }

    fn handled_locally(self) -> Self {
        self.and(ev::handled_locally())
    }

    fn called_up(self) -> Self {
        self.and(ev::called_up())
    }

    fn whistled(self, departments: &[&str], lead: &str) -> Self {
        self.and(ev::whistle_blown(departments, lead))
    }

    /// `department` reports in by its usual liaison.
    fn reported_in(self, department: &str) -> Self {
        self.and(ev::reported_in(department, liaison_of(department)))
    }

    /// `department` declines by its usual liaison.
    fn declined(self, department: &str) -> Self {
        self.and(ev::declined(department, liaison_of(department)))
    }

    /// `department` finishes by its usual liaison.
    fn finished(self, department: &str) -> Self {
        self.and(ev::finished(department, liaison_of(department)))
    }

    fn extension_requested(self, department: &str, until: DateTime<Utc>) -> Self {
        self.and(ev::extension_requested(
            department,
            liaison_of(department),
            until,
        ))
    }

    fn resolved(self) -> Self {
        self.and(ev::resolved())
    }

    fn feedback(self, resolved: bool, satisfied: bool) -> Self {
        self.and(ev::feedback_recorded(resolved, satisfied))
    }

    fn reopened(self, round: u32) -> Self {
        self.and(ev::reopened(round))
    }

    fn closed(self, reason: CloseReason) -> Self {
        self.and(ev::closed(reason))
    }

    fn merged_into(self, into: TicketId) -> Self {
        self.and(ev::merged_into(into))
    }

    fn personal_data_erased(self) -> Self {
        self.and(ev::personal_data_erased())
    }

    /// The history, handed to the test framework with the clock at `now()`.
    fn given(self) -> AggregateTestExecutor<Ticket> {
        framework().given(self.0)
    }
}

/// Runs each of `commands` on `history` and expects each to be refused with `error`.
/// Names the command kind on failure.
fn each_is_refused(history: &History, commands: Vec<TicketCommand>, error: &TicketError) {
    for command in commands {
        let kind = kind(&command);
        let result = history.clone().given().when(command).inspect_result();
        assert_eq!(result, Err(error.clone()), "{kind} on this history");
    }
}

fn wrong_stage(action: &'static str, stage: &'static str) -> TicketError {
    TicketError::WrongStage { action, stage }
}

// ---------------------------------------------------------------------------------------
// The command lists themselves
// ---------------------------------------------------------------------------------------

#[test]
fn the_command_lists_hold_one_command_of_every_kind() {
    let commands = one_command_of_every_kind();
    let kinds: BTreeSet<&str> = commands.iter().map(kind).collect();
    assert_eq!(kinds.len(), commands.len(), "a kind is listed twice");
    assert_eq!(kinds.len(), COMMAND_KINDS, "a kind is missing");
    assert!(
        !one_handling_command_of_every_kind()
            .iter()
            .any(|c| matches!(
                c,
                TicketCommand::Receive(_) | TicketCommand::ErasePersonalData { .. }
            ))
    );
}

// ---------------------------------------------------------------------------------------
// Receive
// ---------------------------------------------------------------------------------------

#[test]
fn receive_records_the_complaint() {
    framework()
        .given_no_previous_events()
        .when(cmd::receive(Urgency::Major, Some(source("12345-0001"))))
        .then_expect_events(vec![ev::received(
            Urgency::Major,
            Some(source("12345-0001")),
        )]);
}

#[test]
fn every_command_before_receive_is_refused_as_not_received() {
    let mut commands = one_handling_command_of_every_kind();
    commands.push(cmd::erase_personal_data());
    each_is_refused(&History(vec![]), commands, &TicketError::NotReceived);
}

#[test]
fn receiving_the_same_external_incident_again_changes_nothing() {
    received_from(Urgency::Major, "12345-0001")
        .given()
        .when(cmd::receive(Urgency::Major, Some(source("12345-0001"))))
        .then_expect_events(vec![]);
}

#[test]
fn receiving_another_external_incident_under_the_same_ticket_is_refused() {
    received_from(Urgency::Major, "12345-0001")
        .given()
        .when(cmd::receive(Urgency::Major, Some(source("12345-0002"))))
        .then_expect_error(TicketError::AlreadyReceived);
}

#[test]
fn receiving_a_different_complaint_under_the_same_ticket_is_refused() {
    received(Urgency::Minor)
        .given()
        .when(cmd::receive_saying(Urgency::Minor, None, "路灯不亮"))
        .then_expect_error(TicketError::AlreadyReceived);
}

/// A complaint typed in by a person and submitted twice under the same ticket id (a
/// client retry) changes nothing the second time.
#[test]
fn receiving_an_identical_complaint_again_records_nothing() {
    received(Urgency::Minor)
        .given()
        .when(cmd::receive(Urgency::Minor, None))
        .then_expect_events(vec![]);
}

/// Pinned as is: the same external incident is recognised by its source alone, so a
/// redelivery whose contents changed is also accepted and records nothing.
#[test]
fn a_redelivered_external_incident_is_recognised_by_its_source_alone() {
    received_from(Urgency::Major, "12345-0001")
        .given()
        .when(cmd::receive_saying(
            Urgency::Urgent,
            Some(source("12345-0001")),
            "污水已漫进楼道",
        ))
        .then_expect_events(vec![]);
}

/// Receive is the one command a read-only ticket does not refuse as closed or merged: a
/// redelivered incident stays harmless forever, anything else is `AlreadyReceived`.
#[test]
fn receive_on_a_closed_or_merged_ticket_is_still_idempotent() {
    let incident = || {
        received_from(Urgency::Major, "12345-0001")
            .acknowledged()
            .handled_locally()
            .resolved()
    };
    for history in [
        incident().closed(CloseReason::NoFeedback),
        incident().merged_into(ticket(2)),
    ] {
        history
            .clone()
            .given()
            .when(cmd::receive(Urgency::Major, Some(source("12345-0001"))))
            .then_expect_events(vec![]);
        history
            .given()
            .when(cmd::receive(Urgency::Major, Some(source("12345-0002"))))
            .then_expect_error(TicketError::AlreadyReceived);
    }
}

// ---------------------------------------------------------------------------------------
// The community: acknowledge, handle locally, call up
// ---------------------------------------------------------------------------------------

#[test]
fn the_community_acknowledges_a_received_complaint() {
    received(Urgency::Minor)
        .given()
        .when(cmd::acknowledge())
        .then_expect_events(vec![ev::acknowledged()]);
}

#[test]
fn a_complaint_is_acknowledged_once() {
    received(Urgency::Minor)
        .acknowledged()
        .given()
        .when(cmd::acknowledge())
        .then_expect_error(TicketError::AlreadyAcknowledged);
}

#[test]
fn a_late_acknowledgement_while_the_street_has_the_ticket_is_accepted() {
    received(Urgency::Minor)
        .called_up()
        .given()
        .when(cmd::acknowledge())
        .then_expect_events(vec![ev::acknowledged()]);
}

#[test]
fn a_resolved_ticket_is_not_acknowledged_any_more() {
    received(Urgency::Urgent)
        .whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .finished("zhujian")
        .resolved()
        .given()
        .when(cmd::acknowledge())
        .then_expect_error(wrong_stage("acknowledge", "resolved"));
}

#[test]
fn the_community_takes_an_acknowledged_complaint_on_locally() {
    received(Urgency::Minor)
        .acknowledged()
        .given()
        .when(cmd::handle_locally())
        .then_expect_events(vec![ev::handled_locally()]);
}

#[test]
fn handling_locally_before_acknowledging_is_refused() {
    received(Urgency::Minor)
        .given()
        .when(cmd::handle_locally())
        .then_expect_error(TicketError::NotAcknowledged);
}

#[test]
fn the_community_cannot_take_back_a_ticket_the_street_has() {
    received(Urgency::Minor)
        .acknowledged()
        .called_up()
        .given()
        .when(cmd::handle_locally())
        .then_expect_error(wrong_stage(
            "take the ticket on locally",
            "with the street, waiting for a whistle",
        ));
}

#[test]
fn calling_up_sends_the_ticket_to_the_street_of_its_location() {
    for history in [
        received(Urgency::Minor),
        received(Urgency::Minor).acknowledged(),
        received(Urgency::Minor).acknowledged().handled_locally(),
    ] {
        history
            .given()
            .when(cmd::call_up())
            .then_expect_events(vec![ev::called_up()]);
    }
}

#[test]
fn a_ticket_is_called_up_once() {
    received(Urgency::Minor)
        .acknowledged()
        .called_up()
        .given()
        .when(cmd::call_up())
        .then_expect_error(wrong_stage(
            "call the street up",
            "with the street, waiting for a whistle",
        ));
}

// ---------------------------------------------------------------------------------------
// The street: blow the whistle
// ---------------------------------------------------------------------------------------

#[test]
fn the_street_whistles_departments_after_a_call_up() {
    received(Urgency::Minor)
        .acknowledged()
        .called_up()
        .given()
        .when(cmd::blow_whistle(&["zhujian", "huanwei"], "zhujian"))
        .then_expect_events(vec![ev::whistle_blown(&["zhujian", "huanwei"], "zhujian")]);
}

#[test]
fn an_urgent_ticket_may_whistle_straight_from_received() {
    for history in [
        received(Urgency::Urgent),
        received(Urgency::Urgent).acknowledged(),
        received(Urgency::Urgent).acknowledged().handled_locally(),
    ] {
        history
            .given()
            .when(cmd::blow_whistle(&["zhujian", "huanwei"], "zhujian"))
            .then_expect_events(vec![ev::whistle_blown(&["zhujian", "huanwei"], "zhujian")]);
    }
}

#[test]
fn a_ticket_that_is_not_urgent_may_not_whistle_before_a_call_up() {
    for urgency in [Urgency::Minor, Urgency::Major, Urgency::Important] {
        received(urgency)
            .given()
            .when(cmd::blow_whistle(&["zhujian"], "zhujian"))
            .then_expect_error(wrong_stage("blow the whistle", "waiting for the community"));
    }
}

#[test]
fn a_resolved_ticket_is_not_whistled() {
    resolved_by_zhujian()
        .given()
        .when(cmd::blow_whistle(&["huanwei"], "huanwei"))
        .then_expect_error(wrong_stage("blow the whistle", "resolved"));
}

#[test]
fn a_whistle_must_summon_a_department() {
    received(Urgency::Minor)
        .called_up()
        .given()
        .when(cmd::blow_whistle(&[], "zhujian"))
        .then_expect_error(TicketError::NoDepartments);
}

#[test]
fn a_whistle_names_each_department_once() {
    received(Urgency::Minor)
        .called_up()
        .given()
        .when(cmd::blow_whistle(
            &["zhujian", "huanwei", "zhujian"],
            "zhujian",
        ))
        .then_expect_error(TicketError::DuplicateDepartment(dept("zhujian")));
}

#[test]
fn a_department_at_work_is_not_summoned_again() {
    for history in [
        whistled(&["zhujian", "huanwei"], "zhujian"),
        whistled(&["zhujian", "huanwei"], "zhujian").reported_in("huanwei"),
    ] {
        history
            .given()
            .when(cmd::blow_whistle(&["chengguan", "huanwei"], "chengguan"))
            .then_expect_error(TicketError::AlreadySummoned(dept("huanwei")));
    }
}

#[test]
fn the_lead_must_be_summoned_by_the_whistle_or_at_work() {
    received(Urgency::Minor)
        .called_up()
        .given()
        .when(cmd::blow_whistle(&["zhujian", "huanwei"], "gongan"))
        .then_expect_error(TicketError::LeadNotSummoned(dept("gongan")));
}

#[test]
fn a_department_that_declined_cannot_lead_without_being_summoned_again() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .declined("zhujian")
        .given()
        .when(cmd::blow_whistle(&["chengguan"], "zhujian"))
        .then_expect_error(TicketError::LeadNotSummoned(dept("zhujian")));
}

#[test]
fn a_second_whistle_may_keep_a_department_at_work_as_lead() {
    whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .given()
        .when(cmd::blow_whistle(&["huanwei"], "zhujian"))
        .then_expect_events(vec![ev::whistle_blown(&["huanwei"], "zhujian")]);
}

/// A department's result stands for the round: summoning it again is refused (reopening
/// the ticket starts a new round in which it can be summoned).
#[test]
fn a_department_that_finished_is_not_summoned_again_in_the_same_round() {
    whistled(&["zhujian", "huanwei"], "huanwei")
        .reported_in("zhujian")
        .finished("zhujian")
        .given()
        .when(cmd::blow_whistle(&["zhujian"], "huanwei"))
        .then_expect_error(TicketError::AlreadyFinished(dept("zhujian")));
}

#[test]
fn a_department_that_declined_may_be_summoned_again() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .declined("huanwei")
        .given()
        .when(cmd::blow_whistle(&["huanwei"], "zhujian"))
        .then_expect_events(vec![ev::whistle_blown(&["huanwei"], "zhujian")]);
}

#[test]
fn when_every_summoned_department_declines_the_street_whistles_again() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .declined("zhujian")
        .declined("huanwei")
        .given()
        .when(cmd::blow_whistle(&["chengguan"], "chengguan"))
        .then_expect_events(vec![ev::whistle_blown(&["chengguan"], "chengguan")]);
}

#[test]
fn when_every_summoned_department_declines_the_ticket_cannot_resolve() {
    // The ticket is back with the street, so Resolve is refused as the wrong stage, and the
    // message says where the ticket is.
    whistled(&["zhujian", "huanwei"], "zhujian")
        .declined("zhujian")
        .declined("huanwei")
        .given()
        .when(cmd::resolve())
        .then_expect_error(wrong_stage(
            "resolve",
            "with the street, waiting for a whistle",
        ));
}

#[test]
fn one_decline_while_another_department_works_keeps_the_ticket_with_the_departments() {
    let history = whistled(&["zhujian", "huanwei"], "zhujian").declined("huanwei");
    history
        .clone()
        .given()
        .when(cmd::call_up())
        .then_expect_error(wrong_stage(
            "call the street up",
            "with the summoned departments",
        ));
    history
        .given()
        .when(cmd::resolve())
        .then_expect_error(TicketError::DepartmentsOutstanding(depts(&["zhujian"])));
}

// ---------------------------------------------------------------------------------------
// Departments: report in, decline
// ---------------------------------------------------------------------------------------

#[test]
fn a_summoned_department_reports_in() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .given()
        .when(cmd::report_in("huanwei", "huanwei-zhao"))
        .then_expect_events(vec![ev::reported_in("huanwei", "huanwei-zhao")]);
}

#[test]
fn a_department_that_was_not_summoned_cannot_report_in() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .given()
        .when(cmd::report_in("gongan", "gongan-chen"))
        .then_expect_error(TicketError::NotSummoned(dept("gongan")));
}

#[test]
fn a_second_claim_is_rejected_naming_the_holder() {
    for liaison in ["zhujian-li", "zhujian-wang"] {
        whistled(&["zhujian", "huanwei"], "zhujian")
            .reported_in("zhujian")
            .given()
            .when(cmd::report_in("zhujian", liaison))
            .then_expect_error(TicketError::AlreadyClaimed {
                department: dept("zhujian"),
                holder: id::<LiaisonId>("zhujian-wang"),
            });
    }
}

#[test]
fn a_declined_summons_cannot_be_claimed() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .declined("huanwei")
        .given()
        .when(cmd::report_in("huanwei", "huanwei-zhao"))
        .then_expect_error(TicketError::SummonsDeclined(dept("huanwei")));
}

#[test]
fn a_finished_summons_cannot_be_claimed() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .reported_in("zhujian")
        .finished("zhujian")
        .given()
        .when(cmd::report_in("zhujian", "zhujian-li"))
        .then_expect_error(TicketError::AlreadyFinished(dept("zhujian")));
}

#[test]
fn an_unclaimed_summons_may_be_declined() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .given()
        .when(cmd::decline("huanwei", "huanwei-zhao"))
        .then_expect_events(vec![ev::declined("huanwei", "huanwei-zhao")]);
}

#[test]
fn the_holder_may_decline_a_claimed_summons() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .reported_in("huanwei")
        .given()
        .when(cmd::decline("huanwei", "huanwei-zhao"))
        .then_expect_events(vec![ev::declined("huanwei", "huanwei-zhao")]);
}

#[test]
fn only_the_holder_declines_a_claimed_summons() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .reported_in("huanwei")
        .given()
        .when(cmd::decline("huanwei", "huanwei-sun"))
        .then_expect_error(TicketError::NotHolder {
            department: dept("huanwei"),
            holder: id("huanwei-zhao"),
            liaison: id("huanwei-sun"),
        });
}

#[test]
fn a_summons_is_declined_once() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .declined("huanwei")
        .given()
        .when(cmd::decline("huanwei", "huanwei-zhao"))
        .then_expect_error(TicketError::SummonsDeclined(dept("huanwei")));
}

#[test]
fn a_department_that_finished_cannot_decline() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .reported_in("zhujian")
        .finished("zhujian")
        .given()
        .when(cmd::decline("zhujian", "zhujian-wang"))
        .then_expect_error(TicketError::AlreadyFinished(dept("zhujian")));
}

// ---------------------------------------------------------------------------------------
// Departments: progress, result, extensions (the holder's commands)
// ---------------------------------------------------------------------------------------

#[test]
fn the_holder_notes_progress() {
    whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .given()
        .when(cmd::note_progress("zhujian", "zhujian-wang"))
        .then_expect_events(vec![ev::progress_noted("zhujian", "zhujian-wang")]);
}

#[test]
fn the_holder_reports_the_result() {
    whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .given()
        .when(cmd::finish("zhujian", "zhujian-wang"))
        .then_expect_events(vec![ev::finished("zhujian", "zhujian-wang")]);
}

/// The commands only the holder of a summons may give, for `department` by `liaison`.
fn holder_commands(department: &str, liaison: &str) -> Vec<TicketCommand> {
    vec![
        cmd::note_progress(department, liaison),
        cmd::finish(department, liaison),
        cmd::request_extension(department, liaison, hours(48)),
    ]
}

#[test]
fn only_the_holder_notes_progress_finishes_or_asks_for_time() {
    each_is_refused(
        &whistled(&["zhujian", "huanwei"], "zhujian").reported_in("zhujian"),
        holder_commands("zhujian", "zhujian-li"),
        &TicketError::NotHolder {
            department: dept("zhujian"),
            holder: id("zhujian-wang"),
            liaison: id("zhujian-li"),
        },
    );
}

#[test]
fn an_unclaimed_summons_takes_no_progress_result_or_extension() {
    each_is_refused(
        &whistled(&["zhujian", "huanwei"], "zhujian"),
        holder_commands("zhujian", "zhujian-wang"),
        &TicketError::NotClaimed(dept("zhujian")),
    );
}

#[test]
fn a_declined_summons_takes_no_progress_result_or_extension() {
    each_is_refused(
        &whistled(&["zhujian", "huanwei"], "zhujian")
            .reported_in("huanwei")
            .declined("huanwei"),
        holder_commands("huanwei", "huanwei-zhao"),
        &TicketError::SummonsDeclined(dept("huanwei")),
    );
}

#[test]
fn a_finished_summons_takes_no_more_progress_result_or_extension() {
    each_is_refused(
        &whistled(&["zhujian", "huanwei"], "zhujian")
            .reported_in("zhujian")
            .finished("zhujian"),
        holder_commands("zhujian", "zhujian-wang"),
        &TicketError::AlreadyFinished(dept("zhujian")),
    );
}

#[test]
fn a_department_that_was_not_summoned_gives_no_department_command() {
    let mut commands = holder_commands("gongan", "gongan-chen");
    commands.extend([
        cmd::report_in("gongan", "gongan-chen"),
        cmd::decline("gongan", "gongan-chen"),
        cmd::approve_extension("gongan"),
        cmd::deny_extension("gongan"),
        cmd::open_supervision(SupervisionLevel::Street, Some("gongan")),
    ]);
    each_is_refused(
        &whistled(&["zhujian", "huanwei"], "zhujian").reported_in("zhujian"),
        commands,
        &TicketError::NotSummoned(dept("gongan")),
    );
}

#[test]
fn the_holder_may_ask_for_more_time() {
    whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .given()
        .when(cmd::request_extension("zhujian", "zhujian-wang", hours(48)))
        .then_expect_events(vec![ev::extension_requested(
            "zhujian",
            "zhujian-wang",
            hours(48),
        )]);
}

#[test]
fn an_extension_must_end_after_the_clocks_now() {
    for until in [now(), hours(-2), now() - Duration::seconds(1)] {
        whistled(&["zhujian"], "zhujian")
            .reported_in("zhujian")
            .given()
            .when(cmd::request_extension("zhujian", "zhujian-wang", until))
            .then_expect_error(TicketError::ExtensionNotInFuture { until });
    }
    whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .given()
        .when(cmd::request_extension(
            "zhujian",
            "zhujian-wang",
            now() + Duration::seconds(1),
        ))
        .then_expect_events(vec![ev::extension_requested(
            "zhujian",
            "zhujian-wang",
            now() + Duration::seconds(1),
        )]);
}

#[test]
fn an_extension_is_judged_against_the_injected_clock() {
    let clock = ManualClock::new(now());
    clock.advance(Duration::hours(3));
    TestFramework::<Ticket>::with(TicketServices {
        clock: Arc::new(clock),
    })
    .given(whistled(&["zhujian"], "zhujian").reported_in("zhujian").0)
    .when(cmd::request_extension("zhujian", "zhujian-wang", hours(2)))
    .then_expect_error(TicketError::ExtensionNotInFuture { until: hours(2) });
}

#[test]
fn one_extension_request_at_a_time() {
    whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .extension_requested("zhujian", hours(48))
        .given()
        .when(cmd::request_extension("zhujian", "zhujian-wang", hours(72)))
        .then_expect_error(TicketError::ExtensionPending(dept("zhujian")));
}

#[test]
fn approving_an_extension_moves_the_deadline_to_the_requested_time() {
    whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .extension_requested("zhujian", hours(48))
        .given()
        .when(cmd::approve_extension("zhujian"))
        .then_expect_events(vec![ev::extension_approved("zhujian", hours(48))]);
}

#[test]
fn the_street_may_deny_an_extension() {
    whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .extension_requested("zhujian", hours(48))
        .given()
        .when(cmd::deny_extension("zhujian"))
        .then_expect_events(vec![ev::extension_denied("zhujian")]);
}

#[test]
fn a_decided_extension_lets_the_holder_ask_again() {
    let asked = || {
        whistled(&["zhujian"], "zhujian")
            .reported_in("zhujian")
            .extension_requested("zhujian", hours(48))
    };
    for decided in [
        asked().and(ev::extension_approved("zhujian", hours(48))),
        asked().and(ev::extension_denied("zhujian")),
    ] {
        decided
            .given()
            .when(cmd::request_extension("zhujian", "zhujian-wang", hours(72)))
            .then_expect_events(vec![ev::extension_requested(
                "zhujian",
                "zhujian-wang",
                hours(72),
            )]);
    }
}

#[test]
fn there_is_nothing_to_approve_or_deny_without_a_pending_request() {
    let at_work = || whistled(&["zhujian"], "zhujian").reported_in("zhujian");
    let histories = [
        // never asked
        at_work(),
        // already decided
        at_work()
            .extension_requested("zhujian", hours(48))
            .and(ev::extension_approved("zhujian", hours(48))),
        at_work()
            .extension_requested("zhujian", hours(48))
            .and(ev::extension_denied("zhujian")),
        // the result or a decline withdraws the request
        at_work()
            .extension_requested("zhujian", hours(48))
            .finished("zhujian"),
        whistled(&["zhujian", "huanwei"], "huanwei")
            .reported_in("zhujian")
            .extension_requested("zhujian", hours(48))
            .declined("zhujian"),
    ];
    for history in histories {
        each_is_refused(
            &history,
            vec![
                cmd::approve_extension("zhujian"),
                cmd::deny_extension("zhujian"),
            ],
            &TicketError::NoExtensionPending(dept("zhujian")),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Resolve
// ---------------------------------------------------------------------------------------

#[test]
fn a_ticket_resolves_once_every_summoned_department_finished_or_declined() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .declined("huanwei")
        .reported_in("zhujian")
        .finished("zhujian")
        .given()
        .when(cmd::resolve())
        .then_expect_events(vec![ev::resolved()]);
}

#[test]
fn a_ticket_the_community_handles_resolves() {
    received(Urgency::Minor)
        .acknowledged()
        .handled_locally()
        .given()
        .when(cmd::resolve())
        .then_expect_events(vec![ev::resolved()]);
}

#[test]
fn a_ticket_cannot_resolve_while_a_summoned_department_is_still_at_work() {
    // chengguan finished, huanwei declined, gongan claimed, zhujian never claimed.
    whistled(&["zhujian", "huanwei", "chengguan", "gongan"], "zhujian")
        .reported_in("chengguan")
        .finished("chengguan")
        .declined("huanwei")
        .reported_in("gongan")
        .given()
        .when(cmd::resolve())
        .then_expect_error(TicketError::DepartmentsOutstanding(depts(&[
            "gongan", "zhujian",
        ])));
}

#[test]
fn a_ticket_nobody_works_on_cannot_resolve() {
    for (history, stage) in [
        (received(Urgency::Minor), "waiting for the community"),
        (
            received(Urgency::Minor).acknowledged(),
            "acknowledged by the community",
        ),
        (
            received(Urgency::Minor).acknowledged().called_up(),
            "with the street, waiting for a whistle",
        ),
        (resolved_by_zhujian(), "resolved"),
    ] {
        history
            .given()
            .when(cmd::resolve())
            .then_expect_error(wrong_stage("resolve", stage));
    }
}

// ---------------------------------------------------------------------------------------
// Feedback
// ---------------------------------------------------------------------------------------

#[test]
fn the_resident_rates_a_resolved_ticket() {
    resolved_by_zhujian()
        .given()
        .when(cmd::record_feedback(true, true))
        .then_expect_events(vec![ev::feedback_recorded(true, true)]);
}

#[test]
fn feedback_comes_only_after_resolution() {
    for history in [
        received(Urgency::Minor).acknowledged(),
        whistled(&["zhujian"], "zhujian")
            .reported_in("zhujian")
            .finished("zhujian"),
    ] {
        history
            .given()
            .when(cmd::record_feedback(true, true))
            .then_expect_error(TicketError::FeedbackBeforeResolution);
    }
}

#[test]
fn feedback_is_recorded_once_per_resolution() {
    resolved_by_zhujian()
        .feedback(false, false)
        .given()
        .when(cmd::record_feedback(true, true))
        .then_expect_error(TicketError::FeedbackAlreadyRecorded);
}

// ---------------------------------------------------------------------------------------
// Reopen
// ---------------------------------------------------------------------------------------

#[test]
fn reopening_a_resolved_ticket_starts_round_two() {
    resolved_by_zhujian()
        .feedback(false, false)
        .given()
        .when(cmd::reopen())
        .then_expect_events(vec![ev::reopened(2)]);
}

#[test]
fn reopening_a_second_time_starts_round_three() {
    resolved_by_zhujian()
        .feedback(false, false)
        .reopened(2)
        .whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .finished("zhujian")
        .resolved()
        .given()
        .when(cmd::reopen())
        .then_expect_events(vec![ev::reopened(3)]);
}

#[test]
fn only_a_resolved_ticket_is_reopened() {
    whistled(&["zhujian"], "zhujian")
        .reported_in("zhujian")
        .given()
        .when(cmd::reopen())
        .then_expect_error(wrong_stage("reopen", "with the summoned departments"));
}

/// A resident who calls back before giving feedback can have the ticket reopened; one who
/// said the problem is solved and is satisfied cannot.
#[test]
fn a_ticket_is_reopened_without_feedback_but_not_after_satisfied_feedback() {
    resolved_by_zhujian()
        .given()
        .when(cmd::reopen())
        .then_expect_events(vec![ev::reopened(2)]);
    resolved_by_zhujian()
        .feedback(true, true)
        .given()
        .when(cmd::reopen())
        .then_expect_error(TicketError::ResidentSatisfied);
    for (solved, satisfied) in [(true, false), (false, true)] {
        resolved_by_zhujian()
            .feedback(solved, satisfied)
            .given()
            .when(cmd::reopen())
            .then_expect_events(vec![ev::reopened(2)]);
    }
}

/// Supervision belongs to a round of handling: after reopening, the same supervision can
/// be opened for the new round.
#[test]
fn supervision_can_be_opened_again_in_a_new_round() {
    resolved_by_zhujian()
        .and(ev::supervision_opened(SupervisionLevel::District, None))
        .feedback(false, false)
        .reopened(2)
        .given()
        .when(cmd::open_supervision(SupervisionLevel::District, None))
        .then_expect_events(vec![ev::supervision_opened(
            SupervisionLevel::District,
            None,
        )]);
}

#[test]
fn a_reopened_whistled_ticket_is_back_with_the_street() {
    let reopened = || {
        whistled(&["zhujian", "huanwei"], "zhujian")
            .reported_in("zhujian")
            .finished("zhujian")
            .reported_in("huanwei")
            .finished("huanwei")
            .resolved()
            .feedback(false, false)
            .reopened(2)
    };
    // The same departments may be summoned again, for the new round.
    reopened()
        .given()
        .when(cmd::blow_whistle(&["zhujian", "huanwei"], "zhujian"))
        .then_expect_events(vec![ev::whistle_blown(&["zhujian", "huanwei"], "zhujian")]);
    // The old round's summonses are gone.
    reopened()
        .given()
        .when(cmd::report_in("zhujian", "zhujian-wang"))
        .then_expect_error(TicketError::NotSummoned(dept("zhujian")));
    // The community does not get it back.
    reopened()
        .given()
        .when(cmd::handle_locally())
        .then_expect_error(wrong_stage(
            "take the ticket on locally",
            "with the street, waiting for a whistle",
        ));
}

#[test]
fn a_reopened_locally_handled_ticket_goes_back_to_the_community() {
    resolved_locally()
        .feedback(true, false)
        .reopened(2)
        .given()
        .when(cmd::handle_locally())
        .then_expect_events(vec![ev::handled_locally()]);
}

#[test]
fn a_reopened_ticket_takes_new_feedback_and_is_not_closed_until_resolved_again() {
    let reopened = || resolved_locally().feedback(false, false).reopened(2);
    reopened()
        .given()
        .when(cmd::close(CloseReason::Feedback))
        .then_expect_error(wrong_stage("close", "acknowledged by the community"));
    reopened()
        .handled_locally()
        .resolved()
        .given()
        .when(cmd::record_feedback(true, true))
        .then_expect_events(vec![ev::feedback_recorded(true, true)]);
}

// ---------------------------------------------------------------------------------------
// Close
// ---------------------------------------------------------------------------------------

#[test]
fn a_ticket_closes_on_the_residents_satisfied_feedback() {
    resolved_by_zhujian()
        .feedback(true, true)
        .given()
        .when(cmd::close(CloseReason::Feedback))
        .then_expect_events(vec![ev::closed(CloseReason::Feedback)]);
}

#[test]
fn a_ticket_closes_for_lack_of_feedback() {
    resolved_by_zhujian()
        .given()
        .when(cmd::close(CloseReason::NoFeedback))
        .then_expect_events(vec![ev::closed(CloseReason::NoFeedback)]);
}

#[test]
fn closing_on_feedback_needs_feedback() {
    resolved_by_zhujian()
        .given()
        .when(cmd::close(CloseReason::Feedback))
        .then_expect_error(TicketError::NoFeedback);
}

#[test]
fn unsolved_or_unsatisfied_feedback_does_not_close_the_ticket() {
    for (resolved, satisfied) in [(true, false), (false, true), (false, false)] {
        resolved_by_zhujian()
            .feedback(resolved, satisfied)
            .given()
            .when(cmd::close(CloseReason::Feedback))
            .then_expect_error(TicketError::UnsatisfiedFeedback);
    }
}

#[test]
fn closing_for_lack_of_feedback_is_refused_once_the_resident_answered() {
    for (resolved, satisfied) in [(true, true), (false, false)] {
        resolved_by_zhujian()
            .feedback(resolved, satisfied)
            .given()
            .when(cmd::close(CloseReason::NoFeedback))
            .then_expect_error(TicketError::FeedbackGiven);
    }
}

#[test]
fn only_a_resolved_ticket_closes() {
    for reason in [CloseReason::Feedback, CloseReason::NoFeedback] {
        received(Urgency::Minor)
            .acknowledged()
            .handled_locally()
            .given()
            .when(cmd::close(reason))
            .then_expect_error(wrong_stage("close", "handled by the community"));
    }
}

#[test]
fn a_closed_ticket_can_only_be_read() {
    each_is_refused(
        &closed(),
        one_handling_command_of_every_kind(),
        &TicketError::Closed,
    );
}

// ---------------------------------------------------------------------------------------
// Merge
// ---------------------------------------------------------------------------------------

#[test]
fn a_duplicate_is_merged_into_the_ticket_that_carries_on() {
    received(Urgency::Minor)
        .acknowledged()
        .given()
        .when(cmd::merge_into(ticket(2)))
        .then_expect_events(vec![ev::merged_into(ticket(2))]);
    // Departments that finished or declined are not stranded by the merge.
    whistled(&["zhujian", "huanwei"], "zhujian")
        .reported_in("zhujian")
        .finished("zhujian")
        .declined("huanwei")
        .given()
        .when(cmd::merge_into(ticket(2)))
        .then_expect_events(vec![ev::merged_into(ticket(2))]);
}

#[test]
fn a_ticket_with_departments_at_work_is_not_merged_away() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .reported_in("zhujian")
        .given()
        .when(cmd::merge_into(ticket(2)))
        .then_expect_error(TicketError::SummonsOpen(depts(&["huanwei", "zhujian"])));
}

#[test]
fn a_resolved_ticket_is_not_merged_away() {
    resolved_by_zhujian()
        .given()
        .when(cmd::merge_into(ticket(2)))
        .then_expect_error(wrong_stage("merge into another ticket", "resolved"));
}

#[test]
fn a_merged_ticket_can_only_be_read() {
    each_is_refused(
        &whistled(&["zhujian"], "zhujian").merged_into(ticket(2)),
        one_handling_command_of_every_kind(),
        &TicketError::Merged { into: ticket(2) },
    );
}

#[test]
fn the_surviving_ticket_records_the_duplicate() {
    whistled(&["zhujian"], "zhujian")
        .given()
        .when(cmd::absorb_duplicate(ticket(5)))
        .then_expect_events(vec![ev::merged_from(ticket(5))]);
}

#[test]
fn absorbing_the_same_duplicate_again_changes_nothing() {
    let absorbed = || whistled(&["zhujian"], "zhujian").and(ev::merged_from(ticket(5)));
    absorbed()
        .given()
        .when(cmd::absorb_duplicate(ticket(5)))
        .then_expect_events(vec![]);
    absorbed()
        .given()
        .when(cmd::absorb_duplicate(ticket(6)))
        .then_expect_events(vec![ev::merged_from(ticket(6))]);
}

// ---------------------------------------------------------------------------------------
// Supervision
// ---------------------------------------------------------------------------------------

#[test]
fn a_supervisor_opens_supervision() {
    for department in [None, Some("huanwei")] {
        whistled(&["zhujian", "huanwei"], "zhujian")
            .given()
            .when(cmd::open_supervision(SupervisionLevel::Street, department))
            .then_expect_events(vec![ev::supervision_opened(
                SupervisionLevel::Street,
                department,
            )]);
    }
}

#[test]
fn the_same_supervision_is_opened_once() {
    for department in [None, Some("huanwei")] {
        whistled(&["zhujian", "huanwei"], "zhujian")
            .and(ev::supervision_opened(SupervisionLevel::Street, department))
            .given()
            .when(cmd::open_supervision(SupervisionLevel::Street, department))
            .then_expect_error(TicketError::AlreadySupervised);
    }
}

#[test]
fn supervision_at_another_level_or_of_another_department_is_new() {
    let supervised = || {
        whistled(&["zhujian", "huanwei"], "zhujian").and(ev::supervision_opened(
            SupervisionLevel::Street,
            Some("huanwei"),
        ))
    };
    supervised()
        .given()
        .when(cmd::open_supervision(
            SupervisionLevel::District,
            Some("huanwei"),
        ))
        .then_expect_events(vec![ev::supervision_opened(
            SupervisionLevel::District,
            Some("huanwei"),
        )]);
    supervised()
        .given()
        .when(cmd::open_supervision(
            SupervisionLevel::Street,
            Some("zhujian"),
        ))
        .then_expect_events(vec![ev::supervision_opened(
            SupervisionLevel::Street,
            Some("zhujian"),
        )]);
}

#[test]
fn supervision_cannot_single_out_a_department_that_was_not_summoned() {
    whistled(&["zhujian", "huanwei"], "zhujian")
        .given()
        .when(cmd::open_supervision(
            SupervisionLevel::District,
            Some("gongan"),
        ))
        .then_expect_error(TicketError::NotSummoned(dept("gongan")));
}

// ---------------------------------------------------------------------------------------
// SLA breaches
// ---------------------------------------------------------------------------------------

#[test]
fn a_breach_is_recorded() {
    whistled(&["zhujian"], "zhujian")
        .given()
        .when(cmd::record_breach(
            SlaClock::ReportIn,
            Some("zhujian"),
            hours(-1),
        ))
        .then_expect_events(vec![ev::sla_breached(
            SlaClock::ReportIn,
            Some("zhujian"),
            hours(-1),
        )]);
}

#[test]
fn recording_the_same_breach_again_changes_nothing() {
    whistled(&["zhujian"], "zhujian")
        .and(ev::sla_breached(
            SlaClock::ReportIn,
            Some("zhujian"),
            hours(-1),
        ))
        .given()
        .when(cmd::record_breach(
            SlaClock::ReportIn,
            Some("zhujian"),
            hours(-1),
        ))
        .then_expect_events(vec![]);
}

#[test]
fn a_breach_of_another_deadline_clock_or_department_is_new() {
    let breached = || {
        whistled(&["zhujian", "huanwei"], "zhujian").and(ev::sla_breached(
            SlaClock::ReportIn,
            Some("zhujian"),
            hours(-1),
        ))
    };
    for (clock, department, due_at) in [
        (
            SlaClock::ReportIn,
            Some("zhujian"),
            hours(-2) + Duration::minutes(30),
        ),
        (SlaClock::ReportIn, Some("huanwei"), hours(-1)),
        (SlaClock::Completion, Some("zhujian"), hours(-1)),
        (SlaClock::Completion, None, hours(-1)),
    ] {
        breached()
            .given()
            .when(cmd::record_breach(clock, department, due_at))
            .then_expect_events(vec![ev::sla_breached(clock, department, due_at)]);
    }
}

// ---------------------------------------------------------------------------------------
// Updates from the source system
// ---------------------------------------------------------------------------------------

#[test]
fn a_source_update_is_recorded() {
    whistled(&["zhujian"], "zhujian")
        .given()
        .when(cmd::source_update(true, 7))
        .then_expect_events(vec![ev::source_updated(true, 7)]);
}

#[test]
fn the_same_source_message_again_changes_nothing() {
    whistled(&["zhujian"], "zhujian")
        .and(ev::source_updated(false, 7))
        .given()
        .when(cmd::source_update(false, 7))
        .then_expect_events(vec![]);
}

#[test]
fn another_source_message_is_recorded() {
    whistled(&["zhujian"], "zhujian")
        .and(ev::source_updated(false, 7))
        .given()
        .when(cmd::source_update(true, 8))
        .then_expect_events(vec![ev::source_updated(true, 8)]);
}

#[test]
fn a_closed_ticket_takes_no_source_update() {
    closed()
        .given()
        .when(cmd::source_update(false, 9))
        .then_expect_error(TicketError::Closed);
}

#[test]
fn a_ticket_the_source_cleared_resolves_before_any_whistle() {
    received(Urgency::Major)
        .and(ev::source_updated(true, 7))
        .given()
        .when(cmd::resolve())
        .then_expect_events(vec![ev::resolved()]);
}

#[test]
fn a_source_update_that_does_not_clear_allows_no_early_resolve() {
    received(Urgency::Major)
        .and(ev::source_updated(false, 7))
        .given()
        .when(cmd::resolve())
        .then_expect_error(TicketError::WrongStage {
            action: "resolve",
            stage: "waiting for the community",
        });
}

#[test]
fn a_warning_is_recorded_once() {
    whistled(&["zhujian"], "zhujian")
        .given()
        .when(cmd::record_warning(SlaClock::Completion, 75, hours(1)))
        .then_expect_events(vec![ev::sla_warned(SlaClock::Completion, 75, hours(1))]);
    whistled(&["zhujian"], "zhujian")
        .and(ev::sla_warned(SlaClock::Completion, 75, hours(1)))
        .given()
        .when(cmd::record_warning(SlaClock::Completion, 75, hours(1)))
        .then_expect_events(vec![]);
    // The same share of a moved deadline is a new warning.
    whistled(&["zhujian"], "zhujian")
        .and(ev::sla_warned(SlaClock::Completion, 75, hours(1)))
        .given()
        .when(cmd::record_warning(SlaClock::Completion, 75, hours(2)))
        .then_expect_events(vec![ev::sla_warned(SlaClock::Completion, 75, hours(2))]);
}

#[test]
fn a_warning_must_be_a_share_of_the_allowed_time() {
    for percent in [0, 100, 150] {
        whistled(&["zhujian"], "zhujian")
            .given()
            .when(cmd::record_warning(SlaClock::Completion, percent, hours(1)))
            .then_expect_error(TicketError::WarningPercent(percent));
    }
}

#[test]
fn clocks_pause_and_resume_in_turn() {
    whistled(&["zhujian"], "zhujian")
        .given()
        .when(cmd::pause_clocks())
        .then_expect_events(vec![ev::sla_paused()]);
    whistled(&["zhujian"], "zhujian")
        .and(ev::sla_paused())
        .given()
        .when(cmd::pause_clocks())
        .then_expect_error(TicketError::AlreadyPaused);
    whistled(&["zhujian"], "zhujian")
        .and(ev::sla_paused())
        .given()
        .when(cmd::resume_clocks())
        .then_expect_events(vec![ev::sla_resumed()]);
    whistled(&["zhujian"], "zhujian")
        .given()
        .when(cmd::resume_clocks())
        .then_expect_error(TicketError::NotPaused);
}

// ---------------------------------------------------------------------------------------
// Personal data
// ---------------------------------------------------------------------------------------

#[test]
fn erasing_personal_data_records_the_erasure() {
    received(Urgency::Minor)
        .given()
        .when(cmd::erase_personal_data())
        .then_expect_events(vec![ev::personal_data_erased()]);
}

/// The executor destroys the key after every successful `ErasePersonalData`, so a retry
/// after a failed key erasure must succeed without recording the erasure twice.
#[test]
fn erasing_again_records_nothing() {
    received(Urgency::Minor)
        .personal_data_erased()
        .given()
        .when(cmd::erase_personal_data())
        .then_expect_events(vec![]);
}

/// Retention runs out after a ticket is closed: read-only tickets still take the erasure.
#[test]
fn a_closed_or_merged_ticket_still_has_its_personal_data_erased() {
    for history in [closed(), received(Urgency::Minor).merged_into(ticket(2))] {
        history
            .given()
            .when(cmd::erase_personal_data())
            .then_expect_events(vec![ev::personal_data_erased()]);
    }
}

#[test]
fn an_erased_ticket_is_handled_as_before() {
    received(Urgency::Minor)
        .personal_data_erased()
        .given()
        .when(cmd::acknowledge())
        .then_expect_events(vec![ev::acknowledged()]);
    received(Urgency::Minor)
        .personal_data_erased()
        .given()
        .when(cmd::receive_saying(Urgency::Minor, None, "路灯不亮"))
        .then_expect_error(TicketError::AlreadyReceived);
}

/// Two seals of one contact differ (fresh nonces): the aggregate compares seals as they
/// are, so the executor hands a complaint sent again in its recorded form.
#[test]
fn a_sealed_complaint_is_recognised_in_its_recorded_form() {
    let TicketCommand::Receive(sealed) = cmd::receive_sealed("a") else {
        unreachable!("cmd::receive_sealed builds a Receive command")
    };
    let history = || History(vec![Event(TicketEvent::Received(sealed.clone()))]);
    history()
        .given()
        .when(cmd::receive_sealed("a"))
        .then_expect_events(vec![]);
    history()
        .given()
        .when(cmd::receive_sealed("b"))
        .then_expect_error(TicketError::AlreadyReceived);
}
