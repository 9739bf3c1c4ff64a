//! What the SLA engine shows on `/metrics`, beside the timer's counters
//! ([`crate::timer::TimerMetrics`]) and the consumers' lag.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use whistle_clock::Clock;
use whistle_events::ticket::SlaClock;
use whistle_store::EventStore;

use crate::calendar::Calendar;
use crate::clocks::{ClockStatus, clocks};
use crate::policy::PolicyBook;
use crate::projection::ticket_records;
use crate::stats::{Stage, stage};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: String,
}

/// Every stage, so a stage with no tickets shows 0 rather than vanishing.
const STAGES: [Stage; 9] = [
    Stage::Received,
    Stage::Acknowledged,
    Stage::HandledLocally,
    Stage::CalledUp,
    Stage::Whistled,
    Stage::Reopened,
    Stage::Resolved,
    Stage::Closed,
    Stage::Merged,
];

fn stage_label(stage: Stage) -> String {
    serde_json::to_value(stage)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClockLabels {
    clock: &'static str,
}

/// Gauges refreshed from the SLA read model, and the acknowledge latency.
#[derive(Debug, Clone)]
pub struct SlaMetrics {
    /// Seconds from receipt to the community's answer, observed as answers arrive.
    pub acknowledge_latency: Histogram,
    tickets: Family<StageLabels, Gauge>,
    breached: Family<ClockLabels, Gauge>,
}

impl SlaMetrics {
    /// Registers the metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            // 15 s to about 34 h.
            acknowledge_latency: Histogram::new(exponential_buckets(15.0, 2.0, 14)),
            tickets: Family::default(),
            breached: Family::default(),
        };
        registry.register(
            "whistle_sla_acknowledge_latency_seconds",
            "Seconds from a complaint's receipt to the community's answer",
            metrics.acknowledge_latency.clone(),
        );
        registry.register(
            "whistle_tickets",
            "Tickets by stage (refreshed every few seconds)",
            metrics.tickets.clone(),
        );
        registry.register(
            "whistle_sla_clocks_breached",
            "Clocks running past their due time now, by clock",
            metrics.breached.clone(),
        );
        metrics
    }

    /// Refreshes the gauges every few seconds until `shutdown`.
    pub async fn run(
        self,
        store: EventStore,
        policies: Arc<PolicyBook>,
        calendar: Arc<Calendar>,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            if let Err(error) = self.refresh(&store, &policies, &calendar, &*clock).await {
                tracing::warn!(%error, "SLA gauges not refreshed");
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(StdDuration::from_secs(5)) => {}
            }
        }
    }

    async fn refresh(
        &self,
        store: &EventStore,
        policies: &PolicyBook,
        calendar: &Calendar,
        clock: &dyn Clock,
    ) -> anyhow::Result<()> {
        let now = clock.now();
        let mut by_stage: BTreeMap<Stage, i64> = BTreeMap::new();
        let mut breached: BTreeMap<&'static str, i64> = BTreeMap::new();
        for record in ticket_records(store).await? {
            *by_stage.entry(stage(&record.facts)).or_default() += 1;
            let Ok(policy) = policies.version(&record.policy_version) else {
                continue;
            };
            for c in clocks(&record.facts, policy, calendar)? {
                if c.status_at(now) == ClockStatus::Breached {
                    *breached.entry(c.clock.as_str()).or_default() += 1;
                }
            }
        }
        for stage in STAGES {
            self.tickets
                .get_or_create(&StageLabels {
                    stage: stage_label(stage),
                })
                .set(by_stage.get(&stage).copied().unwrap_or(0));
        }
        for clock in SlaClock::ALL.map(SlaClock::as_str) {
            self.breached
                .get_or_create(&ClockLabels { clock })
                .set(breached.get(clock).copied().unwrap_or(0));
        }
        Ok(())
    }
}
