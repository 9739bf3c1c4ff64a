//! The routing catalogue of the street whistle stage (街道吹哨), and the jurisdiction
//! directory it routes over.
//!
//! A [`Catalogue`] is one checked version of a TOML file (the committed one is
//! `deploy/config/catalogue.toml`, whose comments explain every key). It knows:
//!
//! - the directory: districts (with their fallback owner department, 兜底), streets (with an
//!   optional dispatch-policy override) and communities, and the departments that can be
//!   summoned, each with its Chinese display name ([`Catalogue::name_of`]);
//! - the dispatch policy ([`DispatchPolicy`]): whether a street blows the whistle at once
//!   when a community calls a ticket up, or waits for its dispatcher to confirm;
//! - the rules: for a category in a district, street or community, which departments are
//!   summoned together, which of them leads, and which alternates are tried when one
//!   declines (退单).
//!
//! [`Catalogue::route`] turns a ticket's location, category and the departments already
//! tried into a [`Route`]: summon these departments, or let a dispatcher decide. Every
//! decision names the catalogue version and the rule that made it, so a ticket's history
//! can say why a department was summoned long after the catalogue changed.
//!
//! Loading refuses a catalogue that does not hold together and lists every problem with
//! its line ([`CatalogueError`]): a broken file never reaches a running service.

mod catalogue;
mod error;
mod load;
mod route;

pub use catalogue::{
    Catalogue, Community, Department, DispatchPolicy, District, Rule, Scope, Street,
};
pub use error::{CatalogueError, Problem, ProblemKind, UnknownLocation};
pub use route::{FALLBACK_RULE_PREFIX, Route};
