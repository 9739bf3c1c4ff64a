//! The board: every ticket cut at the instant, timed by the judge, and counted into the
//! groups it belongs to.
//!
//! Each ticket is turned into "units" once: one for the ticket itself and one per summons,
//! each a fixed-size [`Tally`] (no allocation). The units are then added to the ticket's
//! groups (overall, district, street, community, category, each per day, per month and
//! overall; and each department summoned). [`tickets_behind`] walks the very same units,
//! so a drilled-down list always adds up to the figure it came from.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use whistle_events::ticket::SlaClock;
use whistle_events::{Category, TicketId};

use super::figures::ALL_KEY;
use super::{
    AlertedClock, Board, Dimension, Figures, Group, GroupFigures, Hop, HopTimes, Hops, Judge,
    Period, Rate, Ratio, Stage, Stages, StatsError, Totals, as_of,
};
use crate::calendar::Calendar;
use crate::clocks::{Clock, ClockStatus};
use crate::facts::TicketFacts;

/// The dashboard of `tickets` at `at`.
///
/// Only tickets received by `at` count, and every fact dated after `at` is taken as not
/// happened ([`super::as_of`]); each clock is judged with [`Clock::status_at`]`(at)`. The
/// `judge` decides which policy times each ticket; `calendar` gives the time zone of the
/// days and months. Merged duplicates are counted in the totals and stages only.
///
/// Fails only when the judge cannot time a ticket (no policy version in force at its
/// receipt, or a calendar without working days); the error names the ticket.
pub fn board(
    tickets: &[TicketFacts],
    judge: &dyn Judge,
    calendar: &Calendar,
    at: DateTime<Utc>,
) -> Result<Board, StatsError> {
    let context = Context::new(calendar);
    let mut scratch = Scratch::default();
    // Keyed by (dimension, period) first so that the per-ticket lookup by key can borrow
    // the key (`&str`) and only allocate when a group is new.
    let mut groups: HashMap<(Dimension, Period), HashMap<String, Accumulator>> = HashMap::new();
    let mut totals = Totals::default();
    let mut stages = Stages::default();
    let mut at_risk = Vec::new();
    let mut breached = Vec::new();
    for original in tickets {
        let Some(facts) = as_of(original, at) else {
            totals.received_later += 1;
            continue;
        };
        totals.tickets += 1;
        if facts.is_open() {
            totals.open += 1;
        }
        stages.add(stage(&facts));
        if facts.merged_at.is_some() {
            // A duplicate's incident counts once, in the ticket that carries on; its clocks
            // all stopped at the merge, so it has nothing at risk either.
            totals.merged += 1;
            continue;
        }
        let clocks = judge.clocks(&facts).map_err(|source| StatsError::Judge {
            ticket: facts.ticket,
            source,
        })?;
        alerts(&facts, &clocks, at, &mut at_risk, &mut breached);
        units(
            &facts,
            &clocks,
            at,
            &context,
            &mut scratch,
            &mut |dimension, key, period, units| {
                let bucket = groups.entry((dimension, period)).or_default();
                if let Some(accumulator) = bucket.get_mut(key) {
                    accumulator.add(units);
                } else {
                    let mut accumulator = Accumulator::default();
                    accumulator.add(units);
                    bucket.insert(key.to_owned(), accumulator);
                }
            },
        );
    }
    let mut groups: Vec<GroupFigures> = groups
        .into_iter()
        .flat_map(|((dimension, period), bucket)| {
            bucket
                .into_iter()
                .map(move |(key, accumulator)| GroupFigures {
                    dimension,
                    key,
                    period,
                    figures: accumulator.finish(),
                })
        })
        .collect();
    groups.sort_by(|a, b| (a.dimension, &a.key, a.period).cmp(&(b.dimension, &b.key, b.period)));
    at_risk.sort_by_key(|a: &AlertedClock| (a.due_at, a.ticket));
    breached.sort_by_key(|a: &AlertedClock| (a.due_at, a.ticket));
    let mut board = Board {
        at,
        time_zone: context.time_zone.name().to_owned(),
        judged_by: judge.describe(),
        totals,
        stages,
        at_risk,
        breached,
        acknowledge_compliance: Ratio::new(0, 0),
        groups,
    };
    if let Some(overall) = board.overall() {
        board.acknowledge_compliance = overall.acknowledge_on_time;
    }
    Ok(board)
}

/// What to list the tickets of, in a group's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum Drill {
    /// The tickets counted ([`Figures::tickets`]).
    Tickets,
    /// The tickets whose summonses are counted ([`Figures::summonses`]).
    Summonses,
    /// The tickets behind a rate's numerator.
    Numerator(Rate),
    /// The tickets behind a rate's denominator.
    Denominator(Rate),
    /// The tickets whose times make a hop's figures.
    Hop(Hop),
}

/// A ticket behind a figure, and how much of the figure it makes: 1 for a ticket-level
/// count; for a count of summonses (report-in, return, summons hops), the number of its
/// summonses counted. The counts of all tickets behind a figure add up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behind {
    /// The ticket.
    pub ticket: TicketId,
    /// How many it counts for.
    pub count: u64,
}

/// The tickets behind one figure of a board: the same `tickets`, `judge`, `calendar` and
/// `at` as the board, the group, and which figure. In the order given.
pub fn tickets_behind(
    tickets: &[TicketFacts],
    judge: &dyn Judge,
    calendar: &Calendar,
    at: DateTime<Utc>,
    group: &Group,
    drill: Drill,
) -> Result<Vec<Behind>, StatsError> {
    let context = Context::new(calendar);
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    for original in tickets {
        let Some(facts) = as_of(original, at) else {
            continue;
        };
        // Judging a ticket is the costly part: skip the ones that cannot be in the group.
        if facts.merged_at.is_some() || !may_belong(&facts, group, &context) {
            continue;
        }
        let clocks = judge.clocks(&facts).map_err(|source| StatsError::Judge {
            ticket: facts.ticket,
            source,
        })?;
        let mut count = 0;
        units(
            &facts,
            &clocks,
            at,
            &context,
            &mut scratch,
            &mut |dimension, key, period, units| {
                if dimension == group.dimension && period == group.period && key == group.key {
                    count += units.iter().map(|u| u.drilled(drill)).sum::<u64>();
                }
            },
        );
        if count > 0 {
            out.push(Behind {
                ticket: facts.ticket,
                count,
            });
        }
    }
    Ok(out)
}

/// A cheap test that rules out most tickets of other groups before they are judged.
fn may_belong(facts: &TicketFacts, group: &Group, context: &Context) -> bool {
    let key = group.key.as_str();
    let location = &facts.location;
    let local = context.date(facts.received_at);
    match group.dimension {
        Dimension::Department => facts.summonses.iter().any(|s| s.department.as_str() == key),
        Dimension::All => key == ALL_KEY && group.period.contains(local),
        Dimension::District => location.district.as_str() == key && group.period.contains(local),
        Dimension::Street => location.street.as_str() == key && group.period.contains(local),
        Dimension::Community => location.community.as_str() == key && group.period.contains(local),
        Dimension::Category => {
            context.category(facts.category) == key && group.period.contains(local)
        }
    }
}

/// What stays the same for every ticket of a board.
#[derive(Debug)]
struct Context {
    time_zone: Tz,
    /// Each category's snake_case name, the key of its group (its serde name, so that the
    /// key reads like the category in every JSON document).
    categories: Vec<(Category, String)>,
}

impl Context {
    fn new(calendar: &Calendar) -> Self {
        let categories = Category::ALL
            .iter()
            .map(|&c| {
                let name = match serde_json::to_value(c) {
                    Ok(serde_json::Value::String(name)) => name,
                    _ => format!("{c:?}"),
                };
                (c, name)
            })
            .collect();
        Self {
            time_zone: calendar.time_zone(),
            categories,
        }
    }

    fn category(&self, category: Category) -> &str {
        self.categories
            .iter()
            .find(|(c, _)| *c == category)
            .map_or("other", |(_, name)| name.as_str())
    }

    fn date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.time_zone).date_naive()
    }
}

/// The kinds of period every group is counted in.
#[derive(Debug, Clone, Copy)]
enum PeriodKind {
    All,
    Month,
    Day,
}

impl PeriodKind {
    const ALL: [Self; 3] = [Self::All, Self::Month, Self::Day];

    fn of(self, date: NaiveDate) -> Period {
        match self {
            Self::All => Period::All,
            Self::Month => Period::Month {
                year: date.year(),
                month: date.month(),
            },
            Self::Day => Period::Day { date },
        }
    }
}

/// What one ticket, or one summons, adds to a group.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    tickets: u32,
    summonses: u32,
    /// Per rate: [numerator, denominator].
    counts: [[u32; 2]; Rate::COUNT],
    /// Per hop: the unit's time, in seconds (a unit has at most one time per hop).
    hops: [Option<i64>; Hop::COUNT],
}

impl Tally {
    fn count(&mut self, rate: Rate, hit: bool) {
        let count = &mut self.counts[rate.index()];
        count[1] += 1;
        if hit {
            count[0] += 1;
        }
    }

    /// Counts a clock's verdict: met is a hit, missed and breached are misses, a clock
    /// still running in time or paused is not decided yet.
    fn verdict(&mut self, rates: &[Rate], status: ClockStatus) {
        let hit = match status {
            ClockStatus::Met => true,
            ClockStatus::Missed | ClockStatus::Breached => false,
            ClockStatus::Running | ClockStatus::Paused => return,
        };
        for &rate in rates {
            self.count(rate, hit);
        }
    }

    /// Records a hop's time; a hop whose end comes before its start (facts out of order)
    /// is not a time anyone waited and is left out.
    fn hop(&mut self, hop: Hop, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) {
        if let (Some(from), Some(to)) = (from, to)
            && to >= from
        {
            self.hops[hop.index()] = Some((to - from).num_seconds());
        }
    }

    fn drilled(&self, drill: Drill) -> u64 {
        u64::from(match drill {
            Drill::Tickets => self.tickets,
            Drill::Summonses => self.summonses,
            Drill::Numerator(rate) => self.counts[rate.index()][0],
            Drill::Denominator(rate) => self.counts[rate.index()][1],
            Drill::Hop(hop) => u32::from(self.hops[hop.index()].is_some()),
        })
    }
}

/// Buffers reused from ticket to ticket.
#[derive(Debug, Default)]
struct Scratch {
    /// The ticket's unit, then one unit per summons, in the order of the summonses.
    units: Vec<Tally>,
    /// The units of one department in one period.
    department: Vec<Tally>,
    /// The local date of each summons.
    dates: Vec<NaiveDate>,
    /// Which report-in clocks were matched to a summons already.
    matched: Vec<bool>,
}

/// Receives a group a ticket belongs to, and the units the ticket counts there.
type Visit<'a> = dyn FnMut(Dimension, &str, Period, &[Tally]) + 'a;

/// Computes the units of one ticket and hands each group it belongs to, with the units it
/// counts there, to `visit`.
fn units(
    facts: &TicketFacts,
    clocks: &[Clock],
    at: DateTime<Utc>,
    context: &Context,
    scratch: &mut Scratch,
    visit: &mut Visit<'_>,
) {
    scratch.units.clear();
    scratch.units.push(ticket_tally(facts, clocks, at));
    summons_tallies(facts, clocks, at, scratch);

    // The ticket's own groups count the ticket and all its summonses, in the period of its
    // receipt.
    let received = context.date(facts.received_at);
    let location = &facts.location;
    let keys = [
        (Dimension::All, ALL_KEY),
        (Dimension::District, location.district.as_str()),
        (Dimension::Street, location.street.as_str()),
        (Dimension::Community, location.community.as_str()),
        (Dimension::Category, context.category(facts.category)),
    ];
    for (dimension, key) in keys {
        for kind in PeriodKind::ALL {
            visit(dimension, key, kind.of(received), &scratch.units);
        }
    }

    // A department's groups count its summonses in the period of each summons, and the
    // ticket once in each period in which the department was summoned to it.
    scratch.dates.clear();
    scratch
        .dates
        .extend(facts.summonses.iter().map(|s| context.date(s.summoned_at)));
    let summonses = &facts.summonses;
    for (first, summons) in summonses.iter().enumerate() {
        let department = &summons.department;
        if summonses[..first]
            .iter()
            .any(|s| &s.department == department)
        {
            continue;
        }
        for kind in PeriodKind::ALL {
            for (i, s) in summonses.iter().enumerate().skip(first) {
                let period = kind.of(scratch.dates[i]);
                let seen = summonses[..i]
                    .iter()
                    .zip(&scratch.dates)
                    .any(|(o, &date)| &o.department == department && kind.of(date) == period);
                if &s.department != department || seen {
                    continue;
                }
                scratch.department.clear();
                scratch.department.push(scratch.units[0]);
                for (j, other) in summonses.iter().enumerate() {
                    if &other.department == department && kind.of(scratch.dates[j]) == period {
                        scratch.department.push(scratch.units[j + 1]);
                    }
                }
                visit(
                    Dimension::Department,
                    department.as_str(),
                    period,
                    &scratch.department,
                );
            }
        }
    }
}

/// The ticket's own unit: its acknowledge and completion clocks, rating, redo, whistle,
/// and the ticket-level hops.
fn ticket_tally(facts: &TicketFacts, clocks: &[Clock], at: DateTime<Utc>) -> Tally {
    let mut tally = Tally {
        tickets: 1,
        ..Tally::default()
    };
    if let Some(clock) = clocks.iter().find(|c| c.clock == SlaClock::Acknowledge) {
        tally.verdict(
            &[Rate::Response, Rate::AcknowledgeOnTime],
            clock.status_at(at),
        );
    }
    // The completion clock of the current round (a judge gives one; take the last).
    if let Some(clock) = clocks
        .iter()
        .rev()
        .find(|c| c.clock == SlaClock::Completion)
    {
        tally.verdict(&[Rate::CompletionOnTime], clock.status_at(at));
    }
    if let Some(rating) = facts.rating {
        tally.count(Rate::Resolution, rating.resolved);
        tally.count(Rate::Satisfaction, rating.satisfied);
    }
    if facts.first_resolved_at.is_some() {
        tally.count(Rate::Redo, facts.round > 1);
    }
    tally.count(Rate::Whistle, facts.whistled_at.is_some());
    tally.hop(
        Hop::Acknowledge,
        Some(facts.received_at),
        facts.acknowledged_at,
    );
    tally.hop(Hop::CallUpToWhistle, facts.called_up_at, facts.whistled_at);
    tally
}

/// One unit per summons, pushed after the ticket's: returns, the report-in clock, and the
/// summons hops.
fn summons_tallies(
    facts: &TicketFacts,
    clocks: &[Clock],
    at: DateTime<Utc>,
    scratch: &mut Scratch,
) {
    // A summons's report-in clock is the one of its department that started at its
    // whistle; matching on both (not on position) keeps any judge's clocks right.
    scratch.matched.clear();
    scratch.matched.resize(clocks.len(), false);
    for summons in &facts.summonses {
        let mut tally = Tally {
            summonses: 1,
            ..Tally::default()
        };
        tally.count(Rate::Return, summons.declined_at.is_some());
        let clock = clocks.iter().enumerate().find(|(i, c)| {
            !scratch.matched[*i]
                && c.clock == SlaClock::ReportIn
                && c.department.as_ref() == Some(&summons.department)
                && c.started_at == summons.summoned_at
        });
        if let Some((i, clock)) = clock {
            scratch.matched[i] = true;
            tally.verdict(&[Rate::ReportInOnTime], clock.status_at(at));
        }
        tally.hop(
            Hop::WhistleToReportIn,
            Some(summons.summoned_at),
            summons.reported_in_at,
        );
        tally.hop(
            Hop::ReportInToResult,
            summons.reported_in_at,
            summons.finished_at,
        );
        scratch.units.push(tally);
    }
}

/// The sums of one group.
#[derive(Debug, Default)]
struct Accumulator {
    tickets: u64,
    summonses: u64,
    counts: [[u64; 2]; Rate::COUNT],
    hops: [Vec<i64>; Hop::COUNT],
}

impl Accumulator {
    fn add(&mut self, units: &[Tally]) {
        for unit in units {
            self.tickets += u64::from(unit.tickets);
            self.summonses += u64::from(unit.summonses);
            for (sum, count) in self.counts.iter_mut().zip(&unit.counts) {
                sum[0] += u64::from(count[0]);
                sum[1] += u64::from(count[1]);
            }
            for (times, time) in self.hops.iter_mut().zip(&unit.hops) {
                times.extend(time);
            }
        }
    }

    fn finish(mut self) -> Figures {
        // One sort per hop and group: the percentiles are read off the sorted times.
        let mut hop = |hop: Hop| {
            let times = &mut self.hops[hop.index()];
            times.sort_unstable();
            HopTimes::of_sorted(times)
        };
        let hops = Hops {
            acknowledge: hop(Hop::Acknowledge),
            call_up_to_whistle: hop(Hop::CallUpToWhistle),
            whistle_to_report_in: hop(Hop::WhistleToReportIn),
            report_in_to_result: hop(Hop::ReportInToResult),
        };
        let ratio = |rate: Rate| {
            let [numerator, denominator] = self.counts[rate.index()];
            Ratio::new(numerator, denominator)
        };
        Figures {
            tickets: self.tickets,
            summonses: self.summonses,
            response: ratio(Rate::Response),
            resolution: ratio(Rate::Resolution),
            satisfaction: ratio(Rate::Satisfaction),
            acknowledge_on_time: ratio(Rate::AcknowledgeOnTime),
            report_in_on_time: ratio(Rate::ReportInOnTime),
            completion_on_time: ratio(Rate::CompletionOnTime),
            returned: ratio(Rate::Return),
            redo: ratio(Rate::Redo),
            whistle: ratio(Rate::Whistle),
            hops,
        }
    }
}

/// The furthest step of its life the ticket reached.
/// Where a ticket stands, by the furthest step of its life its facts record.
pub fn stage(facts: &TicketFacts) -> Stage {
    if facts.merged_at.is_some() {
        Stage::Merged
    } else if facts.closed_at.is_some() {
        Stage::Closed
    } else if facts.resolved_at.is_some() {
        Stage::Resolved
    } else if facts.round > 1 {
        Stage::Reopened
    } else if facts.whistled_at.is_some() {
        Stage::Whistled
    } else if facts.called_up_at.is_some() {
        Stage::CalledUp
    } else if facts.handled_locally_at.is_some() {
        Stage::HandledLocally
    } else if facts.acknowledged_at.is_some() {
        Stage::Acknowledged
    } else {
        Stage::Received
    }
}

/// Adds the ticket's breached clocks and running clocks at risk.
fn alerts(
    facts: &TicketFacts,
    clocks: &[Clock],
    at: DateTime<Utc>,
    at_risk: &mut Vec<AlertedClock>,
    breached: &mut Vec<AlertedClock>,
) {
    for clock in clocks {
        let Some(due_at) = clock.due_at else {
            continue;
        };
        let alert = |warned_percent| AlertedClock {
            ticket: facts.ticket,
            clock: clock.clock,
            department: clock.department.clone(),
            started_at: clock.started_at,
            due_at,
            warned_percent,
            district: facts.location.district.clone(),
            street: facts.location.street.clone(),
            community: facts.location.community.clone(),
            category: facts.category,
        };
        match clock.status_at(at) {
            ClockStatus::Breached => breached.push(alert(None)),
            ClockStatus::Running => {
                if let Some(percent) = risk(clock, at) {
                    at_risk.push(alert(Some(percent)));
                }
            }
            ClockStatus::Paused | ClockStatus::Met | ClockStatus::Missed => {}
        }
    }
}

/// The warning that puts a running clock at risk, if it has passed: the first at or above
/// 75% of the clock's time, or the last warning when none is that high. The warning
/// instants are computed in the clock's own time (service hours, pauses), which a share of
/// plain elapsed time would get wrong overnight.
fn risk(clock: &Clock, at: DateTime<Utc>) -> Option<u8> {
    const AT_RISK_PERCENT: u8 = 75;
    let high = clock
        .warn_at
        .iter()
        .filter(|(percent, _)| *percent >= AT_RISK_PERCENT)
        .min_by_key(|(percent, _)| *percent);
    let last = clock.warn_at.iter().max_by_key(|(percent, _)| *percent);
    let (percent, instant) = high.or(last)?;
    (*instant <= at).then_some(*percent)
}
