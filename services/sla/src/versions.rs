//! Versioned configuration (SLA policy, ranking weights): the version in force at an
//! instant, or the one with a name.

use chrono::{DateTime, Utc};

/// One version of a versioned configuration.
pub(crate) trait Versioned {
    /// The version's name.
    fn name(&self) -> &str;
    /// From when it applies.
    fn effective_from(&self) -> DateTime<Utc>;
}

/// The latest of `versions` (oldest first) that started by `at`.
pub(crate) fn in_force<T: Versioned>(versions: &[T], at: DateTime<Utc>) -> Option<&T> {
    versions.iter().rev().find(|v| v.effective_from() <= at)
}

/// The version called `name`, or the list of names there are (for the error).
pub(crate) fn named<'a, T: Versioned>(versions: &'a [T], name: &str) -> Result<&'a T, String> {
    versions.iter().find(|v| v.name() == name).ok_or_else(|| {
        versions
            .iter()
            .map(Versioned::name)
            .collect::<Vec<_>>()
            .join(", ")
    })
}
