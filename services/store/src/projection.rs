//! Read models kept by consumers, stored next to the log.
//!
//! A consumer turns each event into row changes (JSON documents under a key, in a named
//! table) and commits them together with its checkpoint: one transaction, so the rows
//! never run ahead of or behind the checkpoint. Committing a position at or below the
//! checkpoint changes nothing, which makes every redelivery harmless. A message the
//! consumer gives up on is parked in the same way: the parked record and the checkpoint
//! move together.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Position;

/// One change to a read model: set `key` in `table` to `value`, or delete it.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    /// The read model's table, e.g. `department_queue`.
    pub table: String,
    /// The row's key; rows are listed in key order, by prefix.
    pub key: String,
    /// The new document, or `None` to delete the row.
    pub value: Option<Value>,
}

impl RowChange {
    /// Sets `key` in `table` to `value`.
    pub fn put(table: &str, key: impl Into<String>, value: Value) -> Self {
        Self {
            table: table.to_owned(),
            key: key.into(),
            value: Some(value),
        }
    }

    /// Deletes `key` from `table`.
    pub fn delete(table: &str, key: impl Into<String>) -> Self {
        Self {
            table: table.to_owned(),
            key: key.into(),
            value: None,
        }
    }
}

/// A row of a read model.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionRow {
    /// The row's key.
    pub key: String,
    /// The document.
    pub value: Value,
    /// When it was last written (the store's clock).
    pub updated_at: DateTime<Utc>,
}

/// A message a consumer gave up on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParkedMessage {
    /// The consumer.
    pub consumer: String,
    /// The event's position in the log.
    pub position: Position,
    /// The event's id.
    pub event_id: String,
    /// Why it failed, the last time it was tried.
    pub reason: String,
    /// How many times it was tried (deliveries).
    pub attempts: u32,
    /// The message as received.
    pub message: Value,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}

/// What to commit for one event: its row changes, or the record of parking it.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The event was applied: these rows change (possibly none).
    Apply(Vec<RowChange>),
    /// The event is parked, with the reason and how many attempts were made.
    Park {
        /// The event's id.
        event_id: String,
        /// Why it failed.
        reason: String,
        /// How many attempts were made.
        attempts: u32,
        /// The message as received.
        message: Value,
    },
}

/// Whether a commit changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The effect and the new checkpoint are stored.
    Applied,
    /// The consumer's checkpoint was already at or past this position: nothing was
    /// written (a redelivery, or another instance got there first).
    AlreadyApplied,
}

/// What `changes` leave behind when applied in order: for each (table, key) the last
/// change wins. Returned as the rows to set and the rows to delete, each (table, key) once,
/// in the order of their last change; applying them in any order gives the same state.
pub(crate) fn net_changes(changes: &[RowChange]) -> (Vec<&RowChange>, Vec<&RowChange>) {
    let mut last: std::collections::HashMap<(&str, &str), usize> =
        std::collections::HashMap::with_capacity(changes.len());
    for (index, change) in changes.iter().enumerate() {
        last.insert((change.table.as_str(), change.key.as_str()), index);
    }
    let mut puts = Vec::with_capacity(last.len());
    let mut deletes = Vec::new();
    for (index, change) in changes.iter().enumerate() {
        if last.get(&(change.table.as_str(), change.key.as_str())) != Some(&index) {
            continue;
        }
        match change.value {
            Some(_) => puts.push(change),
            None => deletes.push(change),
        }
    }
    (puts, deletes)
}

/// The largest key a prefix scan covers: keys are compared as text, and no key holds
/// U+10FFFF, so `prefix..prefix + MAX` is exactly the keys starting with `prefix`.
pub(crate) fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_last_change_of_each_row_wins() {
        let changes = vec![
            RowChange::put("a", "1", json!(1)),
            RowChange::put("a", "2", json!(2)),
            RowChange::delete("a", "1"),
            RowChange::put("b", "1", json!("b1")),
            RowChange::put("a", "2", json!(22)),
            RowChange::delete("a", "3"),
            RowChange::put("a", "3", json!(3)),
        ];
        let (puts, deletes) = net_changes(&changes);
        let puts: Vec<_> = puts
            .iter()
            .map(|c| (c.table.as_str(), c.key.as_str(), c.value.clone()))
            .collect();
        assert_eq!(
            puts,
            vec![
                ("b", "1", Some(json!("b1"))),
                ("a", "2", Some(json!(22))),
                ("a", "3", Some(json!(3))),
            ]
        );
        let deletes: Vec<_> = deletes
            .iter()
            .map(|c| (c.table.as_str(), c.key.as_str()))
            .collect();
        assert_eq!(deletes, vec![("a", "1")]);
    }
}
