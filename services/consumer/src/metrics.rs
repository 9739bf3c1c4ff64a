//! What consumers count, in the Prometheus registry `/metrics` serves.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// A consumer and what became of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// The consumer's name.
    pub consumer: String,
    /// `applied`, `skipped` (not an event it wants), `duplicate` (already applied) or
    /// `parked`.
    pub outcome: String,
}

/// A consumer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ConsumerLabels {
    /// The consumer's name.
    pub consumer: String,
}

/// Every consumer's counters; cheap to clone, clones count together.
#[derive(Debug, Clone, Default)]
pub struct ConsumerMetrics {
    events: Family<OutcomeLabels, Counter>,
    retries: Family<ConsumerLabels, Counter>,
    position: Family<ConsumerLabels, Gauge>,
    lag: Family<ConsumerLabels, Gauge<f64, AtomicU64>>,
}

impl ConsumerMetrics {
    /// Counters registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "whistle_consumer_events",
            "Events seen by each consumer, by outcome (applied, skipped, duplicate, parked)",
            metrics.events.clone(),
        );
        registry.register(
            "whistle_consumer_retries",
            "Failed attempts to handle an event that were tried again",
            metrics.retries.clone(),
        );
        registry.register(
            "whistle_consumer_position",
            "The last log position each consumer committed",
            metrics.position.clone(),
        );
        registry.register(
            "whistle_consumer_lag_seconds",
            "How long ago the last event each consumer applied was recorded, when it applied it",
            metrics.lag.clone(),
        );
        metrics
    }

    pub(crate) fn outcome(&self, consumer: &str, outcome: &str) {
        self.events
            .get_or_create(&OutcomeLabels {
                consumer: consumer.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub(crate) fn retried(&self, consumer: &str) {
        self.retries
            .get_or_create(&ConsumerLabels {
                consumer: consumer.to_owned(),
            })
            .inc();
    }

    pub(crate) fn at(&self, consumer: &str, position: u64) {
        self.position
            .get_or_create(&ConsumerLabels {
                consumer: consumer.to_owned(),
            })
            .set(i64::try_from(position).unwrap_or(i64::MAX));
    }

    pub(crate) fn lag(&self, consumer: &str, seconds: f64) {
        self.lag
            .get_or_create(&ConsumerLabels {
                consumer: consumer.to_owned(),
            })
            .set(seconds.max(0.0));
    }

    /// How many events `consumer` counted with `outcome` (for tests and status pages).
    pub fn count(&self, consumer: &str, outcome: &str) -> u64 {
        self.events
            .get_or_create(&OutcomeLabels {
                consumer: consumer.to_owned(),
                outcome: outcome.to_owned(),
            })
            .get()
    }
}
