//! Monthly rankings of streets and departments, by a weighted score of their rates.
//!
//! The weights are versioned configuration (`deploy/config/ranking.toml`): Beijing has
//! changed how much each of the 三率 counts over time, and a month is ranked under the
//! version in force at its start, so a new version never re-ranks a past month.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use super::figures::Direction;
use super::{Board, Dimension, Period, Rate, Ratio};
use crate::versions::{self, Versioned};

/// The weights shipped with whistle.
const STANDARD: &str = include_str!("../../../../deploy/config/ranking.toml");

/// How far the weights of a version may add up away from 1 (rounding of decimal weights).
const SUM_TOLERANCE: f64 = 1e-9;

/// Scores closer than this are equal: the same counts reached in another order of
/// additions must not split a tie.
const TIE_TOLERANCE: f64 = 1e-9;

/// The weights of the rates in one score: each between 0 and 1, adding up to 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Weights(BTreeMap<Rate, f64>);

impl Weights {
    /// Checks and makes weights. Every problem is listed in the error.
    pub fn new(weights: impl IntoIterator<Item = (Rate, f64)>) -> Result<Self, RankingError> {
        let mut problems = Vec::new();
        let mut map = BTreeMap::new();
        for (rate, weight) in weights {
            if map.insert(rate, weight).is_some() {
                problems.push(format!("{rate} is weighted twice; weight each rate once"));
            }
        }
        check_weights("the weights", &map, &mut problems);
        if problems.is_empty() {
            Ok(Self(map))
        } else {
            Err(RankingError::Invalid(problems))
        }
    }

    /// The weight of a rate (0 when the rate is not weighted).
    pub fn get(&self, rate: Rate) -> f64 {
        self.0.get(&rate).copied().unwrap_or(0.0)
    }

    /// The rates weighted, with their weights, in the order of [`Rate`].
    pub fn iter(&self) -> impl Iterator<Item = (Rate, f64)> + '_ {
        self.0.iter().map(|(&rate, &weight)| (rate, weight))
    }
}

/// Adds to `problems` what is wrong with a set of weights named `what`.
fn check_weights(what: &str, weights: &BTreeMap<Rate, f64>, problems: &mut Vec<String>) {
    if weights.is_empty() {
        problems.push(format!(
            "{what} weigh no rate; give at least one rate a weight, the weights adding up to 1"
        ));
        return;
    }
    for (&rate, &weight) in weights {
        if !(0.0..=1.0).contains(&weight) {
            problems.push(format!(
                "{what}: the weight of {rate} is {weight}; a weight is a share between 0 and 1"
            ));
        }
        if rate.direction() == Direction::Neither {
            problems.push(format!(
                "{what}: {rate} cannot be weighted (neither a high nor a low {rate} rate is good); remove it"
            ));
        }
    }
    let sum: f64 = weights.values().sum();
    if (sum - 1.0).abs() > SUM_TOLERANCE {
        problems.push(format!(
            "{what}: the weights add up to {sum}, not 1; change them so that they add up to 1"
        ));
    }
}

/// One version of the ranking weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankingVersion {
    /// The version's name, recorded on every ranking made with it.
    pub version: String,
    /// Months starting from this instant on are ranked under this version (until a later
    /// one takes over).
    pub effective_from: DateTime<Utc>,
    /// The weights of the streets' score.
    pub streets: Weights,
    /// The weights of the departments' score.
    pub departments: Weights,
}

/// Every version of the ranking weights, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct RankingBook {
    versions: Vec<RankingVersion>,
}

/// Why ranking weights were refused.
#[derive(Debug, thiserror::Error)]
pub enum RankingError {
    /// The file could not be read.
    #[error(
        "cannot read the ranking weights {path}: {source}; check the path and that the file is readable"
    )]
    Read {
        /// The file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML of the expected shape (an unknown key or rate, a missing key, a
    /// value of the wrong type).
    #[error(
        "the ranking weights are not valid: fix the place shown (the comments in deploy/config/ranking.toml describe every key): {0}"
    )]
    Syntax(String),
    /// The shape is right but some content is wrong: every problem is listed.
    #[error("the ranking weights have {} problem{}; fix each and load them again:\n  - {}",
        .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.join("\n  - "))]
    Invalid(Vec<String>),
    /// No version is in force at an instant.
    #[error(
        "no ranking weights are in force at {0}: the earliest version takes effect later; add a version with an earlier effective_from"
    )]
    NoneInForce(DateTime<Utc>),
    /// A version was asked for by name and is not in the book.
    #[error("there are no ranking weights {0:?}; the versions are {1}")]
    UnknownVersion(String, String),
}

impl RankingError {
    /// The content problems found; empty for any other error.
    pub fn problems(&self) -> &[String] {
        match self {
            Self::Invalid(problems) => problems,
            _ => &[],
        }
    }
}

mod raw {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct File {
        #[serde(default)]
        pub(super) versions: Vec<Version>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Version {
        pub(super) version: String,
        pub(super) effective_from: DateTime<FixedOffset>,
        pub(super) streets: BTreeMap<Rate, f64>,
        pub(super) departments: BTreeMap<Rate, f64>,
    }
}

impl RankingBook {
    /// The weights shipped with whistle (`deploy/config/ranking.toml`).
    pub fn standard() -> Self {
        Self::from_toml(STANDARD).expect("the shipped ranking weights are valid (tested)")
    }

    /// Reads a weights file.
    pub fn load(path: &Path) -> Result<Self, RankingError> {
        let text = std::fs::read_to_string(path).map_err(|source| RankingError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses and checks weights (the format of `deploy/config/ranking.toml`).
    pub fn from_toml(text: &str) -> Result<Self, RankingError> {
        let file: raw::File =
            toml::from_str(text).map_err(|e| RankingError::Syntax(e.to_string()))?;
        let mut problems = Vec::new();
        if file.versions.is_empty() {
            problems.push("the file holds no [[versions]]; add at least one".to_owned());
        }
        let mut versions = Vec::new();
        for raw in file.versions {
            let name = raw.version.trim().to_owned();
            let before = problems.len();
            if name.is_empty() {
                problems.push("a version has an empty name; name every version".to_owned());
            }
            check_weights(
                &format!("version {name}, streets"),
                &raw.streets,
                &mut problems,
            );
            check_weights(
                &format!("version {name}, departments"),
                &raw.departments,
                &mut problems,
            );
            if problems.len() == before {
                versions.push(RankingVersion {
                    version: name,
                    effective_from: raw.effective_from.with_timezone(&Utc),
                    streets: Weights(raw.streets),
                    departments: Weights(raw.departments),
                });
            }
        }
        versions.sort_by_key(|v| v.effective_from);
        for pair in versions.windows(2) {
            if pair[0].effective_from == pair[1].effective_from {
                problems.push(format!(
                    "versions {} and {} take effect at the same instant; give the later one a later effective_from",
                    pair[0].version, pair[1].version
                ));
            }
        }
        for (i, version) in versions.iter().enumerate() {
            if versions[..i].iter().any(|v| v.version == version.version) {
                problems.push(format!(
                    "version {} appears twice; give each version its own name",
                    version.version
                ));
            }
        }
        if problems.is_empty() {
            Ok(Self { versions })
        } else {
            Err(RankingError::Invalid(problems))
        }
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> &[RankingVersion] {
        &self.versions
    }

    /// The version in force at `at` (rank a month under the version in force at its first
    /// instant).
    pub fn in_force(&self, at: DateTime<Utc>) -> Result<&RankingVersion, RankingError> {
        versions::in_force(&self.versions, at).ok_or(RankingError::NoneInForce(at))
    }

    /// The version named `version`.
    pub fn version(&self, version: &str) -> Result<&RankingVersion, RankingError> {
        versions::named(&self.versions, version)
            .map_err(|known| RankingError::UnknownVersion(version.to_owned(), known))
    }
}

impl Versioned for RankingVersion {
    fn name(&self) -> &str {
        &self.version
    }

    fn effective_from(&self) -> DateTime<Utc> {
        self.effective_from
    }
}

/// One rate's part in a score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RankPart {
    /// The rate.
    pub rate: Rate,
    /// Its weight.
    pub weight: f64,
    /// The rate, with its counts.
    pub ratio: Ratio,
    /// `weight × rate × 100` (`weight × (1 − rate) × 100` for a rate where less is better:
    /// returns, redos); `None` when the rate has nothing to count.
    pub points: Option<f64>,
}

/// One ranked group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankRow {
    /// The street or department id.
    pub key: String,
    /// 1 for the best; equal scores share a rank, and the next rank skips (1, 1, 3).
    /// `None` when the group is unranked.
    pub rank: Option<u32>,
    /// The sum of the parts' points, 0 to 100.
    pub score: Option<f64>,
    /// The tickets counted.
    pub tickets: u64,
    /// The summonses counted.
    pub summonses: u64,
    /// Each weighted rate.
    pub parts: Vec<RankPart>,
    /// Why the group is not ranked: a rate with a weight above zero has nothing to count.
    /// Its weight is not shared out among the other rates, because a score made of other
    /// rates would not compare with the others' scores; the group is listed, unranked,
    /// after the ranked ones.
    pub unranked: Option<String>,
}

/// The monthly ranking of streets and departments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// The year.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u32,
    /// The weights version used.
    pub version: String,
    /// Which policy timed the tickets (the board's `judged_by`).
    pub judged_by: String,
    /// Streets, best first, unranked last.
    pub streets: Vec<RankRow>,
    /// Departments, best first, unranked last.
    pub departments: Vec<RankRow>,
}

/// Ranks the streets and departments of `board` for one month under `weights` (normally
/// [`RankingBook::in_force`] at the month's first instant).
pub fn ranking(board: &Board, year: i32, month: u32, weights: &RankingVersion) -> Ranking {
    let period = Period::Month { year, month };
    Ranking {
        year,
        month,
        version: weights.version.clone(),
        judged_by: board.judged_by.clone(),
        streets: rank(board, Dimension::Street, period, &weights.streets),
        departments: rank(board, Dimension::Department, period, &weights.departments),
    }
}

/// Ranks the groups of one dimension in one period of `board` by their score under
/// `weights`: `Σ weight × rate × 100`, where a rate for which less is better counts as
/// `1 − rate`. Best first; unranked groups (see [`RankRow::unranked`]) last, by key.
pub fn rank(
    board: &Board,
    dimension: Dimension,
    period: Period,
    weights: &Weights,
) -> Vec<RankRow> {
    let mut rows: Vec<RankRow> = board
        .groups
        .iter()
        .filter(|g| g.dimension == dimension && g.period == period)
        .map(|g| {
            let parts: Vec<RankPart> = weights
                .iter()
                .map(|(rate, weight)| {
                    let ratio = *g.figures.rate(rate);
                    let points = ratio.rate.map(|value| {
                        let good = match rate.direction() {
                            Direction::LowerIsBetter => 1.0 - value,
                            Direction::HigherIsBetter | Direction::Neither => value,
                        };
                        weight * good * 100.0
                    });
                    RankPart {
                        rate,
                        weight,
                        ratio,
                        points,
                    }
                })
                .collect();
            let missing: Vec<String> = parts
                .iter()
                .filter(|p| p.weight > 0.0 && p.points.is_none())
                .map(|p| format!("{}: {}", p.rate, nothing_to_count(p.rate)))
                .collect();
            let (score, unranked) = if missing.is_empty() {
                (Some(parts.iter().filter_map(|p| p.points).sum()), None)
            } else {
                (
                    None,
                    Some(format!(
                        "nothing to count in {period}: {}",
                        missing.join("; ")
                    )),
                )
            };
            RankRow {
                key: g.key.clone(),
                rank: None,
                score,
                tickets: g.figures.tickets,
                summonses: g.figures.summonses,
                parts,
                unranked,
            }
        })
        .collect();
    rows.sort_by(|a, b| match (a.score, b.score) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.key.cmp(&b.key)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.key.cmp(&b.key),
    });
    let mut previous: Option<(f64, u32)> = None;
    for (position, row) in rows.iter_mut().enumerate() {
        let Some(score) = row.score else { break };
        let place = u32::try_from(position + 1).unwrap_or(u32::MAX);
        let rank = match previous {
            Some((last, shared)) if (last - score).abs() <= TIE_TOLERANCE => shared,
            _ => place,
        };
        row.rank = Some(rank);
        previous = Some((score, rank));
    }
    rows
}

/// Why a rate has no value, in words.
fn nothing_to_count(rate: Rate) -> &'static str {
    match rate {
        Rate::Response | Rate::AcknowledgeOnTime => "no acknowledge clock decided",
        Rate::Resolution | Rate::Satisfaction => "no rating",
        Rate::ReportInOnTime => "no report-in clock decided",
        Rate::CompletionOnTime => "no completion clock decided",
        Rate::Return => "no summons",
        Rate::Redo => "no ticket resolved",
        Rate::Whistle => "no ticket",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_weights_load() {
        let book = RankingBook::standard();
        let first = &book.versions()[0];
        assert_eq!(first.version, "2025.1");
        assert_eq!(first.streets.get(Rate::Response), 0.2);
        assert_eq!(first.streets.get(Rate::Resolution), 0.4);
        assert_eq!(first.departments.get(Rate::ReportInOnTime), 0.4);
    }
}
