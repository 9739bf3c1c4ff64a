//! A ticket's clocks, computed from its facts under a policy and a calendar.
//!
//! - **acknowledge**: from receipt until the community answers (or the ticket leaves the
//!   community some other way);
//! - **report-in**, one per summons: from the whistle until the department reports in or
//!   declines;
//! - **completion**: from receipt (or reopening) until resolved, by tier; pauses stop it,
//!   and an approved extension moves its due time later.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use whistle_events::DepartmentId;
use whistle_events::ticket::SlaClock;

use crate::calendar::{Calendar, CalendarError};
use crate::facts::{Pause, TicketFacts};
use crate::policy::{Limit, Policy};

/// Where a clock is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStatus {
    /// Running, not yet due.
    Running,
    /// Paused (waiting on someone outside).
    Paused,
    /// Running past its due time.
    Breached,
    /// Stopped in time.
    Met,
    /// Stopped after its due time.
    Missed,
}

impl ClockStatus {
    /// Whether the clock stopped.
    pub fn is_stopped(self) -> bool {
        matches!(self, Self::Met | Self::Missed)
    }
}

/// One clock of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Which clock.
    pub clock: SlaClock,
    /// The department, for a report-in clock.
    pub department: Option<DepartmentId>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it is (or was) due; `None` while paused with time left.
    pub due_at: Option<DateTime<Utc>>,
    /// When it stopped.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Whether it is paused now (as of the facts).
    pub paused: bool,
    /// When each warning share of its time is reached (percent, instant).
    pub warn_at: Vec<(u8, DateTime<Utc>)>,
}

impl Clock {
    /// The clock's status at `at`. A clock is judged by the facts known at `at`: a stop
    /// after `at` has not happened yet.
    pub fn status_at(&self, at: DateTime<Utc>) -> ClockStatus {
        match (self.stopped_at.filter(|s| *s <= at), self.due_at) {
            (Some(stopped), Some(due)) if stopped > due => ClockStatus::Missed,
            (Some(_), _) => ClockStatus::Met,
            (None, Some(due)) if at > due => ClockStatus::Breached,
            (None, _) if self.paused => ClockStatus::Paused,
            (None, _) => ClockStatus::Running,
        }
    }

    /// How long the clock ran (to its stop, or to `at`), in plain elapsed time.
    pub fn elapsed_at(&self, at: DateTime<Utc>) -> Duration {
        self.stopped_at.unwrap_or(at).min(at) - self.started_at
    }
}

/// The clocks of a ticket under `policy`.
pub fn clocks(
    facts: &TicketFacts,
    policy: &Policy,
    calendar: &Calendar,
) -> Result<Vec<Clock>, CalendarError> {
    let mut out = Vec::with_capacity(2 + facts.summonses.len());
    // The community's answer: acknowledged, or the ticket left the community some other
    // way (called up, whistled at once, resolved, closed, merged).
    let answered = [
        facts.acknowledged_at,
        facts.called_up_at,
        facts.whistled_at,
        facts.ended_at(),
    ]
    .into_iter()
    .flatten()
    .min();
    out.push(timed(
        SlaClock::Acknowledge,
        None,
        facts.received_at,
        answered,
        &[],
        policy.acknowledge,
        None,
        policy,
        calendar,
    )?);
    for summons in &facts.summonses {
        let stopped = [
            summons.reported_in_at,
            summons.declined_at,
            summons.finished_at,
            summons.withdrawn_at,
        ]
        .into_iter()
        .flatten()
        .min();
        out.push(timed(
            SlaClock::ReportIn,
            Some(summons.department.clone()),
            summons.summoned_at,
            stopped,
            &[],
            policy.report_in,
            None,
            policy,
            calendar,
        )?);
    }
    let extended = facts
        .summonses
        .iter()
        .filter(|s| s.round == facts.round)
        .filter_map(|s| s.extended_until)
        .max();
    let limit = policy.completion(policy.tier(facts.category, facts.urgency));
    out.push(timed(
        SlaClock::Completion,
        None,
        facts.round_started_at,
        facts.ended_at(),
        &facts.pauses,
        limit,
        extended,
        policy,
        calendar,
    )?);
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn timed(
    clock: SlaClock,
    department: Option<DepartmentId>,
    started_at: DateTime<Utc>,
    stopped_at: Option<DateTime<Utc>>,
    pauses: &[Pause],
    limit: Limit,
    extended_until: Option<DateTime<Utc>>,
    policy: &Policy,
    calendar: &Calendar,
) -> Result<Clock, CalendarError> {
    let reach = |share: Duration| reach(calendar, limit, started_at, stopped_at, pauses, share);
    let mut due = reach(limit.within)?;
    let mut warn_at = Vec::new();
    for &percent in &policy.warnings {
        if let Some(at) = reach(limit.within * i32::from(percent) / 100)? {
            warn_at.push((percent, at));
        }
    }
    // An approved extension moves the due time later (never earlier), and the warnings
    // with it, as shares of the extended time.
    if let Some(until) = extended_until
        && due.is_none_or(|d| until > d)
    {
        due = Some(until);
        warn_at = policy
            .warnings
            .iter()
            .map(|&p| (p, started_at + (until - started_at) * i32::from(p) / 100))
            .collect();
    }
    let paused = pauses
        .last()
        .is_some_and(|p| p.until.is_none() && stopped_at.is_none_or(|s| s > p.from));
    Ok(Clock {
        clock,
        department,
        started_at,
        due_at: due,
        stopped_at,
        paused,
        warn_at,
    })
}

/// The instant at which `share` of the clock's time has been used, counting only time in
/// the limit's measure and outside pauses; `None` while paused before reaching it.
fn reach(
    calendar: &Calendar,
    limit: Limit,
    started_at: DateTime<Utc>,
    stopped_at: Option<DateTime<Utc>>,
    pauses: &[Pause],
    share: Duration,
) -> Result<Option<DateTime<Utc>>, CalendarError> {
    let mut used = Duration::zero();
    let mut segment = started_at;
    for pause in pauses {
        if pause.from < segment || stopped_at.is_some_and(|s| pause.from >= s) {
            continue;
        }
        let here = limit.measure.add(calendar, segment, share - used)?;
        if here <= pause.from {
            return Ok(Some(here));
        }
        used += limit.measure.between(calendar, segment, pause.from);
        match pause.until {
            Some(until) => segment = until,
            None => return Ok(None),
        }
    }
    limit.measure.add(calendar, segment, share - used).map(Some)
}

/// What the timer must do for a ticket, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// When to act.
    pub at: DateTime<Utc>,
    /// The clock.
    pub clock: SlaClock,
    /// The department, for a report-in clock.
    pub department: Option<DepartmentId>,
    /// A warning at this share, or `None` for the breach itself.
    pub warning: Option<u8>,
    /// When the clock is due.
    pub due_at: DateTime<Utc>,
}

/// The deadlines still to act on: the breach of every running clock, and its warnings
/// not yet recorded on the ticket. A warning whose clock is already past due is skipped: the
/// breach says more.
pub fn pending(facts: &TicketFacts, clocks: &[Clock]) -> Vec<Deadline> {
    let mut out = Vec::new();
    if facts.is_final() {
        return out;
    }
    for clock in clocks.iter().filter(|c| c.stopped_at.is_none()) {
        let Some(due) = clock.due_at else { continue };
        // The breach stays pending while its clock runs, even once recorded: the timer
        // records the breach and then escalates in two commands, and a timer that dies
        // between them must find the row again to finish (recording twice is harmless).
        // The timer deletes the row when done; the projection does not write it again.
        out.push(Deadline {
            at: due,
            clock: clock.clock,
            department: clock.department.clone(),
            warning: None,
            due_at: due,
        });
        if facts
            .breaches
            .contains(&(clock.clock, clock.department.clone(), due))
        {
            continue;
        }
        for &(percent, at) in &clock.warn_at {
            if at < due
                && !facts
                    .warnings
                    .contains(&(clock.clock, clock.department.clone(), percent, due))
            {
                out.push(Deadline {
                    at,
                    clock: clock.clock,
                    department: clock.department.clone(),
                    warning: Some(percent),
                    due_at: due,
                });
            }
        }
    }
    out.sort_by_key(|d| d.at);
    out
}
