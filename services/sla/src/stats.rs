//! The supervisors' statistics (三率, on-time rates, hop-by-hop times) and rankings.
//!
//! Everything here is a pure function of ticket facts, a [`Judge`] that times them, a
//! calendar (for the local day and month a ticket belongs to) and an instant `at`: no I/O,
//! no clock of its own. The same facts judged by another policy version give the what-if
//! board, and the same facts judged at an earlier instant give the board as it stood then.
//!
//! - [`board`]: the dashboard of a set of tickets at an instant: stages, clocks at risk and
//!   breached, and [`Figures`] per group (community, street, district, department,
//!   category and overall), per day, per month and overall. [`tickets_behind`] drills a
//!   figure down to its tickets.
//! - [`ranking`]: the monthly ranking of streets and departments under versioned weights
//!   ([`RankingBook`], `deploy/config/ranking.toml`).
//! - [`compare`] and [`compare_rankings`]: what changes between two boards or rankings, e.g.
//!   the official one and one judged under another policy version.
//!
//! The definitions of every rate and time are on [`Rate`], [`Hop`] and [`HopTimes`].

mod board;
mod compare;
mod figures;
mod ranking;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use whistle_events::TicketId;

use crate::calendar::{Calendar, CalendarError};
use crate::clocks::{Clock, clocks};
use crate::facts::TicketFacts;
use crate::policy::{Policy, PolicyBook, PolicyError};

pub use board::{Behind, Drill, board, stage, tickets_behind};
pub use compare::{
    Comparison, CountDelta, GroupDelta, HopDelta, RankDelta, RankingComparison, RateDelta, compare,
    compare_rankings,
};
pub use figures::{
    ALL_KEY, AlertedClock, Board, Dimension, Direction, Figures, Group, GroupFigures, Hop,
    HopTimes, Hops, Period, Rate, Ratio, Stage, Stages, Totals,
};
pub use ranking::{
    RankPart, RankRow, Ranking, RankingBook, RankingError, RankingVersion, Weights, rank, ranking,
};

/// Decides the clocks of a ticket: which policy times it, under which calendar.
///
/// [`PolicyJudge`] is the usual one; any
/// `Fn(&TicketFacts) -> Result<Vec<Clock>, JudgeError>` is one too (for tests and special
/// boards).
pub trait Judge {
    /// The clocks of the ticket whose facts are given (facts already cut at the board's
    /// instant).
    fn clocks(&self, facts: &TicketFacts) -> Result<Vec<Clock>, JudgeError>;

    /// Says which policy judged, for the board's `judged_by` (so that a what-if board is
    /// never mistaken for the official one).
    fn describe(&self) -> String {
        "a custom judge".to_owned()
    }
}

impl<F> Judge for F
where
    F: Fn(&TicketFacts) -> Result<Vec<Clock>, JudgeError>,
{
    fn clocks(&self, facts: &TicketFacts) -> Result<Vec<Clock>, JudgeError> {
        self(facts)
    }
}

/// Times tickets under a [`PolicyBook`]: each under the version in force when it was
/// received (the official board), or every ticket under one named version (what-if).
#[derive(Debug, Clone, Copy)]
pub struct PolicyJudge<'a> {
    book: &'a PolicyBook,
    calendar: &'a Calendar,
    forced: Option<&'a Policy>,
}

impl<'a> PolicyJudge<'a> {
    /// The official judge: each ticket under the version in force at its `received_at`,
    /// as the SLA engine itself times it.
    pub fn in_force(book: &'a PolicyBook, calendar: &'a Calendar) -> Self {
        Self {
            book,
            calendar,
            forced: None,
        }
    }

    /// The what-if judge: every ticket under the version named `version`, whenever it was
    /// received.
    pub fn what_if(
        book: &'a PolicyBook,
        calendar: &'a Calendar,
        version: &str,
    ) -> Result<Self, PolicyError> {
        Ok(Self {
            book,
            calendar,
            forced: Some(book.version(version)?),
        })
    }
}

impl Judge for PolicyJudge<'_> {
    fn clocks(&self, facts: &TicketFacts) -> Result<Vec<Clock>, JudgeError> {
        let policy = match self.forced {
            Some(policy) => policy,
            None => self.book.in_force(facts.received_at)?,
        };
        Ok(clocks(facts, policy, self.calendar)?)
    }

    fn describe(&self) -> String {
        match self.forced {
            Some(policy) => format!("SLA policy {} for every ticket (what-if)", policy.version),
            None => "the SLA policy version in force when each ticket was received".to_owned(),
        }
    }
}

/// Why a judge could not time a ticket.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    /// The calendar could not do the time arithmetic.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// No policy version applies.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// Why statistics could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// One ticket could not be timed; the board is refused rather than silently leaving the
    /// ticket out (a figure without it would look right and be wrong).
    #[error("cannot time ticket {ticket} for the statistics: {source}")]
    Judge {
        /// The ticket.
        ticket: TicketId,
        /// Why.
        #[source]
        source: JudgeError,
    },
}

/// The facts of a ticket as they stood at `at`: every instant after `at` is taken as not
/// happened yet. `None` when the ticket was received after `at`.
///
/// Callers normally cut the event log at `at` before folding facts, which is exact; this
/// cut makes a board robust to facts folded further. It is exact for everything the facts
/// date, with these limits, all because the facts keep no date for them:
/// - an approved extension (`extended_until`), recorded warnings and breaches, and the
///   number of supervisions are kept as they are;
/// - the rating is the latest one: if it was given after `at`, the ticket counts as not
///   rated, even if an earlier rating existed;
/// - when the ticket was reopened after `at`, it is put back in the previous round (round
///   1 if it had not been resolved by `at`). Round 1 is exact: it started at receipt and
///   was resolved at `first_resolved_at`. For a later round (a ticket reopened more than
///   once), its start is taken as its first summons (or the receipt) and its resolution as
///   the last result its departments reported by `at`.
pub fn as_of(facts: &TicketFacts, at: DateTime<Utc>) -> Option<Cow<'_, TicketFacts>> {
    if facts.received_at > at {
        return None;
    }
    if latest_instant(facts) <= at {
        return Some(Cow::Borrowed(facts));
    }
    let mut cut = facts.clone();
    let keep = |instant: Option<DateTime<Utc>>| instant.filter(|t| *t <= at);
    cut.acknowledged_at = keep(cut.acknowledged_at);
    cut.handled_locally_at = keep(cut.handled_locally_at);
    cut.called_up_at = keep(cut.called_up_at);
    cut.whistled_at = keep(cut.whistled_at);
    cut.summonses.retain(|s| s.summoned_at <= at);
    for summons in &mut cut.summonses {
        summons.reported_in_at = keep(summons.reported_in_at);
        summons.declined_at = keep(summons.declined_at);
        if summons.finished_at.is_some_and(|t| t > at) {
            summons.finished_at = None;
            summons.fixed = None;
        }
        summons.withdrawn_at = keep(summons.withdrawn_at);
    }
    if cut.round_started_at > at && cut.round > 1 {
        // The reopening is still to come: the ticket is in an earlier round, which had
        // been resolved (a reopening always follows a resolution), and the pauses kept
        // belong to the later round. Not resolved even once by `at`: it was in round 1.
        let resolved_once = cut.first_resolved_at.is_some_and(|t| t <= at);
        cut.round = if resolved_once { cut.round - 1 } else { 1 };
        cut.pauses.clear();
        let round = cut.round;
        if round == 1 {
            cut.round_started_at = cut.received_at;
            cut.resolved_at = cut.first_resolved_at;
        } else {
            let this_round = cut.summonses.iter().filter(|s| s.round == round);
            cut.round_started_at = this_round
                .clone()
                .map(|s| s.summoned_at)
                .min()
                .unwrap_or(cut.received_at);
            cut.resolved_at = this_round.filter_map(|s| s.finished_at).max();
        }
    }
    cut.resolved_at = keep(cut.resolved_at);
    cut.first_resolved_at = keep(cut.first_resolved_at);
    cut.closed_at = keep(cut.closed_at);
    cut.merged_at = keep(cut.merged_at);
    cut.rating = cut.rating.filter(|r| r.at <= at);
    cut.pauses.retain(|p| p.from <= at);
    for pause in &mut cut.pauses {
        pause.until = keep(pause.until);
    }
    Some(Cow::Owned(cut))
}

/// The latest instant the facts record (to skip the copy when nothing is after `at`).
fn latest_instant(facts: &TicketFacts) -> DateTime<Utc> {
    let ticket = [
        Some(facts.received_at),
        Some(facts.round_started_at),
        facts.acknowledged_at,
        facts.handled_locally_at,
        facts.called_up_at,
        facts.whistled_at,
        facts.resolved_at,
        facts.first_resolved_at,
        facts.closed_at,
        facts.merged_at,
        facts.rating.map(|r| r.at),
    ];
    let summonses = facts.summonses.iter().flat_map(|s| {
        [
            Some(s.summoned_at),
            s.reported_in_at,
            s.declined_at,
            s.finished_at,
            s.withdrawn_at,
        ]
    });
    let pauses = facts.pauses.iter().flat_map(|p| [Some(p.from), p.until]);
    ticket
        .into_iter()
        .chain(summonses)
        .chain(pauses)
        .flatten()
        .max()
        .unwrap_or(facts.received_at)
}
