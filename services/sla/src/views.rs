//! Boards from the stores: live (the projection's facts, judged now), as of a past instant
//! (rebuilt from the log), and what-if (the same facts judged under another policy or
//! ranked with other weights, beside the official figures). The CLI and HTTP use these.

use chrono::{DateTime, Utc};
use serde::Serialize;
use whistle_store::{EventStore, StoreError};

use crate::calendar::Calendar;
use crate::facts::TicketFacts;
use crate::policy::{PolicyBook, PolicyError};
use crate::projection::ticket_records;
use crate::rebuild::fold_log;
use crate::stats::{
    Behind, Board, Comparison, Drill, Group, PolicyJudge, Ranking, RankingBook, RankingComparison,
    RankingError, StatsError, board, compare, compare_rankings, ranking, tickets_behind,
};

/// Why a board could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A ticket could not be timed.
    #[error(transparent)]
    Stats(#[from] StatsError),
    /// A policy version was asked for that does not exist.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A weights version was asked for that does not exist.
    #[error(transparent)]
    Ranking(#[from] RankingError),
}

/// How far a rebuild from the log has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Events read so far.
    pub events: u64,
    /// The position reached.
    pub position: u64,
    /// The head of the log when the rebuild started.
    pub head: u64,
}

/// What a board is computed from: the policies, the calendar and the ranking weights.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Every SLA policy version.
    pub policies: &'a PolicyBook,
    /// The business calendar.
    pub calendar: &'a Calendar,
    /// Every ranking weights version.
    pub weights: &'a RankingBook,
}

/// Every ticket's facts as the projection holds them now.
pub async fn current_facts(store: &EventStore) -> Result<Vec<TicketFacts>, StoreError> {
    Ok(ticket_records(store)
        .await?
        .into_iter()
        .map(|record| record.facts)
        .collect())
}

/// Every ticket's facts as they stood at `at`: the log's events recorded at or before
/// `at`, folded. `progress` is told after every page of the log.
pub async fn facts_as_of(
    store: &EventStore,
    at: DateTime<Utc>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<TicketFacts>, StoreError> {
    Ok(fold_log(store, Some(at), progress).await?.into_facts())
}

/// The official board of `facts` at `at`.
pub fn official_board(
    facts: &[TicketFacts],
    rules: Rules<'_>,
    at: DateTime<Utc>,
) -> Result<Board, ViewError> {
    let judge = PolicyJudge::in_force(rules.policies, rules.calendar);
    Ok(board(facts, &judge, rules.calendar, at)?)
}

/// The tickets behind one figure of the official board of `facts` at `at`: the drill-down
/// of a dashboard figure.
pub fn official_drill(
    facts: &[TicketFacts],
    rules: Rules<'_>,
    at: DateTime<Utc>,
    group: &Group,
    drill: Drill,
) -> Result<Vec<Behind>, ViewError> {
    let judge = PolicyJudge::in_force(rules.policies, rules.calendar);
    Ok(tickets_behind(
        facts,
        &judge,
        rules.calendar,
        at,
        group,
        drill,
    )?)
}

/// A recomputation beside the official figures.
#[derive(Debug, Clone, Serialize)]
pub struct WhatIf {
    /// The official board.
    pub official: Board,
    /// The same tickets under the other policy version.
    pub other: Board,
    /// What differs.
    pub difference: Comparison,
    /// The month's ranking, officially and under the other policy and weights.
    pub ranking: Option<RankingWhatIf>,
}

/// A ranking recomputed beside the official one.
#[derive(Debug, Clone, Serialize)]
pub struct RankingWhatIf {
    /// The official ranking.
    pub official: Ranking,
    /// Under the other policy and weights.
    pub other: Ranking,
    /// What differs.
    pub difference: RankingComparison,
}

/// Recomputes `facts` at `at` with every ticket timed under `policy` (default: each
/// under its own version) and, for `month`, ranked with `weights` (default: the version
/// in force), beside the official figures.
pub fn what_if(
    facts: &[TicketFacts],
    rules: Rules<'_>,
    at: DateTime<Utc>,
    policy: Option<&str>,
    month: Option<(i32, u32)>,
    weights: Option<&str>,
) -> Result<WhatIf, ViewError> {
    let official = official_board(facts, rules, at)?;
    let other = match policy {
        Some(version) => {
            let judge = PolicyJudge::what_if(rules.policies, rules.calendar, version)?;
            board(facts, &judge, rules.calendar, at)?
        }
        None => official.clone(),
    };
    let difference = compare(&official, &other);
    let ranking = match month {
        Some((year, month)) => {
            let in_force = rules.weights.in_force(at)?;
            let chosen = match weights {
                Some(version) => rules.weights.version(version)?,
                None => in_force,
            };
            let official_ranking = ranking(&official, year, month, in_force);
            let other_ranking = ranking(&other, year, month, chosen);
            let difference = compare_rankings(&official_ranking, &other_ranking);
            Some(RankingWhatIf {
                official: official_ranking,
                other: other_ranking,
                difference,
            })
        }
        None => None,
    };
    Ok(WhatIf {
        official,
        other,
        difference,
        ranking,
    })
}
