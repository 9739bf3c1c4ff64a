//! A ticket's timeline: its events with who did what and when, for people to read.

use chrono::{DateTime, Utc};
use whistle_events::ticket::{CloseReason, SlaClock, SupervisionLevel};
use whistle_events::{EventMetadata, TicketEvent};
use whistle_store::Position;

/// One line of a ticket's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// Place in the global log.
    pub position: Position,
    /// Place in the ticket's stream (1 first).
    pub version: u64,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who did it, in which request.
    pub metadata: EventMetadata,
    /// What happened.
    pub event: TicketEvent,
}

impl TimelineEntry {
    /// One line saying what happened, in the words of a street office. Personal data of
    /// the reporter is left out: a timeline is shown to many roles.
    pub fn summary(&self) -> String {
        match &self.event {
            TicketEvent::Received(e) => format!(
                "受理 received via {:?}: [{}·{}] {} ({} {}/{})",
                e.channel,
                e.category.label_zh(),
                e.urgency.label_zh(),
                e.description,
                e.location.community,
                e.location.street,
                e.location.district
            ),
            TicketEvent::Acknowledged(e) => format!("回应 acknowledged: {}", e.reply),
            TicketEvent::HandledLocally(e) => format!("社区自办 handled locally: {}", e.plan),
            TicketEvent::CalledUp(e) => {
                format!("社区呼叫 called up to street {}: {}", e.street, e.reason)
            }
            TicketEvent::WhistleBlown(e) => format!(
                "街道吹哨 whistle blown: summoned {}, lead {}: {}",
                e.departments
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                e.lead,
                e.reason
            ),
            TicketEvent::DepartmentReportedIn(e) => {
                format!("部门报到 {} reported in ({})", e.department, e.liaison)
            }
            TicketEvent::DepartmentDeclined(e) => format!(
                "退单 {} declined ({}): {}",
                e.department, e.liaison, e.reason
            ),
            TicketEvent::ProgressNoted(e) => format!(
                "进展 {}{}: {}",
                e.department,
                if e.on_site { " on site" } else { "" },
                e.note
            ),
            TicketEvent::DepartmentFinished(e) => format!(
                "办结 {} finished ({}): {}",
                e.department,
                if e.fixed {
                    "fixed"
                } else {
                    "not fixable, explained"
                },
                e.outcome
            ),
            TicketEvent::ExtensionRequested(e) => format!(
                "申请延期 {} asks until {}: {}",
                e.department, e.until, e.reason
            ),
            TicketEvent::ExtensionApproved(e) => {
                format!("延期批准 {} until {}: {}", e.department, e.until, e.reason)
            }
            TicketEvent::ExtensionDenied(e) => format!("延期驳回 {}: {}", e.department, e.reason),
            TicketEvent::Resolved(e) => format!("解决 resolved: {}", e.summary),
            TicketEvent::FeedbackRecorded(e) => format!(
                "评价 feedback: {}, {}{}{}",
                if e.resolved {
                    "解决 solved"
                } else {
                    "未解决 not solved"
                },
                if e.satisfied {
                    "满意 satisfied"
                } else {
                    "不满意 not satisfied"
                },
                e.score
                    .map(|s| format!(", score {}", s.get()))
                    .unwrap_or_default(),
                e.comment
                    .as_ref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
            TicketEvent::Reopened(e) => format!("重办 reopened (round {}): {}", e.round, e.reason),
            TicketEvent::Closed(e) => format!(
                "关闭 closed ({})",
                match e.reason {
                    CloseReason::Feedback => "after feedback",
                    CloseReason::NoFeedback => "no feedback in time",
                }
            ),
            TicketEvent::MergedInto(e) => format!("合并 merged into {}: {}", e.into, e.reason),
            TicketEvent::MergedFrom(e) => format!("合并 duplicate {} merged in", e.from),
            TicketEvent::SupervisionOpened(e) => format!(
                "督办 supervision opened at {} level{}: {}",
                match e.level {
                    SupervisionLevel::Street => "street",
                    SupervisionLevel::District => "district",
                },
                e.department
                    .as_ref()
                    .map(|d| format!(" on {d}"))
                    .unwrap_or_default(),
                e.reason
            ),
            TicketEvent::SourceUpdated(e) => format!(
                "{} the source system {}",
                if e.cleared {
                    "来源解除"
                } else {
                    "来源更新"
                },
                match (&e.note, e.cleared) {
                    (Some(note), true) => format!("says the incident is over: {note}"),
                    (None, true) => "says the incident is over".to_owned(),
                    (Some(note), false) => format!("adds: {note}"),
                    (None, false) => "updated the incident".to_owned(),
                }
            ),
            TicketEvent::SlaWarned(e) => format!(
                "预警 {} clock {}% used{}, due {} (policy {})",
                clock_name(e.clock),
                e.percent,
                e.department
                    .as_ref()
                    .map(|d| format!(" by {d}"))
                    .unwrap_or_default(),
                e.due_at,
                e.policy_version
            ),
            TicketEvent::SlaPaused(e) => format!("暂停计时 clocks paused: {}", e.reason),
            TicketEvent::SlaResumed(e) => format!("恢复计时 clocks resumed: {}", e.reason),
            TicketEvent::PersonalDataErased(e) => {
                format!("删除个人信息 personal data erased: {}", e.reason)
            }
            TicketEvent::SlaBreached(e) => format!(
                "超时 {} deadline {} missed{} (policy {})",
                clock_name(e.clock),
                e.due_at,
                e.department
                    .as_ref()
                    .map(|d| format!(" by {d}"))
                    .unwrap_or_default(),
                e.policy_version
            ),
        }
    }
}

fn clock_name(clock: SlaClock) -> &'static str {
    match clock {
        SlaClock::Acknowledge => "acknowledge",
        SlaClock::ReportIn => "report-in",
        SlaClock::Completion => "completion",
    }
}
