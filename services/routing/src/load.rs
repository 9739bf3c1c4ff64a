//! Reading a catalogue from TOML and checking that it holds together.
//!
//! The text is read into plain "raw" structures (strings, with the span of each entry),
//! then every entry is checked and every problem collected, so an operator sees them all
//! at once. References are checked against the codes as written: a code that is declared
//! but invalid is reported once, where it is declared, not again at every use.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::IntoDeserializer;
use toml::Spanned;
use whistle_events::{Category, DepartmentId, IdError};

use crate::catalogue::{
    Catalogue, Community, Department, DispatchPolicy, District, Rule, Scope, Street,
};
use crate::error::{CatalogueError, Problem, ProblemKind, brief};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    version: Option<String>,
    policy: Option<DispatchPolicy>,
    #[serde(default)]
    district: Vec<Spanned<RawDistrict>>,
    #[serde(default)]
    street: Vec<Spanned<RawStreet>>,
    #[serde(default)]
    community: Vec<Spanned<RawCommunity>>,
    #[serde(default)]
    department: Vec<Spanned<RawDepartment>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDistrict {
    code: String,
    name: String,
    fallback: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStreet {
    code: String,
    name: String,
    district: String,
    policy: Option<DispatchPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommunity {
    code: String,
    name: String,
    street: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepartment {
    code: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    category: String,
    district: Option<String>,
    street: Option<String>,
    community: Option<String>,
    #[serde(default)]
    departments: Vec<String>,
    lead: Option<String>,
    #[serde(default)]
    alternates: Vec<String>,
}

/// Reads and checks `text`.
pub(crate) fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
    let raw: RawCatalogue = toml::from_str(text).map_err(|e| CatalogueError::Syntax {
        file: None,
        message: e.to_string(),
    })?;
    let mut check = Checker {
        text,
        problems: Vec::new(),
        codes: HashMap::new(),
        districts: HashSet::new(),
        streets: HashSet::new(),
        communities: HashSet::new(),
        departments: HashSet::new(),
    };
    let catalogue = check.catalogue(raw);
    if check.problems.is_empty() {
        Ok(catalogue)
    } else {
        check.problems.sort_by_key(|p| p.line);
        Err(CatalogueError::Invalid {
            file: None,
            problems: check.problems,
        })
    }
}

/// Collects problems and the codes declared so far.
struct Checker<'t> {
    text: &'t str,
    problems: Vec<Problem>,
    /// Every declared code (valid or not): its kind and line.
    codes: HashMap<String, (&'static str, usize)>,
    /// Declared codes of each kind, as written.
    districts: HashSet<String>,
    streets: HashSet<String>,
    communities: HashSet<String>,
    departments: HashSet<String>,
}

impl Checker<'_> {
    fn line<T>(&self, entry: &Spanned<T>) -> usize {
        let end = entry.span().start.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    fn problem(&mut self, line: Option<usize>, kind: ProblemKind) {
        self.problems.push(Problem { line, kind });
    }

    /// Parses a code, reporting a bad one.
    fn code<T: FromStr<Err = IdError>>(
        &mut self,
        line: usize,
        entry: impl FnOnce() -> String,
        value: &str,
    ) -> Option<T> {
        match value.parse::<T>() {
            Ok(id) => Some(id),
            Err(source) => {
                self.problem(
                    Some(line),
                    ProblemKind::BadCode {
                        entry: entry(),
                        source,
                    },
                );
                None
            }
        }
    }

    /// Declares a code of `kind`, reporting one already used; then parses it.
    fn declare<T: FromStr<Err = IdError>>(
        &mut self,
        line: usize,
        kind: &'static str,
        code: &str,
        name: &str,
    ) -> Option<T> {
        if let Some(&(first_kind, first_line)) = self.codes.get(code) {
            self.problem(
                Some(line),
                ProblemKind::DuplicateCode {
                    code: code.to_owned(),
                    kind,
                    first_kind,
                    first_line,
                },
            );
        } else {
            self.codes.insert(code.to_owned(), (kind, line));
        }
        if name.trim().is_empty() {
            self.problem(
                Some(line),
                ProblemKind::EmptyName {
                    entry: format!("{kind} `{code}`"),
                },
            );
        }
        let set = match kind {
            "district" => &mut self.districts,
            "street" => &mut self.streets,
            "community" => &mut self.communities,
            _ => &mut self.departments,
        };
        set.insert(code.to_owned());
        self.code(line, || format!("[[{kind}]] `code`"), code)
    }

    /// Resolves a reference to a declared code: `Err(())` when it is not declared (the
    /// caller reports it), `Ok(None)` when it is declared but invalid (reported already).
    fn reference<T: FromStr<Err = IdError>>(
        declared: &HashSet<String>,
        value: &str,
    ) -> Result<Option<T>, ()> {
        if declared.contains(value) {
            Ok(value.parse::<T>().ok())
        } else {
            Err(())
        }
    }

    fn known(declared: &HashSet<String>) -> String {
        let mut codes: Vec<&String> = declared.iter().collect();
        codes.sort();
        brief(codes)
    }

    fn catalogue(&mut self, raw: RawCatalogue) -> Catalogue {
        let version = match raw.version {
            Some(v) if !v.trim().is_empty() => v.trim().to_owned(),
            _ => {
                self.problem(None, ProblemKind::MissingVersion);
                String::new()
            }
        };
        let policy = raw.policy.unwrap_or_else(|| {
            self.problem(None, ProblemKind::MissingPolicy);
            DispatchPolicy::Confirm
        });
        if raw.district.is_empty() {
            self.problem(None, ProblemKind::NoDistricts);
        }

        let mut names = HashMap::new();
        let mut remember = |code: &str, name: &str| {
            names.insert(code.to_owned(), name.trim().to_owned());
        };

        // Declarations first, so that references may come in any order in the file.
        let mut districts = Vec::new();
        let mut district_fallbacks = Vec::new();
        for entry in &raw.district {
            let line = self.line(entry);
            let d = entry.get_ref();
            remember(&d.code, &d.name);
            let code = self.declare(line, "district", &d.code, &d.name);
            district_fallbacks.push((line, code, d));
        }
        let mut street_entries = Vec::new();
        for entry in &raw.street {
            let line = self.line(entry);
            let s = entry.get_ref();
            remember(&s.code, &s.name);
            let code = self.declare(line, "street", &s.code, &s.name);
            street_entries.push((line, code, s));
        }
        let mut community_entries = Vec::new();
        for entry in &raw.community {
            let line = self.line(entry);
            let c = entry.get_ref();
            remember(&c.code, &c.name);
            let code = self.declare(line, "community", &c.code, &c.name);
            community_entries.push((line, code, c));
        }
        let mut departments = Vec::new();
        for entry in &raw.department {
            let line = self.line(entry);
            let d = entry.get_ref();
            remember(&d.code, &d.name);
            if let Some(code) = self.declare(line, "department", &d.code, &d.name) {
                departments.push(Department {
                    code,
                    name: d.name.trim().to_owned(),
                });
            }
        }

        for (line, code, d) in district_fallbacks {
            let fallback = match &d.fallback {
                None => {
                    self.problem(
                        Some(line),
                        ProblemKind::MissingFallback {
                            district: d.code.clone(),
                        },
                    );
                    None
                }
                Some(fallback) => match Self::reference(&self.departments, fallback) {
                    Ok(id) => id,
                    Err(()) => {
                        let known = Self::known(&self.departments);
                        self.problem(
                            Some(line),
                            ProblemKind::UnknownFallback {
                                district: d.code.clone(),
                                department: fallback.clone(),
                                known,
                            },
                        );
                        None
                    }
                },
            };
            if let (Some(code), Some(fallback)) = (code, fallback) {
                districts.push(District {
                    code,
                    name: d.name.trim().to_owned(),
                    fallback,
                });
            }
        }

        let mut streets = Vec::new();
        for (line, code, s) in street_entries {
            let district = match Self::reference(&self.districts, &s.district) {
                Ok(id) => id,
                Err(()) => {
                    let known = Self::known(&self.districts);
                    self.problem(
                        Some(line),
                        ProblemKind::StreetDistrictUnknown {
                            street: s.code.clone(),
                            district: s.district.clone(),
                            known,
                        },
                    );
                    None
                }
            };
            if let (Some(code), Some(district)) = (code, district) {
                streets.push(Street {
                    code,
                    name: s.name.trim().to_owned(),
                    district,
                    policy: s.policy,
                });
            }
        }

        let mut communities = Vec::new();
        for (line, code, c) in community_entries {
            let street = match Self::reference(&self.streets, &c.street) {
                Ok(id) => id,
                Err(()) => {
                    let known = Self::known(&self.streets);
                    self.problem(
                        Some(line),
                        ProblemKind::CommunityStreetUnknown {
                            community: c.code.clone(),
                            street: c.street.clone(),
                            known,
                        },
                    );
                    None
                }
            };
            if let (Some(code), Some(street)) = (code, street) {
                communities.push(Community {
                    code,
                    name: c.name.trim().to_owned(),
                    street,
                });
            }
        }

        let mut rules = Vec::new();
        let mut rule_index = HashMap::new();
        let mut rule_names: HashMap<String, usize> = HashMap::new();
        let mut scopes: HashMap<(Scope, Option<Category>), (String, usize)> = HashMap::new();
        for entry in &raw.rule {
            let line = self.line(entry);
            if let Some(rule) = self.rule(line, entry.get_ref(), &mut rule_names) {
                let key = (rule.scope.clone(), rule.category);
                if let Some((other, other_line)) = scopes.get(&key) {
                    self.problem(
                        Some(line),
                        ProblemKind::DuplicateRule {
                            rule: rule.name.clone(),
                            other: other.clone(),
                            other_line: *other_line,
                            scope: rule.scope.to_string(),
                            category: match rule.category {
                                Some(c) => format!("`{}`", category_code(c)),
                                None => "every category (`*`)".to_owned(),
                            },
                        },
                    );
                } else {
                    scopes.insert(key.clone(), (rule.name.clone(), line));
                    rule_index.insert(key, rules.len());
                    rules.push(rule);
                }
            }
        }

        Catalogue {
            district_index: index(districts.iter().map(|d| d.code.clone())),
            street_index: index(streets.iter().map(|s| s.code.clone())),
            community_index: index(communities.iter().map(|c| c.code.clone())),
            version,
            policy,
            districts,
            streets,
            communities,
            departments,
            rules,
            names,
            rule_index,
        }
    }

    /// Checks one rule; `None` when it has a problem (reported).
    fn rule(
        &mut self,
        line: usize,
        r: &RawRule,
        rule_names: &mut HashMap<String, usize>,
    ) -> Option<Rule> {
        let before = self.problems.len();
        let name = r.name.trim().to_owned();
        if name.is_empty() {
            self.problem(Some(line), ProblemKind::EmptyRuleName);
        } else if let Some(&first_line) = rule_names.get(&name) {
            self.problem(
                Some(line),
                ProblemKind::DuplicateRuleName {
                    rule: name.clone(),
                    first_line,
                },
            );
        } else {
            rule_names.insert(name.clone(), line);
        }
        let label = if name.is_empty() {
            "(unnamed)".to_owned()
        } else {
            name.clone()
        };

        let category = if r.category.trim() == "*" {
            Some(None)
        } else {
            match parse_category(r.category.trim()) {
                Some(c) => Some(Some(c)),
                None => {
                    self.problem(
                        Some(line),
                        ProblemKind::UnknownCategory {
                            rule: label.clone(),
                            category: r.category.clone(),
                            known: Category::ALL
                                .iter()
                                .map(|&c| category_code(c))
                                .collect::<Vec<_>>()
                                .join(", "),
                        },
                    );
                    None
                }
            }
        };

        let scope = self.scope(line, &label, r);

        if r.departments.is_empty() {
            self.problem(
                Some(line),
                ProblemKind::NoDepartments {
                    rule: label.clone(),
                },
            );
        }
        let departments = self.department_list(line, &label, "departments", &r.departments);
        let alternates = self.department_list(line, &label, "alternates", &r.alternates);
        for alternate in &r.alternates {
            if r.departments.contains(alternate) {
                self.problem(
                    Some(line),
                    ProblemKind::AlternateAlsoSummoned {
                        rule: label.clone(),
                        department: alternate.clone(),
                    },
                );
            }
        }
        let listed = || {
            r.departments
                .iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let lead = match (&r.lead, r.departments.as_slice()) {
            (Some(lead), _) => {
                if !r.departments.contains(lead) {
                    self.problem(
                        Some(line),
                        ProblemKind::LeadNotSummoned {
                            rule: label.clone(),
                            lead: lead.clone(),
                            departments: listed(),
                        },
                    );
                }
                // The departments' check reports a bad code; do not report it twice.
                DepartmentId::parse(lead.as_str()).ok()
            }
            (None, [only]) => DepartmentId::parse(only.as_str()).ok(),
            (None, []) => None, // reported as NoDepartments
            (None, _) => {
                self.problem(
                    Some(line),
                    ProblemKind::MissingLead {
                        rule: label.clone(),
                        departments: listed(),
                    },
                );
                None
            }
        };

        if self.problems.len() > before {
            return None;
        }
        Some(Rule {
            name,
            category: category?,
            scope: scope?,
            departments: departments?,
            lead: lead?,
            alternates: alternates?,
            line,
        })
    }

    fn scope(&mut self, line: usize, rule: &str, r: &RawRule) -> Option<Scope> {
        let given: Vec<(&'static str, &String)> = [
            ("district", &r.district),
            ("street", &r.street),
            ("community", &r.community),
        ]
        .into_iter()
        .filter_map(|(kind, code)| code.as_ref().map(|c| (kind, c)))
        .collect();
        let (kind, code) = match given.as_slice() {
            [] => {
                self.problem(
                    Some(line),
                    ProblemKind::MissingScope {
                        rule: rule.to_owned(),
                    },
                );
                return None;
            }
            [one] => *one,
            several => {
                let given = several
                    .iter()
                    .map(|(kind, code)| format!("{kind} = \"{code}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.problem(
                    Some(line),
                    ProblemKind::SeveralScopes {
                        rule: rule.to_owned(),
                        given,
                    },
                );
                return None;
            }
        };
        let declared = match kind {
            "district" => &self.districts,
            "street" => &self.streets,
            _ => &self.communities,
        };
        let resolved = match kind {
            "district" => Self::reference(declared, code).map(|id| id.map(Scope::District)),
            "street" => Self::reference(declared, code).map(|id| id.map(Scope::Street)),
            _ => Self::reference(declared, code).map(|id| id.map(Scope::Community)),
        };
        match resolved {
            Ok(scope) => scope,
            Err(()) => {
                let known = Self::known(declared);
                self.problem(
                    Some(line),
                    ProblemKind::UnknownScope {
                        rule: rule.to_owned(),
                        kind,
                        code: code.clone(),
                        known,
                    },
                );
                None
            }
        }
    }

    fn department_list(
        &mut self,
        line: usize,
        rule: &str,
        field: &'static str,
        codes: &[String],
    ) -> Option<Vec<DepartmentId>> {
        let mut ids = Vec::with_capacity(codes.len());
        let mut ok = true;
        for (i, code) in codes.iter().enumerate() {
            if codes[..i].contains(code) {
                self.problem(
                    Some(line),
                    ProblemKind::RepeatedDepartment {
                        rule: rule.to_owned(),
                        field,
                        department: code.clone(),
                    },
                );
                ok = false;
                continue;
            }
            match Self::reference(&self.departments, code) {
                Ok(Some(id)) => ids.push(id),
                Ok(None) => ok = false,
                Err(()) => {
                    // A code that is not even a valid id gets the id's own explanation.
                    if let Err(source) = DepartmentId::parse(code.as_str()) {
                        self.problem(
                            Some(line),
                            ProblemKind::BadCode {
                                entry: format!("rule `{rule}`, `{field}`"),
                                source,
                            },
                        );
                    } else {
                        let known = Self::known(&self.departments);
                        self.problem(
                            Some(line),
                            ProblemKind::UnknownDepartment {
                                rule: rule.to_owned(),
                                field,
                                department: code.clone(),
                                known,
                            },
                        );
                    }
                    ok = false;
                }
            }
        }
        ok.then_some(ids)
    }
}

/// Each key's position in the order given.
fn index<K: Hash + Eq>(keys: impl Iterator<Item = K>) -> HashMap<K, usize> {
    keys.enumerate().map(|(i, k)| (k, i)).collect()
}

/// The category whose snake_case code (as in the events) is `code`.
pub(crate) fn parse_category(code: &str) -> Option<Category> {
    Category::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(code)).ok()
}

/// The snake_case code of a category, as in the events and the catalogue.
pub(crate) fn category_code(category: Category) -> &'static str {
    match category {
        Category::WaterPowerPipes => "water_power_pipes",
        Category::Gas => "gas",
        Category::Heating => "heating",
        Category::Drains => "drains",
        Category::Sanitation => "sanitation",
        Category::StreetLighting => "street_lighting",
        Category::PublicSecurity => "public_security",
        Category::PropertyManagement => "property_management",
        Category::Parking => "parking",
        Category::Noise => "noise",
        Category::BuildingSafety => "building_safety",
        Category::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_codes_are_the_events_serde_codes() {
        for category in Category::ALL {
            assert_eq!(
                parse_category(category_code(category)),
                Some(category),
                "{category:?}"
            );
        }
        assert_eq!(parse_category("Drains"), None);
        assert_eq!(parse_category("*"), None);
    }
}
