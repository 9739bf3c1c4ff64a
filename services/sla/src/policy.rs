//! The SLA policy: how long each clock allows, in which time, and what a miss sets off.
//!
//! Versioned configuration (`deploy/config/sla-policy.toml`). A ticket is timed under the
//! version in force when it was received, for its whole life, so a new version never
//! changes an old ticket's verdict.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use whistle_events::ticket::SupervisionLevel;
use whistle_events::{Category, Urgency};

use crate::calendar::{Calendar, CalendarError, Hours};
use crate::versions::{self, Versioned};

/// The policy shipped with whistle (the defaults of the domain brief).
const DEFAULT: &str = include_str!("../../../deploy/config/sla-policy.toml");

/// Which time a clock counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Every minute.
    Elapsed,
    /// Service hours of working days only.
    Service,
    /// Service hours and the duty roster's shifts.
    ServiceAndDuty,
}

impl Measure {
    fn hours(self) -> Option<Hours> {
        match self {
            Self::Elapsed => None,
            Self::Service => Some(Hours::Service),
            Self::ServiceAndDuty => Some(Hours::ServiceAndDuty),
        }
    }

    /// The instant at which `amount` of this time has passed since `from`.
    pub fn add(
        self,
        calendar: &Calendar,
        from: DateTime<Utc>,
        amount: Duration,
    ) -> Result<DateTime<Utc>, CalendarError> {
        match self.hours() {
            None => Ok(from + amount.max(Duration::zero())),
            Some(hours) => calendar.add(from, amount, hours),
        }
    }

    /// How much of this time passed between `from` and `to` (zero when `to <= from`).
    pub fn between(self, calendar: &Calendar, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        match self.hours() {
            None => (to - from).max(Duration::zero()),
            Some(hours) => calendar.between(from, to, hours),
        }
    }
}

/// How long a clock allows, and in which time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// The time allowed.
    pub within: Duration,
    /// Which time counts.
    pub measure: Measure,
}

/// The completion tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Emergencies and danger to life or property (2 h by default).
    Emergency,
    /// Water, power, gas, heating (24 h).
    Utilities,
    /// General requests (7 days).
    General,
    /// Complex requests (15 days).
    Complex,
}

/// One version of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The version's name, recorded on every breach and warning.
    pub version: String,
    /// Tickets received from this instant on are timed under this version (until a later
    /// version takes over).
    pub effective_from: DateTime<Utc>,
    /// Warn when these shares of a clock's time have passed (percent, ascending).
    pub warnings: Vec<u8>,
    /// The community's answer to the resident.
    pub acknowledge: Limit,
    /// A summoned department's report-in.
    pub report_in: Limit,
    /// Completion, by tier.
    pub emergency: Limit,
    /// See [`Tier::Utilities`].
    pub utilities: Limit,
    /// See [`Tier::General`].
    pub general: Limit,
    /// See [`Tier::Complex`].
    pub complex: Limit,
    tiers: Tiers,
    /// Supervision opened when a department misses its report-in.
    pub report_in_escalation: SupervisionLevel,
    /// Supervision opened when the ticket misses completion.
    pub completion_escalation: SupervisionLevel,
    /// A digest of the version's content: a version that changed after tickets were timed
    /// under it is refused.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Tiers {
    emergency_urgencies: BTreeSet<Urgency>,
    emergency_categories: BTreeSet<Category>,
    utilities_categories: BTreeSet<Category>,
    complex_urgencies: BTreeSet<Urgency>,
}

impl Policy {
    /// The tier a ticket of this category and urgency falls in.
    pub fn tier(&self, category: Category, urgency: Urgency) -> Tier {
        let t = &self.tiers;
        if t.emergency_urgencies.contains(&urgency) || t.emergency_categories.contains(&category) {
            Tier::Emergency
        } else if t.utilities_categories.contains(&category) {
            Tier::Utilities
        } else if t.complex_urgencies.contains(&urgency) {
            Tier::Complex
        } else {
            Tier::General
        }
    }

    /// The completion limit of a tier.
    pub fn completion(&self, tier: Tier) -> Limit {
        match tier {
            Tier::Emergency => self.emergency,
            Tier::Utilities => self.utilities,
            Tier::General => self.general,
            Tier::Complex => self.complex,
        }
    }
}

/// Every version of the policy, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyBook {
    versions: Vec<Policy>,
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read the SLA policy {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a policy.
    #[error("the SLA policy is not valid: {0}")]
    Invalid(String),
    /// No version is in force at an instant.
    #[error(
        "no SLA policy version is in force at {0}: the earliest version takes effect later; add a version with an earlier effective_from"
    )]
    NoneInForce(DateTime<Utc>),
    /// A version was asked for by name and is not in the book.
    #[error("there is no SLA policy version {0:?}; the versions are {1}")]
    UnknownVersion(String, String),
}

impl PolicyBook {
    /// The policy shipped with whistle.
    pub fn standard() -> Self {
        Self::from_toml(DEFAULT).expect("the shipped SLA policy is valid (tested)")
    }

    /// Reads a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses and checks a policy.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let file: raw::File =
            toml::from_str(text).map_err(|e| PolicyError::Invalid(e.to_string()))?;
        let mut problems = Vec::new();
        let mut versions = Vec::new();
        for raw in file.versions {
            match raw.check() {
                Ok(policy) => versions.push(policy),
                Err(mut errors) => problems.append(&mut errors),
            }
        }
        if versions.is_empty() && problems.is_empty() {
            problems.push("the file holds no [[versions]]; add at least one".to_owned());
        }
        versions.sort_by_key(|p| p.effective_from);
        for pair in versions.windows(2) {
            if pair[0].effective_from == pair[1].effective_from {
                problems.push(format!(
                    "versions {} and {} take effect at the same instant; give the later one a later effective_from",
                    pair[0].version, pair[1].version
                ));
            }
        }
        let mut names = BTreeSet::new();
        for policy in &versions {
            if !names.insert(policy.version.clone()) {
                problems.push(format!(
                    "version {} appears twice; give each version its own name",
                    policy.version
                ));
            }
        }
        if problems.is_empty() {
            Ok(Self { versions })
        } else {
            Err(PolicyError::Invalid(problems.join("; ")))
        }
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> &[Policy] {
        &self.versions
    }

    /// The version in force at `at` (a ticket received then is timed under it).
    pub fn in_force(&self, at: DateTime<Utc>) -> Result<&Policy, PolicyError> {
        versions::in_force(&self.versions, at).ok_or(PolicyError::NoneInForce(at))
    }

    /// The version named `version`.
    pub fn version(&self, version: &str) -> Result<&Policy, PolicyError> {
        versions::named(&self.versions, version)
            .map_err(|known| PolicyError::UnknownVersion(version.to_owned(), known))
    }
}

impl Versioned for Policy {
    fn name(&self) -> &str {
        &self.version
    }

    fn effective_from(&self) -> DateTime<Utc> {
        self.effective_from
    }
}

/// Parses `5m`, `30m`, `2h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad =
        || format!("{text:?} is not a duration; write a whole number and a unit: 5m, 2h or 7d");
    let Some(unit) = text.chars().last() else {
        return Err(bad());
    };
    let number = &text[..text.len() - unit.len_utf8()];
    let n: i64 = number.parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(format!("{text:?}: a limit must be longer than zero"));
    }
    match unit {
        'm' => Ok(Duration::minutes(n)),
        'h' => Ok(Duration::hours(n)),
        'd' => Ok(Duration::days(n)),
        _ => Err(bad()),
    }
}

mod raw {
    use std::collections::BTreeSet;

    use chrono::{DateTime, FixedOffset, Utc};
    use serde::{Deserialize, Serialize};
    use whistle_events::ticket::SupervisionLevel;
    use whistle_events::{Category, Urgency};

    use super::{Limit, Measure, Policy, Tiers, parse_duration};

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct File {
        #[serde(default)]
        pub(super) versions: Vec<Version>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Version {
        version: String,
        effective_from: DateTime<FixedOffset>,
        #[serde(default = "default_warnings")]
        warnings: Vec<u8>,
        acknowledge: RawLimit,
        report_in: RawLimit,
        completion: Completion,
        #[serde(default)]
        tiers: RawTiers,
        escalation: Escalation,
    }

    fn default_warnings() -> Vec<u8> {
        vec![50, 75]
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct RawLimit {
        within: String,
        hours: Measure,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct Completion {
        emergency: RawLimit,
        utilities: RawLimit,
        general: RawLimit,
        complex: RawLimit,
    }

    #[derive(Debug, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct RawTiers {
        #[serde(default)]
        emergency_urgencies: BTreeSet<Urgency>,
        #[serde(default)]
        emergency_categories: BTreeSet<Category>,
        #[serde(default)]
        utilities_categories: BTreeSet<Category>,
        #[serde(default)]
        complex_urgencies: BTreeSet<Urgency>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct Escalation {
        report_in: SupervisionLevel,
        completion: SupervisionLevel,
    }

    impl Version {
        pub(super) fn check(self) -> Result<Policy, Vec<String>> {
            let mut problems = Vec::new();
            let name = self.version.trim().to_owned();
            if name.is_empty() {
                problems.push("a version has an empty name".to_owned());
            }
            let mut limit = |what: &str, raw: &RawLimit| match parse_duration(&raw.within) {
                Ok(within) => Some(Limit {
                    within,
                    measure: raw.hours,
                }),
                Err(e) => {
                    problems.push(format!("version {name}, {what}: {e}"));
                    None
                }
            };
            let acknowledge = limit("acknowledge", &self.acknowledge);
            let report_in = limit("report_in", &self.report_in);
            let emergency = limit("completion.emergency", &self.completion.emergency);
            let utilities = limit("completion.utilities", &self.completion.utilities);
            let general = limit("completion.general", &self.completion.general);
            let complex = limit("completion.complex", &self.completion.complex);
            let mut warnings = self.warnings.clone();
            warnings.sort_unstable();
            warnings.dedup();
            if warnings.iter().any(|p| !(1..=99).contains(p)) {
                problems.push(format!(
                    "version {name}: warnings are shares of a clock's time, between 1 and 99 percent"
                ));
            }
            // The fingerprint covers the version as written, after parsing, so that
            // reformatting the file does not count as a change.
            let fingerprint = fingerprint(&self);
            match (
                acknowledge,
                report_in,
                emergency,
                utilities,
                general,
                complex,
            ) {
                (Some(a), Some(r), Some(e), Some(u), Some(g), Some(c)) if problems.is_empty() => {
                    Ok(Policy {
                        version: name,
                        effective_from: self.effective_from.with_timezone(&Utc),
                        warnings,
                        acknowledge: a,
                        report_in: r,
                        emergency: e,
                        utilities: u,
                        general: g,
                        complex: c,
                        tiers: Tiers {
                            emergency_urgencies: self.tiers.emergency_urgencies,
                            emergency_categories: self.tiers.emergency_categories,
                            utilities_categories: self.tiers.utilities_categories,
                            complex_urgencies: self.tiers.complex_urgencies,
                        },
                        report_in_escalation: self.escalation.report_in,
                        completion_escalation: self.escalation.completion,
                        fingerprint,
                    })
                }
                _ => Err(problems),
            }
        }
    }

    /// FNV-1a over the canonical JSON of the version: stable across builds and platforms.
    fn fingerprint(version: &Version) -> String {
        let canonical = serde_json::to_string(version).unwrap_or_default();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in canonical.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_has_the_domain_defaults() {
        let book = PolicyBook::standard();
        let policy = &book.versions()[0];
        assert_eq!(policy.acknowledge.within, Duration::minutes(5));
        assert_eq!(policy.acknowledge.measure, Measure::Service);
        assert_eq!(policy.report_in.within, Duration::minutes(30));
        assert_eq!(policy.emergency.within, Duration::hours(2));
        assert_eq!(policy.utilities.within, Duration::hours(24));
        assert_eq!(policy.general.within, Duration::days(7));
        assert_eq!(policy.complex.within, Duration::days(15));
        assert_eq!(policy.warnings, vec![50, 75]);
        assert_eq!(policy.tier(Category::Gas, Urgency::Minor), Tier::Utilities);
        assert_eq!(policy.tier(Category::Gas, Urgency::Urgent), Tier::Emergency);
        assert_eq!(
            policy.tier(Category::BuildingSafety, Urgency::Minor),
            Tier::Emergency
        );
        assert_eq!(policy.tier(Category::Noise, Urgency::Major), Tier::Complex);
        assert_eq!(policy.tier(Category::Noise, Urgency::Minor), Tier::General);
    }

    #[test]
    fn the_version_in_force_is_the_latest_that_started() {
        let second = DEFAULT
            .replace("2025.1", "2026.2")
            .replace("2025-01-01T00:00:00+08:00", "2026-07-01T00:00:00+08:00");
        let text = format!(
            "{DEFAULT}\n{}",
            &second[second.find("[[versions]]").unwrap_or(0)..]
        );
        let book = PolicyBook::from_toml(&text).expect("two versions");
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("instant")
                .with_timezone(&Utc)
        };
        assert_eq!(
            book.in_force(at("2026-06-30T23:59:59+08:00"))
                .expect("in force")
                .version,
            "2025.1"
        );
        assert_eq!(
            book.in_force(at("2026-07-01T00:00:00+08:00"))
                .expect("in force")
                .version,
            "2026.2"
        );
        assert!(matches!(
            book.in_force(at("2024-12-31T00:00:00+08:00")),
            Err(PolicyError::NoneInForce(_))
        ));
        assert_ne!(
            book.versions()[0].fingerprint,
            book.versions()[1].fingerprint
        );
    }

    #[test]
    fn a_broken_policy_is_refused_with_every_problem() {
        let text = DEFAULT
            .replace("within = \"5m\"", "within = \"five minutes\"")
            .replace("within = \"30m\"", "within = \"0m\"")
            .replace("warnings = [50, 75]", "warnings = [50, 120]");
        let error = PolicyBook::from_toml(&text)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("acknowledge"), "{error}");
        assert!(error.contains("report_in"), "{error}");
        assert!(error.contains("between 1 and 99"), "{error}");
        let unknown = DEFAULT.replace("warnings = [50, 75]", "warnings = [50, 75]\ncolour = 1");
        assert!(
            PolicyBook::from_toml(&unknown)
                .expect_err("unknown field")
                .to_string()
                .contains("colour")
        );
        assert!(PolicyBook::from_toml("").is_err());
    }

    #[test]
    fn durations_parse_or_say_how_to_write_them() {
        assert_eq!(parse_duration("5m"), Ok(Duration::minutes(5)));
        assert_eq!(parse_duration("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse_duration("15d"), Ok(Duration::days(15)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("五m").is_err());
        assert!(parse_duration("5五").is_err());
    }
}
