//! The SLA projection: every ticket's facts, and the deadlines still to act on.
//!
//! - **Consumes** (consumer `sla`): every ticket event.
//! - **Keeps** two read models, committed with the consumer's checkpoint:
//!   - `sla_tickets`, keyed by ticket: the ticket's [`TicketFacts`], the policy version it
//!     is timed under, and the keys of its pending deadlines;
//!   - `sla_deadlines`, keyed `<due epoch ms, 13 digits>/<ticket>/<clock>/<department>/<kind>`:
//!     one row per warning or breach still to fire. Keys sort by due time, so the rows due
//!     by now are a key range the [`crate::timer`] claims.
//!
//! A ticket is timed under the policy version in force when it was received, recorded in
//! its row, for its whole life.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use prometheus_client::metrics::histogram::Histogram;
use serde::{Deserialize, Serialize};
use whistle_consumer::{Handler, HandlerError, put_row, read_row, ticket_event, ticket_of};
use whistle_events::subjects::PublishedEvent;
use whistle_events::ticket::SlaClock;
use whistle_events::{DepartmentId, DistrictId, StreetId, TicketEvent, TicketId};
use whistle_store::{EventStore, RowChange, StoreError};

use crate::calendar::Calendar;
use crate::clocks::{Clock, Deadline, clocks, pending};
use crate::facts::TicketFacts;
use crate::policy::PolicyBook;

/// The tickets' facts.
pub const TICKETS: &str = "sla_tickets";
/// The pending deadlines.
pub const DEADLINES: &str = "sla_deadlines";

/// A ticket as the SLA engine keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    /// The instants of its life.
    pub facts: TicketFacts,
    /// The policy version it is timed under.
    pub policy_version: String,
    /// The fingerprint of that version when the ticket was received: a version edited
    /// since is refused rather than silently changing this ticket's verdicts.
    pub policy_fingerprint: String,
    /// The keys of its rows in `sla_deadlines`.
    pub deadlines: BTreeSet<String>,
}

/// A deadline row: what the timer must do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineRow {
    /// The ticket.
    pub ticket: TicketId,
    /// The deadline.
    #[serde(flatten)]
    pub deadline: Deadline,
    /// The policy version, recorded on the warning or breach.
    pub policy_version: String,
    /// Where the ticket is, for telling supervisors.
    pub district: DistrictId,
    /// The street.
    pub street: StreetId,
}

/// The key of a deadline row: the due instant first, so keys sort by time.
pub fn deadline_key(ticket: &TicketId, deadline: &Deadline) -> String {
    format!(
        "{}/{ticket}/{}/{}/{}",
        time_key(deadline.at),
        deadline.clock.as_str(),
        deadline
            .department
            .as_ref()
            .map_or("-", DepartmentId::as_str),
        deadline
            .warning
            .map_or_else(|| "breach".to_owned(), |p| format!("warn{p:02}")),
    )
}

/// The key prefix of an instant: epoch milliseconds, zero-padded to 13 digits (good
/// until the year 2286). Instants before 1970 sort first.
pub fn time_key(at: DateTime<Utc>) -> String {
    format!("{:013}", at.timestamp_millis().max(0))
}

/// The last key due at or before `at`.
pub fn due_upto(at: DateTime<Utc>) -> String {
    // '~' sorts after '/' and every character of a key's remainder.
    format!("{}~", time_key(at))
}

/// The consumer that keeps the SLA read models.
#[derive(Debug, Clone)]
pub struct SlaProjection {
    store: EventStore,
    policies: Arc<PolicyBook>,
    calendar: Arc<Calendar>,
    acknowledge_latency: Option<Histogram>,
}

impl SlaProjection {
    /// The projection, timing tickets under `policies` on `calendar`.
    pub fn new(store: EventStore, policies: Arc<PolicyBook>, calendar: Arc<Calendar>) -> Self {
        Self {
            store,
            policies,
            calendar,
            acknowledge_latency: None,
        }
    }

    /// Observes each ticket's acknowledge latency (seconds from receipt) into `histogram`.
    pub fn with_acknowledge_latency(mut self, histogram: Histogram) -> Self {
        self.acknowledge_latency = Some(histogram);
        self
    }

    /// The ticket's clocks, under the policy it is timed under.
    pub fn clocks_of(&self, record: &TicketRecord) -> Result<Vec<Clock>, HandlerError> {
        let policy = self
            .policies
            .version(&record.policy_version)
            .map_err(|e| HandlerError::Failed(e.to_string()))?;
        if policy.fingerprint != record.policy_fingerprint {
            return Err(HandlerError::Failed(format!(
                "ticket {} is timed under SLA policy version {}, and that version was edited since; restore it as it was and put the change in a new version",
                record.facts.ticket, record.policy_version
            )));
        }
        clocks(&record.facts, policy, &self.calendar)
            .map_err(|e| HandlerError::Failed(format!("ticket {}: {e}", record.facts.ticket)))
    }
}

impl SlaProjection {
    /// A ticket's first record, timed under the policy in force when it was received.
    pub(crate) fn new_record(&self, facts: TicketFacts) -> Result<TicketRecord, HandlerError> {
        let policy = self
            .policies
            .in_force(facts.received_at)
            .map_err(|e| HandlerError::Failed(format!("ticket {}: {e}", facts.ticket)))?;
        Ok(TicketRecord {
            facts,
            policy_version: policy.version.clone(),
            policy_fingerprint: policy.fingerprint.clone(),
            deadlines: BTreeSet::new(),
        })
    }

    /// A ticket's record rebuilt from its facts: timed under `timed_under` (the policy
    /// version and fingerprint its earlier record kept) when there was one, so that a
    /// rebuild neither moves an old ticket to a version added since nor hides an edited
    /// one; otherwise as [`SlaProjection::new_record`].
    pub(crate) fn rebuilt_record(
        &self,
        facts: TicketFacts,
        timed_under: Option<(String, String)>,
    ) -> Result<TicketRecord, HandlerError> {
        match timed_under {
            Some((policy_version, policy_fingerprint)) => Ok(TicketRecord {
                facts,
                policy_version,
                policy_fingerprint,
                deadlines: BTreeSet::new(),
            }),
            None => self.new_record(facts),
        }
    }

    /// The rows that bring the read models to `record`: its pending deadlines (those it
    /// lists already are kept, the others written; those no longer pending are deleted),
    /// then the record itself, listing them.
    ///
    /// A breach stays pending after the timer records it, and the timer deletes its row
    /// once it has escalated too (see [`pending`]); the record goes on listing it, so that
    /// it is not written again. A record built from nothing (`rebuilding`) lists nothing:
    /// there, a breach already escalated on the ticket is listed and not written.
    pub(crate) fn changes_for(
        &self,
        mut record: TicketRecord,
        rebuilding: bool,
    ) -> Result<Vec<RowChange>, HandlerError> {
        let ticket = record.facts.ticket;
        let clocks = self.clocks_of(&record)?;
        let mut changes = Vec::new();
        let mut keys = BTreeSet::new();
        for deadline in pending(&record.facts, &clocks) {
            let row_key = deadline_key(&ticket, &deadline);
            let fired = rebuilding && self.escalated(&record, &deadline);
            if !record.deadlines.contains(&row_key) && !fired {
                let row = DeadlineRow {
                    ticket,
                    deadline,
                    policy_version: record.policy_version.clone(),
                    district: record.facts.location.district.clone(),
                    street: record.facts.location.street.clone(),
                };
                changes.push(put_row(DEADLINES, row_key.clone(), &row)?);
            }
            keys.insert(row_key);
        }
        for gone in record.deadlines.difference(&keys) {
            changes.push(RowChange::delete(DEADLINES, gone.clone()));
        }
        record.deadlines = keys;
        changes.push(put_row(TICKETS, ticket.to_string(), &record)?);
        Ok(changes)
    }

    /// Whether the timer is done with `deadline`: a breach recorded on the ticket together
    /// with its escalation (the call-up, or supervision at the policy's level).
    fn escalated(&self, record: &TicketRecord, deadline: &Deadline) -> bool {
        let facts = &record.facts;
        if deadline.warning.is_some()
            || !facts.breaches.contains(&(
                deadline.clock,
                deadline.department.clone(),
                deadline.due_at,
            ))
        {
            return false;
        }
        let Ok(policy) = self.policies.version(&record.policy_version) else {
            return false;
        };
        let supervised = |level, department: Option<DepartmentId>| {
            facts.supervised.contains(&(facts.round, level, department))
        };
        match deadline.clock {
            SlaClock::Acknowledge => facts.called_up_at.is_some(),
            SlaClock::ReportIn => {
                supervised(policy.report_in_escalation, deadline.department.clone())
            }
            SlaClock::Completion => supervised(policy.completion_escalation, None),
        }
    }
}

#[async_trait]
impl Handler for SlaProjection {
    fn name(&self) -> &str {
        "sla"
    }

    fn wants(&self, _event_type: &str) -> bool {
        true
    }

    async fn handle(&self, event: &PublishedEvent) -> Result<Vec<RowChange>, HandlerError> {
        let Some(decoded) = ticket_event(event)? else {
            return Ok(Vec::new());
        };
        let ticket = ticket_of(event)?;
        let key = ticket.to_string();
        let existing: Option<TicketRecord> = read_row(&self.store, TICKETS, &key).await?;
        let record = match (existing, &decoded) {
            (None, TicketEvent::Received(received)) => {
                self.new_record(TicketFacts::received(ticket, event.recorded_at, received))?
            }
            (Some(mut record), _) => {
                record.facts.apply(&decoded, event.recorded_at);
                record
            }
            // An event of a ticket whose receipt this projection never saw: nothing to
            // time it from.
            (None, _) => {
                return Err(HandlerError::Failed(format!(
                    "ticket {ticket}: {} arrived before the ticket's Received event; rebuild the sla read models from the log",
                    event.event_type
                )));
            }
        };
        self.changes_for(record, false)
    }

    async fn committed(&self, event: &PublishedEvent) {
        let (Some(histogram), "Acknowledged") =
            (&self.acknowledge_latency, event.event_type.as_str())
        else {
            return;
        };
        if let Ok(Some(record)) = ticket_record(&self.store, &event.stream_id).await
            && record.facts.acknowledged_at == Some(event.recorded_at)
        {
            let latency = event.recorded_at - record.facts.received_at;
            histogram.observe(latency.as_seconds_f64());
        }
    }
}

/// One ticket's record, if the projection has it.
pub async fn ticket_record(
    store: &EventStore,
    ticket: &str,
) -> Result<Option<TicketRecord>, StoreError> {
    match store.row(TICKETS, ticket).await? {
        Some(row) => serde_json::from_value(row.value).map(Some).map_err(|e| {
            StoreError::Corrupt(format!(
                "row {ticket} of {TICKETS} does not read ({e}); rebuild the sla read models from the log"
            ))
        }),
        None => Ok(None),
    }
}

/// Every ticket's record.
pub async fn ticket_records(store: &EventStore) -> Result<Vec<TicketRecord>, StoreError> {
    store
        .rows(TICKETS, "")
        .await?
        .into_iter()
        .map(|row| {
            serde_json::from_value(row.value).map_err(|e| {
                StoreError::Corrupt(format!(
                    "row {} of {TICKETS} does not read ({e}); rebuild the sla read models from the log",
                    row.key
                ))
            })
        })
        .collect()
}
