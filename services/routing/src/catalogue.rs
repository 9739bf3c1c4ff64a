//! The catalogue: the jurisdiction directory, the departments and the rules, checked.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use whistle_events::{Category, CommunityId, DepartmentId, DistrictId, Location, StreetId};

use crate::error::{CatalogueError, UnknownLocation, brief};

/// The committed demo catalogue, `deploy/config/catalogue.toml`.
pub(crate) const DEMO_TOML: &str = include_str!("../../../deploy/config/catalogue.toml");

/// What a street does when a community calls a ticket up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DispatchPolicy {
    /// The street blows the whistle at once, to the departments the catalogue names.
    Auto,
    /// The ticket waits in the street dispatcher's queue until a person confirms (or
    /// changes) the departments.
    Confirm,
}

impl DispatchPolicy {
    /// The code used in the catalogue: `auto` or `confirm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Confirm => "confirm",
        }
    }

    /// The name people use for it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Auto => "自动吹哨",
            Self::Confirm => "人工确认",
        }
    }
}

impl fmt::Display for DispatchPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A district (区).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    /// Its code.
    pub code: DistrictId,
    /// Its display name, e.g. 秦皇岛市海港区.
    pub name: String,
    /// The department that owns whatever no rule routes (兜底).
    pub fallback: DepartmentId,
}

/// A street office (街道).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Street {
    /// Its code.
    pub code: StreetId,
    /// Its display name, e.g. 文化路街道.
    pub name: String,
    /// The district it is in.
    pub district: DistrictId,
    /// Its own dispatch policy, when it overrides the catalogue's.
    pub policy: Option<DispatchPolicy>,
}

/// A community (社区).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Community {
    /// Its code.
    pub code: CommunityId,
    /// Its display name, e.g. 红旗里社区.
    pub name: String,
    /// The street it is under.
    pub street: StreetId,
}

/// A department (or property company) that can be summoned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// Its code.
    pub code: DepartmentId,
    /// Its display name, e.g. 住建.
    pub name: String,
}

/// The place a rule covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every street and community of a district.
    District(DistrictId),
    /// Every community of a street.
    Street(StreetId),
    /// One community.
    Community(CommunityId),
}

impl Scope {
    /// The code of the place.
    pub fn code(&self) -> &str {
        match self {
            Self::District(code) => code.as_str(),
            Self::Street(code) => code.as_str(),
            Self::Community(code) => code.as_str(),
        }
    }

    /// "district", "street" or "community".
    pub fn kind(&self) -> &'static str {
        match self {
            Self::District(_) => "district",
            Self::Street(_) => "street",
            Self::Community(_) => "community",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.kind(), self.code())
    }
}

/// One routing rule: whom to summon for a category in a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its unique name, reported with every decision it makes.
    pub name: String,
    /// The category it routes; `None` for every category (`"*"` in the file).
    pub category: Option<Category>,
    /// The place it covers.
    pub scope: Scope,
    /// The departments summoned together at first call-up, in order.
    pub departments: Vec<DepartmentId>,
    /// The one of `departments` that leads (牵头).
    pub lead: DepartmentId,
    /// Departments tried one at a time, in order, when a summoned one declines (退单).
    pub alternates: Vec<DepartmentId>,
    /// The line of its `[[rule]]` in the catalogue text.
    pub line: usize,
}

/// The routing catalogue of the street whistle stage and its jurisdiction directory: one
/// checked version of `deploy/config/catalogue.toml`. Build it with [`Catalogue::from_toml`]
/// or [`Catalogue::load`]; it cannot hold a reference to anything undeclared.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub(crate) version: String,
    pub(crate) policy: DispatchPolicy,
    pub(crate) districts: Vec<District>,
    pub(crate) streets: Vec<Street>,
    pub(crate) communities: Vec<Community>,
    pub(crate) departments: Vec<Department>,
    pub(crate) rules: Vec<Rule>,
    /// Display name of every code; codes are unique across all kinds.
    pub(crate) names: HashMap<String, String>,
    pub(crate) district_index: HashMap<DistrictId, usize>,
    pub(crate) street_index: HashMap<StreetId, usize>,
    pub(crate) community_index: HashMap<CommunityId, usize>,
    pub(crate) rule_index: HashMap<(Scope, Option<Category>), usize>,
}

impl Catalogue {
    /// Reads and checks a catalogue from TOML text. The error lists every problem found,
    /// with its line.
    pub fn from_toml(text: &str) -> Result<Self, CatalogueError> {
        crate::load::parse(text)
    }

    /// Reads and checks the catalogue file at `path`. The error names the file.
    pub fn load(path: &Path) -> Result<Self, CatalogueError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogueError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| e.in_file(path))
    }

    /// The demo catalogue committed as `deploy/config/catalogue.toml` (the seeds' districts,
    /// streets, communities and departments), built into the binary.
    ///
    /// # Panics
    ///
    /// Never in a released build: a test of this crate loads the same text, so a broken demo
    /// file fails the tests first.
    pub fn demo() -> Self {
        match Self::from_toml(DEMO_TOML) {
            Ok(catalogue) => catalogue,
            Err(e) => panic!("the committed deploy/config/catalogue.toml is invalid: {e}"),
        }
    }

    /// The name of this catalogue version, e.g. `2026-11-01`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The catalogue-wide dispatch policy (streets may override it).
    pub fn default_policy(&self) -> DispatchPolicy {
        self.policy
    }

    /// The dispatch policy of `street`: its own override, else the catalogue's. An unknown
    /// street gets the catalogue's policy.
    pub fn policy_for(&self, street: &StreetId) -> DispatchPolicy {
        self.street(street)
            .and_then(|s| s.policy)
            .unwrap_or(self.policy)
    }

    /// The display name (Chinese) of any district, street, community or department code.
    pub fn name_of(&self, code: &str) -> Option<&str> {
        self.names.get(code).map(String::as_str)
    }

    /// Every department, with its display name, in the catalogue's order.
    pub fn departments(&self) -> impl Iterator<Item = (&DepartmentId, &str)> {
        self.departments.iter().map(|d| (&d.code, d.name.as_str()))
    }

    /// Every district, in the catalogue's order.
    pub fn districts(&self) -> impl Iterator<Item = &District> {
        self.districts.iter()
    }

    /// One district.
    pub fn district(&self, code: &DistrictId) -> Option<&District> {
        self.district_index.get(code).map(|&i| &self.districts[i])
    }

    /// Every street, in the catalogue's order.
    pub fn streets(&self) -> impl Iterator<Item = &Street> {
        self.streets.iter()
    }

    /// The streets of one district, in the catalogue's order.
    pub fn streets_of<'a>(&'a self, district: &'a DistrictId) -> impl Iterator<Item = &'a Street> {
        self.streets.iter().filter(move |s| &s.district == district)
    }

    /// One street.
    pub fn street(&self, code: &StreetId) -> Option<&Street> {
        self.street_index.get(code).map(|&i| &self.streets[i])
    }

    /// Every community, in the catalogue's order.
    pub fn communities(&self) -> impl Iterator<Item = &Community> {
        self.communities.iter()
    }

    /// The communities of one street, in the catalogue's order.
    pub fn communities_of<'a>(
        &'a self,
        street: &'a StreetId,
    ) -> impl Iterator<Item = &'a Community> {
        self.communities.iter().filter(move |c| &c.street == street)
    }

    /// One community.
    pub fn community(&self, code: &CommunityId) -> Option<&Community> {
        self.community_index
            .get(code)
            .map(|&i| &self.communities[i])
    }

    /// The full location (district, street, community; no grid, no place) of a community.
    pub fn location_of(&self, community: &CommunityId) -> Option<Location> {
        let community = self.community(community)?;
        let street = self.street(&community.street)?;
        Some(Location {
            district: street.district.clone(),
            street: street.code.clone(),
            community: community.code.clone(),
            grid: None,
            place: None,
        })
    }

    /// Every rule, in the catalogue's order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Checks that the location's district, street and community exist and that the
    /// community is under the street and the street in the district. The grid and place are
    /// not checked: the catalogue has no grids.
    pub fn check_location(&self, location: &Location) -> Result<(), UnknownLocation> {
        if self.district(&location.district).is_none() {
            return Err(UnknownLocation::District {
                district: location.district.clone(),
                known: brief(self.districts.iter().map(|d| named(&d.code, &d.name))),
            });
        }
        let Some(street) = self.street(&location.street) else {
            return Err(UnknownLocation::Street {
                street: location.street.clone(),
                district: location.district.clone(),
                known: brief(
                    self.streets_of(&location.district)
                        .map(|s| named(&s.code, &s.name)),
                ),
            });
        };
        if street.district != location.district {
            return Err(UnknownLocation::StreetInOtherDistrict {
                street: location.street.clone(),
                district: location.district.clone(),
                actual: street.district.clone(),
            });
        }
        let Some(community) = self.community(&location.community) else {
            return Err(UnknownLocation::Community {
                community: location.community.clone(),
                street: location.street.clone(),
                known: brief(
                    self.communities_of(&location.street)
                        .map(|c| named(&c.code, &c.name)),
                ),
            });
        };
        if community.street != location.street {
            return Err(UnknownLocation::CommunityInOtherStreet {
                community: location.community.clone(),
                street: location.street.clone(),
                actual: community.street.clone(),
            });
        }
        Ok(())
    }

    /// The rule that decides `category` at `location`: the most specific scope first
    /// (community, street, district), and at one scope the exact category before `*`.
    pub fn rule_for(&self, location: &Location, category: Category) -> Option<&Rule> {
        let scopes = [
            Scope::Community(location.community.clone()),
            Scope::Street(location.street.clone()),
            Scope::District(location.district.clone()),
        ];
        scopes
            .into_iter()
            .flat_map(|scope| [(scope.clone(), Some(category)), (scope, None)])
            .find_map(|key| self.rule_index.get(&key))
            .map(|&i| &self.rules[i])
    }

    /// The display name of a code, or the code itself when it has none.
    pub(crate) fn display(&self, code: &str) -> String {
        self.name_of(code).unwrap_or(code).to_owned()
    }
}

/// "hongqili 红旗里社区".
fn named(code: &impl fmt::Display, name: &str) -> String {
    format!("{code} {name}")
}
