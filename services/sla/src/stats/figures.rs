//! The shapes of the statistics: rates with the counts behind them, hop times, groups and
//! the board. Made for JSON (an HTTP API, a web dashboard): flat lists of groups with
//! `dimension`, `key` and `period` fields, never maps keyed by tuples.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use whistle_events::ticket::SlaClock;
use whistle_events::{Category, CommunityId, DepartmentId, DistrictId, StreetId, TicketId};

/// A rate the board computes per group. Each is `numerator / denominator` ([`Ratio`]); a
/// clock "decided" at the board's instant is one that is met, missed, or still running past
/// its due time (breached): a running clock not yet due, or a paused one, is not decided
/// and counts in neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rate {
    /// 响应率: acknowledge clocks met / acknowledge clocks decided (one per ticket). The
    /// clock stops at the community's first answer, or when the ticket leaves the
    /// community otherwise (called up, whistled, resolved, closed).
    Response,
    /// 解决率: ratings saying the problem is resolved / ratings (the latest rating of each
    /// rated ticket).
    Resolution,
    /// 满意率: ratings saying the resident is satisfied / ratings.
    Satisfaction,
    /// On-time acknowledgement: the same counts as [`Rate::Response`], published under
    /// its on-time name beside the other two clocks.
    AcknowledgeOnTime,
    /// On-time report-in: report-in clocks met / decided, one clock per summons.
    ReportInOnTime,
    /// On-time completion: completion clocks met / decided (one per ticket: the clock of
    /// its current round).
    CompletionOnTime,
    /// 退单率: summonses declined / summonses.
    Return,
    /// 重办率: tickets reopened (round > 1) / tickets resolved at least once.
    Redo,
    /// 吹哨率: tickets whistled / tickets.
    Whistle,
}

/// Which way a rate is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// More is better (on-time rates, the 三率).
    HigherIsBetter,
    /// Less is better (returns, redos).
    LowerIsBetter,
    /// Neither: the whistle rate is bad both when too low (the mechanism is unused) and
    /// when too high (routine work fails at the community).
    Neither,
}

impl Rate {
    /// How many rates there are.
    pub const COUNT: usize = 9;

    /// Every rate, in a stable order.
    pub const ALL: [Self; Self::COUNT] = [
        Self::Response,
        Self::Resolution,
        Self::Satisfaction,
        Self::AcknowledgeOnTime,
        Self::ReportInOnTime,
        Self::CompletionOnTime,
        Self::Return,
        Self::Redo,
        Self::Whistle,
    ];

    /// The name people use for it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Response => "响应率",
            Self::Resolution => "解决率",
            Self::Satisfaction => "满意率",
            Self::AcknowledgeOnTime => "按时受理率",
            Self::ReportInOnTime => "按时报到率",
            Self::CompletionOnTime => "按时办结率",
            Self::Return => "退单率",
            Self::Redo => "重办率",
            Self::Whistle => "吹哨率",
        }
    }

    /// Which way the rate is good.
    pub fn direction(self) -> Direction {
        match self {
            Self::Return | Self::Redo => Direction::LowerIsBetter,
            Self::Whistle => Direction::Neither,
            _ => Direction::HigherIsBetter,
        }
    }

    /// The position of the rate in [`Rate::ALL`] (and in internal count arrays).
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The serde name, so messages use the names written in files and JSON.
        let name = match self {
            Self::Response => "response",
            Self::Resolution => "resolution",
            Self::Satisfaction => "satisfaction",
            Self::AcknowledgeOnTime => "acknowledge_on_time",
            Self::ReportInOnTime => "report_in_on_time",
            Self::CompletionOnTime => "completion_on_time",
            Self::Return => "return",
            Self::Redo => "redo",
            Self::Whistle => "whistle",
        };
        f.write_str(name)
    }
}

/// A rate with the counts behind it, so a dashboard can show "37 / 40" and drill down.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// What is counted as a hit.
    pub numerator: u64,
    /// What is counted at all.
    pub denominator: u64,
    /// `numerator / denominator`, between 0 and 1; `None` when nothing was counted (never
    /// NaN).
    pub rate: Option<f64>,
}

impl Ratio {
    /// The ratio of two counts.
    pub fn new(numerator: u64, denominator: u64) -> Self {
        Self {
            numerator,
            denominator,
            // Counts stay far below 2^53, where u64 to f64 is exact.
            rate: (denominator > 0).then(|| numerator as f64 / denominator as f64),
        }
    }
}

/// A hop of a ticket's life whose time the board measures, in plain elapsed seconds (not
/// business time: this is how long people waited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hop {
    /// Received → first acknowledged by the community (tickets acknowledged).
    Acknowledge,
    /// Called up → first whistle (tickets called up, then whistled; an urgent ticket
    /// whistled without a call-up has no such hop).
    CallUpToWhistle,
    /// Whistle → report-in, per summons (summonses reported in).
    WhistleToReportIn,
    /// Report-in → the department's result, per summons (summonses finished after
    /// reporting in).
    ReportInToResult,
}

impl Hop {
    /// How many hops there are.
    pub const COUNT: usize = 4;

    /// Every hop, in the order of a ticket's life.
    pub const ALL: [Self; Self::COUNT] = [
        Self::Acknowledge,
        Self::CallUpToWhistle,
        Self::WhistleToReportIn,
        Self::ReportInToResult,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The times of one hop in a group.
///
/// Percentiles are **nearest-rank**: of the `n` times sorted ascending, the p-th percentile
/// is the one at rank `⌈p × n / 100⌉` (1-based): always a time that occurred, never an
/// interpolation. For 1, 2, 3, 4 the p50 is 2 and the p90 is 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopTimes {
    /// How many times were measured.
    pub count: u64,
    /// The median, in seconds (`None` when none was measured).
    pub p50_seconds: Option<i64>,
    /// The 90th percentile, in seconds.
    pub p90_seconds: Option<i64>,
}

impl HopTimes {
    /// The figures of times already sorted ascending.
    pub(crate) fn of_sorted(sorted: &[i64]) -> Self {
        Self {
            count: sorted.len() as u64,
            p50_seconds: nearest_rank(sorted, 50),
            p90_seconds: nearest_rank(sorted, 90),
        }
    }
}

/// The nearest-rank percentile of sorted values.
fn nearest_rank(sorted: &[i64], percent: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The hop-by-hop times of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hops {
    /// See [`Hop::Acknowledge`].
    pub acknowledge: HopTimes,
    /// See [`Hop::CallUpToWhistle`].
    pub call_up_to_whistle: HopTimes,
    /// See [`Hop::WhistleToReportIn`].
    pub whistle_to_report_in: HopTimes,
    /// See [`Hop::ReportInToResult`].
    pub report_in_to_result: HopTimes,
}

impl Hops {
    /// The times of one hop.
    pub fn get(&self, hop: Hop) -> &HopTimes {
        match hop {
            Hop::Acknowledge => &self.acknowledge,
            Hop::CallUpToWhistle => &self.call_up_to_whistle,
            Hop::WhistleToReportIn => &self.whistle_to_report_in,
            Hop::ReportInToResult => &self.report_in_to_result,
        }
    }
}

/// The figures of one group in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Tickets counted (received by the board's instant, merged duplicates excepted).
    pub tickets: u64,
    /// Summonses counted.
    pub summonses: u64,
    /// See [`Rate::Response`].
    pub response: Ratio,
    /// See [`Rate::Resolution`].
    pub resolution: Ratio,
    /// See [`Rate::Satisfaction`].
    pub satisfaction: Ratio,
    /// See [`Rate::AcknowledgeOnTime`].
    pub acknowledge_on_time: Ratio,
    /// See [`Rate::ReportInOnTime`].
    pub report_in_on_time: Ratio,
    /// See [`Rate::CompletionOnTime`].
    pub completion_on_time: Ratio,
    /// See [`Rate::Return`].
    #[serde(rename = "return")]
    pub returned: Ratio,
    /// See [`Rate::Redo`].
    pub redo: Ratio,
    /// See [`Rate::Whistle`].
    pub whistle: Ratio,
    /// Hop-by-hop times.
    pub hops: Hops,
}

impl Figures {
    /// One rate.
    pub fn rate(&self, rate: Rate) -> &Ratio {
        match rate {
            Rate::Response => &self.response,
            Rate::Resolution => &self.resolution,
            Rate::Satisfaction => &self.satisfaction,
            Rate::AcknowledgeOnTime => &self.acknowledge_on_time,
            Rate::ReportInOnTime => &self.report_in_on_time,
            Rate::CompletionOnTime => &self.completion_on_time,
            Rate::Return => &self.returned,
            Rate::Redo => &self.redo,
            Rate::Whistle => &self.whistle,
        }
    }
}

/// What tickets are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Every ticket: one group, key `all`.
    All,
    /// The district (区) of the ticket's location.
    District,
    /// The street (街道) of the ticket's location.
    Street,
    /// The community (社区) of the ticket's location.
    Community,
    /// The category, keyed by its snake_case name (`drains`).
    Category,
    /// A department summoned to the ticket. Its summonses count in the period of their
    /// `summoned_at`; the ticket's own counts (三率, acknowledge and completion clocks,
    /// redo, whistle, the ticket's hops) count once in each period in which the department
    /// was summoned to it.
    Department,
}

/// The key of the [`Dimension::All`] group.
pub const ALL_KEY: &str = "all";

/// Which tickets of a group are counted: by the local date (in the calendar's time zone) of
/// `received_at`, or of `summoned_at` for a department's summonses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Period {
    /// Every ticket received by the board's instant.
    All,
    /// One calendar month.
    Month {
        /// The year.
        year: i32,
        /// The month, 1 to 12.
        month: u32,
    },
    /// One calendar day.
    Day {
        /// The date.
        date: NaiveDate,
    },
}

impl Period {
    /// The local day of `at` in `time_zone`.
    pub fn day_of(at: DateTime<Utc>, time_zone: Tz) -> Self {
        Self::Day {
            date: at.with_timezone(&time_zone).date_naive(),
        }
    }

    /// The local month of `at` in `time_zone`.
    pub fn month_of(at: DateTime<Utc>, time_zone: Tz) -> Self {
        let date = at.with_timezone(&time_zone).date_naive();
        Self::Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Whether a ticket of the local date `date` belongs to the period.
    pub fn contains(self, date: NaiveDate) -> bool {
        match self {
            Self::All => true,
            Self::Month { year, month } => date.year() == year && date.month() == month,
            Self::Day { date: day } => day == date,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Month { year, month } => write!(f, "{year:04}-{month:02}"),
            Self::Day { date } => write!(f, "{date}"),
        }
    }
}

/// One group in one period: what a figure is about (and what [`super::tickets_behind`]
/// drills into).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Group {
    /// What is grouped by.
    pub dimension: Dimension,
    /// The id of the group: a district, street, community or department id, a category's
    /// snake_case name, or `all`.
    pub key: String,
    /// Which period.
    pub period: Period,
}

impl Group {
    /// A group.
    pub fn new(dimension: Dimension, key: impl Into<String>, period: Period) -> Self {
        Self {
            dimension,
            key: key.into(),
            period,
        }
    }
}

/// The figures of one group in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    /// What is grouped by.
    pub dimension: Dimension,
    /// The group's id (see [`Group::key`]).
    pub key: String,
    /// Which period.
    pub period: Period,
    /// The figures.
    pub figures: Figures,
}

impl GroupFigures {
    /// The group these figures are of.
    pub fn group(&self) -> Group {
        Group::new(self.dimension, self.key.clone(), self.period)
    }
}

/// Where a ticket stands, by the furthest step of its life reached by the board's instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Received, not yet answered (受理前).
    Received,
    /// Acknowledged by the community.
    Acknowledged,
    /// Being handled by the community itself.
    HandledLocally,
    /// Called up to the street, not yet whistled.
    CalledUp,
    /// Whistled: departments summoned.
    Whistled,
    /// Reopened (重办) and not resolved again yet.
    Reopened,
    /// Resolved, awaiting the resident's feedback or the close.
    Resolved,
    /// Closed.
    Closed,
    /// Merged into another ticket (a duplicate).
    Merged,
}

/// How many tickets are at each stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stages {
    /// See [`Stage::Received`].
    pub received: u64,
    /// See [`Stage::Acknowledged`].
    pub acknowledged: u64,
    /// See [`Stage::HandledLocally`].
    pub handled_locally: u64,
    /// See [`Stage::CalledUp`].
    pub called_up: u64,
    /// See [`Stage::Whistled`].
    pub whistled: u64,
    /// See [`Stage::Reopened`].
    pub reopened: u64,
    /// See [`Stage::Resolved`].
    pub resolved: u64,
    /// See [`Stage::Closed`].
    pub closed: u64,
    /// See [`Stage::Merged`].
    pub merged: u64,
}

impl Stages {
    /// The count of one stage.
    pub fn get(&self, stage: Stage) -> u64 {
        match stage {
            Stage::Received => self.received,
            Stage::Acknowledged => self.acknowledged,
            Stage::HandledLocally => self.handled_locally,
            Stage::CalledUp => self.called_up,
            Stage::Whistled => self.whistled,
            Stage::Reopened => self.reopened,
            Stage::Resolved => self.resolved,
            Stage::Closed => self.closed,
            Stage::Merged => self.merged,
        }
    }

    pub(crate) fn add(&mut self, stage: Stage) {
        let count = match stage {
            Stage::Received => &mut self.received,
            Stage::Acknowledged => &mut self.acknowledged,
            Stage::HandledLocally => &mut self.handled_locally,
            Stage::CalledUp => &mut self.called_up,
            Stage::Whistled => &mut self.whistled,
            Stage::Reopened => &mut self.reopened,
            Stage::Resolved => &mut self.resolved,
            Stage::Closed => &mut self.closed,
            Stage::Merged => &mut self.merged,
        };
        *count += 1;
    }
}

/// The board's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Tickets received by the board's instant (every stage, merged duplicates included).
    pub tickets: u64,
    /// Of those, still being handled (not resolved, closed or merged).
    pub open: u64,
    /// Of those, merged duplicates: they are left out of every figure (their incident
    /// counts once, in the ticket that carries on).
    pub merged: u64,
    /// Tickets given but received after the board's instant, left out.
    pub received_later: u64,
}

/// A running clock that needs someone's attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertedClock {
    /// The ticket.
    pub ticket: TicketId,
    /// Which clock.
    pub clock: SlaClock,
    /// The department, for a report-in clock.
    pub department: Option<DepartmentId>,
    /// When the clock started.
    pub started_at: DateTime<Utc>,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// For a clock at risk: the share of its time whose warning has passed (percent).
    pub warned_percent: Option<u8>,
    /// The district.
    pub district: DistrictId,
    /// The street.
    pub street: StreetId,
    /// The community.
    pub community: CommunityId,
    /// The category.
    pub category: Category,
}

/// The dashboard of a set of tickets at an instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Board {
    /// The instant the board is of: facts after it are taken as not happened.
    pub at: DateTime<Utc>,
    /// The time zone of the days and months (the calendar's).
    pub time_zone: String,
    /// Which policy timed the tickets (see [`super::Judge::describe`]).
    pub judged_by: String,
    /// Totals.
    pub totals: Totals,
    /// Tickets by stage (every ticket received by `at`).
    pub stages: Stages,
    /// Running clocks at risk: the clock's first warning at or above 75% of its time has
    /// passed (or, if the policy warns at nothing that high, its last warning has). The
    /// share is measured in the clock's own time (service hours, pauses), as the warnings
    /// are; a policy that warns at nothing puts no clock at risk. A paused clock is not at
    /// risk. Ordered by due time, soonest first.
    pub at_risk: Vec<AlertedClock>,
    /// Clocks running past their due time, most overdue first.
    pub breached: Vec<AlertedClock>,
    /// Acknowledge compliance: acknowledge clocks met within their limit / acknowledge
    /// clocks decided (met, missed, or breached while running), over every ticket. The
    /// same counts as the overall group's [`Rate::Response`].
    pub acknowledge_compliance: Ratio,
    /// The figures of every group that has tickets, ordered by dimension, key and period.
    pub groups: Vec<GroupFigures>,
}

impl Board {
    /// The figures of one group in one period, if it has tickets.
    pub fn figures(&self, dimension: Dimension, key: &str, period: Period) -> Option<&Figures> {
        self.groups
            .binary_search_by(|g| {
                (g.dimension, g.key.as_str(), g.period).cmp(&(dimension, key, period))
            })
            .ok()
            .and_then(|i| self.groups.get(i))
            .map(|g| &g.figures)
    }

    /// The figures of a [`Group`].
    pub fn group(&self, group: &Group) -> Option<&Figures> {
        self.figures(group.dimension, &group.key, group.period)
    }

    /// The figures over every ticket.
    pub fn overall(&self) -> Option<&Figures> {
        self.figures(Dimension::All, ALL_KEY, Period::All)
    }
}
