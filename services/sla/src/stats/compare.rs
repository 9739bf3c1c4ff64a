//! What changes between two boards (or rankings): the official one and one judged another
//! way, typically under another policy version (what-if), or the same tickets at two
//! instants. Every difference is `other − official`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Board, Dimension, Figures, GroupFigures, Hop, HopTimes, Period, RankRow, Ranking, Rate, Ratio,
};

/// A count on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountDelta {
    /// On the official side.
    pub official: u64,
    /// On the other side.
    pub other: u64,
    /// `other − official`.
    pub difference: i64,
}

impl CountDelta {
    fn new(official: u64, other: u64) -> Self {
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Self {
            official,
            other,
            difference: signed(other).saturating_sub(signed(official)),
        }
    }
}

/// A rate on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateDelta {
    /// Which rate.
    pub rate: Rate,
    /// On the official side (`None`: the group is not on that board).
    pub official: Option<Ratio>,
    /// On the other side.
    pub other: Option<Ratio>,
    /// `other − official`, as a share (0.25 is 25 percentage points); `None` unless both
    /// rates have a value.
    pub difference: Option<f64>,
}

impl RateDelta {
    fn new(rate: Rate, official: Option<Ratio>, other: Option<Ratio>) -> Self {
        let difference = match (official.and_then(|r| r.rate), other.and_then(|r| r.rate)) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        Self {
            rate,
            official,
            other,
            difference,
        }
    }
}

/// A hop's times on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopDelta {
    /// Which hop.
    pub hop: Hop,
    /// On the official side.
    pub official: Option<HopTimes>,
    /// On the other side.
    pub other: Option<HopTimes>,
    /// `other − official` of the medians, in seconds.
    pub p50_difference_seconds: Option<i64>,
    /// `other − official` of the 90th percentiles, in seconds.
    pub p90_difference_seconds: Option<i64>,
}

/// One group in one period on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDelta {
    /// What is grouped by.
    pub dimension: Dimension,
    /// The group's id.
    pub key: String,
    /// Which period.
    pub period: Period,
    /// Whether anything differs (a dashboard can show only these).
    pub changed: bool,
    /// Tickets counted.
    pub tickets: CountDelta,
    /// Summonses counted.
    pub summonses: CountDelta,
    /// Every rate, in the order of [`Rate::ALL`].
    pub rates: Vec<RateDelta>,
    /// Every hop, in the order of [`Hop::ALL`].
    pub hops: Vec<HopDelta>,
}

impl GroupDelta {
    /// One rate.
    pub fn rate(&self, rate: Rate) -> Option<&RateDelta> {
        self.rates.iter().find(|r| r.rate == rate)
    }
}

/// Two boards side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The official board's instant.
    pub official_at: DateTime<Utc>,
    /// The other board's instant.
    pub other_at: DateTime<Utc>,
    /// Which policy timed the official board.
    pub official_judged_by: String,
    /// Which policy timed the other board.
    pub other_judged_by: String,
    /// Acknowledge compliance.
    pub acknowledge_compliance: RateDelta,
    /// Clocks at risk.
    pub at_risk: CountDelta,
    /// Clocks breached.
    pub breached: CountDelta,
    /// Every group and period on either board, ordered by dimension, key and period.
    pub groups: Vec<GroupDelta>,
}

impl Comparison {
    /// One group in one period.
    pub fn group(&self, dimension: Dimension, key: &str, period: Period) -> Option<&GroupDelta> {
        self.groups
            .iter()
            .find(|g| g.dimension == dimension && g.key == key && g.period == period)
    }

    /// The groups where something differs.
    pub fn changed(&self) -> impl Iterator<Item = &GroupDelta> {
        self.groups.iter().filter(|g| g.changed)
    }
}

/// Compares two boards, figure by figure, for every group and period present on either.
pub fn compare(official: &Board, other: &Board) -> Comparison {
    let mut groups = Vec::with_capacity(official.groups.len().max(other.groups.len()));
    let (mut a, mut b) = (
        official.groups.iter().peekable(),
        other.groups.iter().peekable(),
    );
    // Both boards list their groups sorted the same way: one merge walk pairs them.
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => sort_key(x).cmp(&sort_key(y)),
        };
        let (left, right) = match order {
            std::cmp::Ordering::Less => (a.next(), None),
            std::cmp::Ordering::Greater => (None, b.next()),
            std::cmp::Ordering::Equal => (a.next(), b.next()),
        };
        if let Some(delta) = group_delta(left, right) {
            groups.push(delta);
        }
    }
    Comparison {
        official_at: official.at,
        other_at: other.at,
        official_judged_by: official.judged_by.clone(),
        other_judged_by: other.judged_by.clone(),
        acknowledge_compliance: RateDelta::new(
            Rate::AcknowledgeOnTime,
            Some(official.acknowledge_compliance),
            Some(other.acknowledge_compliance),
        ),
        at_risk: CountDelta::new(official.at_risk.len() as u64, other.at_risk.len() as u64),
        breached: CountDelta::new(official.breached.len() as u64, other.breached.len() as u64),
        groups,
    }
}

fn sort_key(group: &GroupFigures) -> (Dimension, &str, Period) {
    (group.dimension, group.key.as_str(), group.period)
}

fn group_delta(
    official: Option<&GroupFigures>,
    other: Option<&GroupFigures>,
) -> Option<GroupDelta> {
    let named = official.or(other)?;
    let a: Option<&Figures> = official.map(|g| &g.figures);
    let b: Option<&Figures> = other.map(|g| &g.figures);
    let rates = Rate::ALL
        .iter()
        .map(|&rate| RateDelta::new(rate, a.map(|f| *f.rate(rate)), b.map(|f| *f.rate(rate))))
        .collect();
    let hops = Hop::ALL
        .iter()
        .map(|&hop| {
            let x = a.map(|f| *f.hops.get(hop));
            let y = b.map(|f| *f.hops.get(hop));
            let difference =
                |pick: fn(&HopTimes) -> Option<i64>| Some(pick(y.as_ref()?)? - pick(x.as_ref()?)?);
            HopDelta {
                hop,
                official: x,
                other: y,
                p50_difference_seconds: difference(|t| t.p50_seconds),
                p90_difference_seconds: difference(|t| t.p90_seconds),
            }
        })
        .collect();
    Some(GroupDelta {
        dimension: named.dimension,
        key: named.key.clone(),
        period: named.period,
        changed: a != b,
        tickets: CountDelta::new(a.map_or(0, |f| f.tickets), b.map_or(0, |f| f.tickets)),
        summonses: CountDelta::new(a.map_or(0, |f| f.summonses), b.map_or(0, |f| f.summonses)),
        rates,
        hops,
    })
}

/// One street or department in two rankings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankDelta {
    /// The street or department id.
    pub key: String,
    /// Its rank in the official ranking (`None`: unranked or absent).
    pub official_rank: Option<u32>,
    /// Its rank in the other ranking.
    pub other_rank: Option<u32>,
    /// `other − official` of the ranks: negative means a better place in the other ranking.
    pub rank_difference: Option<i64>,
    /// Its official score.
    pub official_score: Option<f64>,
    /// Its other score.
    pub other_score: Option<f64>,
    /// `other − official` of the scores.
    pub score_difference: Option<f64>,
}

/// Two rankings side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingComparison {
    /// The official ranking's weights version.
    pub official_version: String,
    /// The other ranking's weights version.
    pub other_version: String,
    /// Streets, in the official order, then those only in the other ranking.
    pub streets: Vec<RankDelta>,
    /// Departments, likewise.
    pub departments: Vec<RankDelta>,
}

/// Compares two rankings (e.g. the same month under the official policy and a what-if
/// one, or under two weights versions).
pub fn compare_rankings(official: &Ranking, other: &Ranking) -> RankingComparison {
    RankingComparison {
        official_version: official.version.clone(),
        other_version: other.version.clone(),
        streets: rank_deltas(&official.streets, &other.streets),
        departments: rank_deltas(&official.departments, &other.departments),
    }
}

fn rank_deltas(official: &[RankRow], other: &[RankRow]) -> Vec<RankDelta> {
    let delta = |key: &str, a: Option<&RankRow>, b: Option<&RankRow>| {
        let (official_rank, other_rank) = (a.and_then(|r| r.rank), b.and_then(|r| r.rank));
        let (official_score, other_score) = (a.and_then(|r| r.score), b.and_then(|r| r.score));
        RankDelta {
            key: key.to_owned(),
            official_rank,
            other_rank,
            rank_difference: official_rank
                .zip(other_rank)
                .map(|(x, y)| i64::from(y) - i64::from(x)),
            official_score,
            other_score,
            score_difference: official_score.zip(other_score).map(|(x, y)| y - x),
        }
    };
    let mut out: Vec<RankDelta> = official
        .iter()
        .map(|row| delta(&row.key, Some(row), other.iter().find(|r| r.key == row.key)))
        .collect();
    out.extend(
        other
            .iter()
            .filter(|row| official.iter().all(|r| r.key != row.key))
            .map(|row| delta(&row.key, None, Some(row))),
    );
    out
}
