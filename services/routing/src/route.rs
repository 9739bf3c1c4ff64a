//! Routing: whom the street summons for a ticket, first and after a decline.

use serde::Serialize;
use whistle_events::{Category, DepartmentId, Location};

use crate::catalogue::{Catalogue, Rule};
use crate::load::category_code;

/// The name reported in [`Route::Summon::rule`] when a district's fallback owner is
/// summoned: `fallback:<district code>`.
pub const FALLBACK_RULE_PREFIX: &str = "fallback:";

/// A routing decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Route {
    /// Summon these departments; `lead` leads.
    Summon {
        /// The departments to summon, in the rule's order.
        departments: Vec<DepartmentId>,
        /// The one that leads (牵头); always one of `departments`.
        lead: DepartmentId,
        /// Why, for people: the rule, the category, the place and the departments' names.
        reason: String,
        /// The rule that decided: a rule's name, or `fallback:<district>` when the
        /// district's fallback owner (兜底) was summoned.
        rule: String,
        /// The catalogue version that decided.
        version: String,
    },
    /// Nobody is left to summon automatically: a street dispatcher must decide.
    Dispatcher {
        /// Why, for people.
        reason: String,
        /// The catalogue version that decided.
        version: String,
    },
}

impl Route {
    /// Why this decision was made.
    pub fn reason(&self) -> &str {
        match self {
            Self::Summon { reason, .. } | Self::Dispatcher { reason, .. } => reason,
        }
    }

    /// The catalogue version that made it.
    pub fn version(&self) -> &str {
        match self {
            Self::Summon { version, .. } | Self::Dispatcher { version, .. } => version,
        }
    }
}

/// Where a re-dispatch candidate came from.
#[derive(Clone, Copy)]
enum Source {
    Alternate,
    RuleDepartment,
    Fallback,
}

impl Catalogue {
    /// Whom to summon for a ticket of `category` at `location`.
    ///
    /// `tried` lists the departments already summoned for this ticket or that declined it
    /// (退单). Empty means the first call-up: the deciding rule's departments are summoned
    /// together (see [`Catalogue::rule_for`] for which rule decides). Otherwise one
    /// department is summoned to replace a declined one: the rule's next alternate not in
    /// `tried`, else one of the rule's departments not in `tried`, else the district's
    /// fallback owner (兜底); when even that one was tried, a dispatcher must decide. With no
    /// rule at all, the fallback owner is summoned. A location that does not fit the
    /// directory goes to a dispatcher.
    pub fn route(&self, location: &Location, category: Category, tried: &[DepartmentId]) -> Route {
        let version = self.version.clone();
        if let Err(e) = self.check_location(location) {
            return Route::Dispatcher {
                reason: format!(
                    "catalogue {version} cannot route this ticket: {e}; a street dispatcher must decide"
                ),
                version,
            };
        }
        let Some(district) = self.district(&location.district) else {
            // check_location found the district; this is unreachable in practice.
            return Route::Dispatcher {
                reason: format!(
                    "catalogue {version} has no district `{}`; a street dispatcher must decide",
                    location.district
                ),
                version,
            };
        };
        let what = format!("{} ({})", category.label_zh(), category_code(category));
        let street = self.display(location.street.as_str());
        let fallback_rule = format!("{FALLBACK_RULE_PREFIX}{}", district.code);
        let fallback_name = self.display(district.fallback.as_str());

        let Some(rule) = self.rule_for(location, category) else {
            if tried.contains(&district.fallback) {
                return Route::Dispatcher {
                    reason: format!(
                        "catalogue {version} has no rule for {what} in {street}, and its fallback owner {fallback_name} of {} has already been summoned or declined: every candidate declined; a street dispatcher must choose whom to summon",
                        district.name
                    ),
                    version,
                };
            }
            let replaces = if tried.is_empty() {
                ""
            } else {
                ", replacing a department that declined"
            };
            return Route::Summon {
                departments: vec![district.fallback.clone()],
                lead: district.fallback.clone(),
                reason: format!(
                    "no rule for {what} in {street} (catalogue {version}): the fallback owner (兜底) of {}, {fallback_name}, is summoned{replaces}",
                    district.name
                ),
                rule: fallback_rule,
                version,
            };
        };

        if tried.is_empty() {
            let reason = format!(
                "rule `{}` (catalogue {version}): {} in {} {} to {}",
                rule.name,
                match rule.category {
                    Some(_) => what,
                    None => format!("every category, here {what},"),
                },
                self.display(rule.scope.code()),
                if rule.category.is_some() && rule.departments.len() > 1 {
                    "go"
                } else {
                    "goes"
                },
                self.team(rule)
            );
            return Route::Summon {
                departments: rule.departments.clone(),
                lead: rule.lead.clone(),
                reason,
                rule: rule.name.clone(),
                version,
            };
        }

        let candidates = rule
            .alternates
            .iter()
            .map(|d| (d, Source::Alternate))
            .chain(rule.departments.iter().map(|d| (d, Source::RuleDepartment)))
            .chain(std::iter::once((&district.fallback, Source::Fallback)));
        for (department, source) in candidates {
            if tried.contains(department) {
                continue;
            }
            let name = self.display(department.as_str());
            let (why, decided_by) = match source {
                Source::Alternate => (
                    format!("{name}, the next alternate of rule `{}`,", rule.name),
                    rule.name.clone(),
                ),
                Source::RuleDepartment => (
                    format!(
                        "{name}, a department of rule `{}` not yet tried,",
                        rule.name
                    ),
                    rule.name.clone(),
                ),
                Source::Fallback => (
                    format!(
                        "rule `{}` has no untried department left, so {name}, the fallback owner (兜底) of {},",
                        rule.name, district.name
                    ),
                    fallback_rule.clone(),
                ),
            };
            return Route::Summon {
                departments: vec![department.clone()],
                lead: department.clone(),
                reason: format!(
                    "re-dispatch of {what} in {street} (catalogue {version}): {why} is summoned as lead, replacing a department that declined"
                ),
                rule: decided_by,
                version,
            };
        }

        Route::Dispatcher {
            reason: format!(
                "every candidate for {what} in {street} declined or was already summoned (catalogue {version}): rule `{}` ({}) and the fallback owner {fallback_name} of {}; a street dispatcher must choose whom to summon",
                rule.name,
                rule.alternates
                    .iter()
                    .chain(&rule.departments)
                    .map(|d| self.display(d.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
                district.name
            ),
            version,
        }
    }

    /// "住建 (lead) and 环卫", "派出所 (lead), 政法 and 司法所".
    fn team(&self, rule: &Rule) -> String {
        let names: Vec<String> = rule
            .departments
            .iter()
            .map(|d| {
                let name = self.display(d.as_str());
                if d == &rule.lead {
                    format!("{name} (lead)")
                } else {
                    name
                }
            })
            .collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }
}
