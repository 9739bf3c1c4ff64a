//! What can be wrong with a catalogue, and with a location checked against one.

use std::fmt;
use std::path::{Path, PathBuf};

use whistle_events::{CommunityId, DistrictId, IdError, StreetId};

/// Why a catalogue could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The file could not be read.
    #[error(
        "cannot read the routing catalogue {}: {source}: check the path and that the file is readable",
        .path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or has a key of the wrong type, an unknown key or a value that
    /// is not allowed (such as `policy = "automatic"`).
    #[error(
        "{} is not valid: fix the place shown below (the comments in deploy/config/catalogue.toml describe every key):\n{message}",
        origin(.file.as_deref())
    )]
    Syntax {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// The TOML parser's message: line, column and what it expected.
        message: String,
    },
    /// The text is well-formed but its content does not hold together: every problem found
    /// is listed.
    #[error(
        "{} has {} problem{}; fix each and load it again:\n{}",
        origin(.file.as_deref()),
        .problems.len(),
        if .problems.len() == 1 { "" } else { "s" },
        ProblemList(.problems)
    )]
    Invalid {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// Every problem, in the order of the file.
        problems: Vec<Problem>,
    },
}

impl CatalogueError {
    /// The content problems found, empty for a file that could not be read or parsed.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Invalid { problems, .. } => problems,
            Self::Read { .. } | Self::Syntax { .. } => &[],
        }
    }

    /// The same error, naming `path` as where the text came from.
    pub(crate) fn in_file(self, path: &Path) -> Self {
        match self {
            Self::Syntax { message, .. } => Self::Syntax {
                file: Some(path.to_owned()),
                message,
            },
            Self::Invalid { problems, .. } => Self::Invalid {
                file: Some(path.to_owned()),
                problems,
            },
            read @ Self::Read { .. } => read,
        }
    }
}

fn origin(file: Option<&Path>) -> String {
    match file {
        Some(path) => format!("routing catalogue {}", path.display()),
        None => "routing catalogue".to_owned(),
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

/// One problem in a catalogue: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line of the entry (`[[rule]]`, `[[street]]`…) it is in; `None` for the
    /// top-level keys.
    pub line: Option<usize>,
    /// What is wrong, and what to do.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// What is wrong with a catalogue entry. Each message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// No `version` key, or an empty one.
    #[error(
        "the catalogue has no `version`: add a line such as `version = \"2026-11-01\"` at the top; every routing decision reports it"
    )]
    MissingVersion,
    /// No `policy` key.
    #[error(
        "the catalogue has no `policy`: add `policy = \"auto\"` (the street blows the whistle at once) or `policy = \"confirm\"` (a street dispatcher confirms each whistle)"
    )]
    MissingPolicy,
    /// Not a single `[[district]]`.
    #[error(
        "the catalogue has no [[district]]: add at least one, with its `code`, `name` and `fallback` department"
    )]
    NoDistricts,
    /// A code that is not a valid id.
    #[error("{entry}: {source}")]
    BadCode {
        /// Which entry and key, e.g. `[[street]] code` or `` rule `drains-haigang`, `lead` ``.
        entry: String,
        /// Why the code is not valid, and what a valid one looks like.
        source: IdError,
    },
    /// A display name that is empty.
    #[error("{entry} has an empty `name`: give the name people read, such as `文化路街道`")]
    EmptyName {
        /// Which entry, e.g. "street `wenhualu`".
        entry: String,
    },
    /// A code declared twice.
    #[error(
        "{kind} code `{code}` is already used by the {first_kind} on line {first_line}: districts, streets, communities and departments share one namespace of codes, give one of them another code"
    )]
    DuplicateCode {
        /// The code.
        code: String,
        /// What this entry is ("street", "department"…).
        kind: &'static str,
        /// What the earlier entry with the same code is.
        first_kind: &'static str,
        /// The line of the earlier entry.
        first_line: usize,
    },
    /// A street names a district nobody declared.
    #[error(
        "street `{street}` is in district `{district}`, which no [[district]] declares: fix the code or add the district (known districts: {known})"
    )]
    StreetDistrictUnknown {
        /// The street.
        street: String,
        /// The district it names.
        district: String,
        /// The declared districts, briefly.
        known: String,
    },
    /// A community names a street nobody declared.
    #[error(
        "community `{community}` is in street `{street}`, which no [[street]] declares: fix the code or add the street (known streets: {known})"
    )]
    CommunityStreetUnknown {
        /// The community.
        community: String,
        /// The street it names.
        street: String,
        /// The declared streets, briefly.
        known: String,
    },
    /// A district without a fallback owner.
    #[error(
        "district `{district}` has no `fallback`: every district needs a fallback owner department (兜底) for what no rule routes; add `fallback = \"<department code>\"`"
    )]
    MissingFallback {
        /// The district.
        district: String,
    },
    /// A district whose fallback owner is not a declared department.
    #[error(
        "district `{district}` has fallback `{department}`, which no [[department]] declares: fix the code or add the department (known departments: {known})"
    )]
    UnknownFallback {
        /// The district.
        district: String,
        /// The fallback it names.
        department: String,
        /// The declared departments, briefly.
        known: String,
    },
    /// A rule without a name.
    #[error(
        "a [[rule]] has an empty `name`: give each rule a unique name, such as `drains-haigang`; routing decisions report it"
    )]
    EmptyRuleName,
    /// Two rules with the same name.
    #[error(
        "rule name `{rule}` is already used by the rule on line {first_line}: rule names must be unique, rename one"
    )]
    DuplicateRuleName {
        /// The name.
        rule: String,
        /// The line of the earlier rule.
        first_line: usize,
    },
    /// A category that is not one of [`whistle_events::Category`].
    #[error(
        "rule `{rule}` has category `{category}`, which is not a category: use one of {known}, or \"*\" for every category"
    )]
    UnknownCategory {
        /// The rule.
        rule: String,
        /// The category it gives.
        category: String,
        /// Every category code.
        known: String,
    },
    /// A rule with none of `district`, `street`, `community`.
    #[error(
        "rule `{rule}` has no scope: give exactly one of `district`, `street` or `community`, the code of the place it covers"
    )]
    MissingScope {
        /// The rule.
        rule: String,
    },
    /// A rule with more than one of `district`, `street`, `community`.
    #[error(
        "rule `{rule}` has several scopes ({given}): give exactly one of `district`, `street` or `community`; write one rule per place"
    )]
    SeveralScopes {
        /// The rule.
        rule: String,
        /// The scope keys it gives.
        given: String,
    },
    /// A rule whose scope names an undeclared place.
    #[error(
        "rule `{rule}` covers {kind} `{code}`, which is not declared: fix the code or declare the {kind} (known: {known})"
    )]
    UnknownScope {
        /// The rule.
        rule: String,
        /// "district", "street" or "community".
        kind: &'static str,
        /// The code it names.
        code: String,
        /// The declared places of that kind, briefly.
        known: String,
    },
    /// A rule that summons nobody.
    #[error(
        "rule `{rule}` has no `departments`: list the departments it summons, such as `departments = [\"zhujian\", \"huanwei\"]`; to send a category to the fallback owner, delete the rule instead"
    )]
    NoDepartments {
        /// The rule.
        rule: String,
    },
    /// A rule that names an undeclared department.
    #[error(
        "rule `{rule}` names department `{department}` in `{field}`, which no [[department]] declares: fix the code or add the department (known departments: {known})"
    )]
    UnknownDepartment {
        /// The rule.
        rule: String,
        /// "departments", "lead" or "alternates".
        field: &'static str,
        /// The code it names.
        department: String,
        /// The declared departments, briefly.
        known: String,
    },
    /// A department listed twice in the same list.
    #[error("rule `{rule}` lists department `{department}` twice in `{field}`: list it once")]
    RepeatedDepartment {
        /// The rule.
        rule: String,
        /// "departments" or "alternates".
        field: &'static str,
        /// The department.
        department: String,
    },
    /// Several departments and no lead.
    #[error(
        "rule `{rule}` summons several departments but has no `lead`: add `lead = \"<code>\"`, one of {departments}"
    )]
    MissingLead {
        /// The rule.
        rule: String,
        /// Its departments.
        departments: String,
    },
    /// A lead that is not summoned.
    #[error(
        "rule `{rule}` has lead `{lead}`, which is not among its departments ({departments}): choose one of them as lead, or add `{lead}` to `departments`"
    )]
    LeadNotSummoned {
        /// The rule.
        rule: String,
        /// The lead it gives.
        lead: String,
        /// Its departments.
        departments: String,
    },
    /// An alternate that is summoned at first call-up anyway.
    #[error(
        "rule `{rule}` lists `{department}` both in `departments` and in `alternates`: it is summoned at first call-up already, remove it from `alternates`"
    )]
    AlternateAlsoSummoned {
        /// The rule.
        rule: String,
        /// The department.
        department: String,
    },
    /// Two rules for the same place and category.
    #[error(
        "rule `{rule}` routes {category} in {scope}, like rule `{other}` on line {other_line}: only one rule may route a category in one place, merge them or delete one"
    )]
    DuplicateRule {
        /// This rule.
        rule: String,
        /// The earlier rule with the same scope and category.
        other: String,
        /// The line of the earlier rule.
        other_line: usize,
        /// The scope, e.g. "street `wenhualu`".
        scope: String,
        /// The category, e.g. "`drains`" or "every category (`*`)".
        category: String,
    },
}

/// Why a location does not fit the jurisdiction directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownLocation {
    /// No such district.
    #[error(
        "district `{district}` is not in the routing catalogue: check the code, or add the district to the catalogue (known districts: {known})"
    )]
    District {
        /// The district given.
        district: DistrictId,
        /// The known districts, briefly.
        known: String,
    },
    /// No such street.
    #[error(
        "street `{street}` is not in the routing catalogue: check the code, or add the street to the catalogue (streets of district `{district}`: {known})"
    )]
    Street {
        /// The street given.
        street: StreetId,
        /// The district given.
        district: DistrictId,
        /// The streets of that district, briefly.
        known: String,
    },
    /// The street exists, in another district.
    #[error(
        "street `{street}` belongs to district `{actual}`, not to `{district}`: correct the location's district"
    )]
    StreetInOtherDistrict {
        /// The street given.
        street: StreetId,
        /// The district given.
        district: DistrictId,
        /// The district the street is in.
        actual: DistrictId,
    },
    /// No such community.
    #[error(
        "community `{community}` is not in the routing catalogue: check the code, or add the community to the catalogue (communities of street `{street}`: {known})"
    )]
    Community {
        /// The community given.
        community: CommunityId,
        /// The street given.
        street: StreetId,
        /// The communities of that street, briefly.
        known: String,
    },
    /// The community exists, under another street.
    #[error(
        "community `{community}` belongs to street `{actual}`, not to `{street}`: correct the location's street"
    )]
    CommunityInOtherStreet {
        /// The community given.
        community: CommunityId,
        /// The street given.
        street: StreetId,
        /// The street the community is in.
        actual: StreetId,
    },
}

/// At most this many entries are listed in a message; the rest are counted.
const BRIEF: usize = 8;

/// "a, b, c" or "a, b, … and 5 more", or "none".
pub(crate) fn brief<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: fmt::Display,
{
    let mut out = String::new();
    let mut count = 0usize;
    for item in items {
        if count < BRIEF {
            if count > 0 {
                out.push_str(", ");
            }
            out.push_str(&item.to_string());
        }
        count += 1;
    }
    match count {
        0 => "none".to_owned(),
        n if n > BRIEF => format!("{out} … and {} more", n - BRIEF),
        _ => out,
    }
}
