//! The deadline timer: fires the warnings and breaches the projection scheduled.
//!
//! It polls `sla_deadlines` for rows due by now, claims them, and turns each into
//! commands on the ticket: a warning, or a breach and its escalation:
//! - acknowledge missed: the ticket is called up to the street;
//! - report-in missed: supervision (督办) on the department, at the policy's level
//!   (district by default);
//! - completion missed: supervision on the ticket (street by default).
//!
//! Supervisors are told of every breach on the [`Alerts`] channel (and the events reach
//! NATS through the relay like every other).
//!
//! Restarts lose nothing: a row is deleted only after its commands are recorded. Several
//! timers may run: on PostgreSQL a claimed row is locked until its commands are recorded,
//! and every command is idempotent on the aggregate (a warning or breach recorded twice
//! is recorded once; a second call-up or supervision is refused and ignored), so a row
//! fired again after a crash changes nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use futures::StreamExt as _;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use whistle_clock::Clock;
use whistle_events::ticket::{SlaClock, SupervisionLevel};
use whistle_events::{ActorId, EventMetadata, Text, TicketId};
use whistle_ticket::{CommandError, TicketCommand, TicketError, Tickets};

use crate::policy::PolicyBook;
use crate::projection::{DEADLINES, DeadlineRow, due_upto};

/// What a supervisor is told when a clock is missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The deadline that passed.
    #[serde(flatten)]
    pub row: DeadlineRow,
    /// What the engine did about it.
    pub action: String,
}

/// The channel supervisors' live views listen on.
#[derive(Debug, Clone)]
pub struct Alerts {
    sender: broadcast::Sender<Alert>,
}

impl Default for Alerts {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }
}

impl Alerts {
    /// Listens for alerts from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Alert> {
        self.sender.subscribe()
    }

    fn send(&self, alert: Alert) {
        // Nobody listening is fine: the breach is on the ticket's timeline either way.
        let _ = self.sender.send(alert);
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClockLabels {
    clock: &'static str,
}

/// The timer's metrics.
#[derive(Debug, Clone)]
pub struct TimerMetrics {
    breaches: Family<ClockLabels, Counter>,
    warnings: Family<ClockLabels, Counter>,
    lateness: Histogram,
}

impl TimerMetrics {
    /// Registers the metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            breaches: Family::default(),
            warnings: Family::default(),
            // 1 ms to about 16 s.
            lateness: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
        };
        registry.register(
            "whistle_sla_breaches",
            "Breaches the deadline timer recorded, by clock",
            metrics.breaches.clone(),
        );
        registry.register(
            "whistle_sla_warnings",
            "Warnings the deadline timer recorded, by clock",
            metrics.warnings.clone(),
        );
        registry.register(
            "whistle_sla_timer_lateness_seconds",
            "How long after its due time the timer acted on a deadline",
            metrics.lateness.clone(),
        );
        metrics
    }

    /// How many breaches this timer recorded, over every clock.
    pub fn breaches_fired(&self) -> u64 {
        SlaClock::ALL
            .into_iter()
            .map(|clock| {
                self.breaches
                    .get_or_create(&ClockLabels {
                        clock: clock.as_str(),
                    })
                    .get()
            })
            .sum()
    }

    /// Metrics registered nowhere (tests, tools).
    pub fn unregistered() -> Self {
        Self::register(&mut Registry::default())
    }
}

/// How the timer polls.
#[derive(Debug, Clone, Copy)]
pub struct TimerConfig {
    /// The longest wait between polls. A deadline fires at most this long after it is due
    /// (plus the time its commands take).
    pub poll: StdDuration,
    /// Rows claimed per poll.
    pub batch: i64,
    /// Tickets acted on at once within a claimed batch (each ticket's rows in due order).
    pub concurrency: usize,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            poll: StdDuration::from_millis(200),
            batch: 256,
            concurrency: 32,
        }
    }
}

/// The deadline timer.
#[derive(Debug, Clone)]
pub struct Timer {
    tickets: Arc<Tickets>,
    policies: Arc<PolicyBook>,
    clock: Arc<dyn Clock>,
    alerts: Alerts,
    metrics: TimerMetrics,
    config: TimerConfig,
    actor: ActorId,
}

/// What happened to one deadline row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Its commands are recorded (or were already): delete the row.
    Done,
    /// The store could not be reached: keep the row and try again.
    Retry,
}

impl Timer {
    /// A timer acting through `tickets`, on `clock`.
    pub fn new(
        tickets: Arc<Tickets>,
        policies: Arc<PolicyBook>,
        clock: Arc<dyn Clock>,
        alerts: Alerts,
        metrics: TimerMetrics,
    ) -> Self {
        Self {
            tickets,
            policies,
            clock,
            alerts,
            metrics,
            config: TimerConfig::default(),
            actor: ActorId::parse("whistle-sla").expect("a valid actor id"),
        }
    }

    /// Polls with `config` instead of the default.
    pub fn with_config(mut self, config: TimerConfig) -> Self {
        self.config = config;
        self
    }

    /// Fires deadlines until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            let fired = match self.tick().await {
                Ok(fired) => fired,
                Err(error) => {
                    tracing::warn!(%error, "the deadline timer could not poll; trying again");
                    0
                }
            };
            // A full batch means more may be due: poll again at once.
            if fired < usize::try_from(self.config.batch).unwrap_or(usize::MAX) {
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(self.config.poll) => {}
                }
            } else if shutdown.is_cancelled() {
                return Ok(());
            }
        }
    }

    /// One poll: claims the rows due by now and acts on them. Returns how many rows were
    /// claimed.
    pub async fn tick(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let store = self.tickets.store();
        let due = store
            .claim_due(DEADLINES, &due_upto(now), self.config.batch)
            .await?;
        // One lane per ticket, in due order within it: a ticket's commands go one after
        // another (each would otherwise conflict with the last), different tickets' at
        // once, so that a batch costs about as long as its slowest ticket, not the sum.
        let mut done = Vec::new();
        let mut lanes: Vec<Vec<(String, DeadlineRow)>> = Vec::new();
        let mut lane_of: HashMap<TicketId, usize> = HashMap::new();
        for row in due.rows() {
            match serde_json::from_value::<DeadlineRow>(row.value.clone()) {
                Ok(deadline) => {
                    let lane = *lane_of.entry(deadline.ticket).or_insert_with(|| {
                        lanes.push(Vec::new());
                        lanes.len() - 1
                    });
                    lanes[lane].push((row.key.clone(), deadline));
                }
                Err(error) => {
                    // A row nobody can read would block nothing (later rows are still
                    // claimed) but would be retried forever: drop it, loudly. The
                    // projection writes it again from the log if it is still pending.
                    tracing::error!(key = %row.key, %error, "unreadable deadline row dropped");
                    done.push(row.key.clone());
                }
            }
        }
        let fired: Vec<Vec<String>> = futures::stream::iter(lanes)
            .map(|lane| async move {
                let mut done = Vec::with_capacity(lane.len());
                for (key, deadline) in lane {
                    if self.fire(&deadline).await == Outcome::Done {
                        done.push(key);
                    }
                }
                done
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        done.extend(fired.into_iter().flatten());
        let claimed = due.rows().len();
        due.finish(DEADLINES, &done).await?;
        Ok(claimed)
    }

    async fn fire(&self, row: &DeadlineRow) -> Outcome {
        let now = self.clock.now();
        let deadline = &row.deadline;
        let late = (now - deadline.at).as_seconds_f64().max(0.0);
        let label = ClockLabels {
            clock: deadline.clock.as_str(),
        };
        let metadata = EventMetadata {
            actor: Some(self.actor.clone()),
            ..EventMetadata::default()
        };
        if let Some(percent) = deadline.warning {
            // Past due, the breach says more than a warning.
            if now >= deadline.due_at {
                return Outcome::Done;
            }
            let command = TicketCommand::RecordWarning {
                clock: deadline.clock,
                department: deadline.department.clone(),
                percent,
                due_at: deadline.due_at,
                policy_version: row.policy_version.clone(),
            };
            let outcome = self.execute(row.ticket, command, &metadata).await;
            if outcome == Outcome::Done {
                self.metrics.lateness.observe(late);
                self.metrics.warnings.get_or_create(&label).inc();
            }
            return outcome;
        }
        let breach = TicketCommand::RecordBreach {
            clock: deadline.clock,
            department: deadline.department.clone(),
            due_at: deadline.due_at,
            policy_version: row.policy_version.clone(),
        };
        if self.execute(row.ticket, breach, &metadata).await == Outcome::Retry {
            return Outcome::Retry;
        }
        self.metrics.lateness.observe(late);
        self.metrics.breaches.get_or_create(&label).inc();
        let (escalation, action) = self.escalation(row);
        if let Some(command) = escalation
            && self.execute(row.ticket, command, &metadata).await == Outcome::Retry
        {
            return Outcome::Retry;
        }
        self.alerts.send(Alert {
            row: row.clone(),
            action,
        });
        Outcome::Done
    }

    fn escalation(&self, row: &DeadlineRow) -> (Option<TicketCommand>, String) {
        let deadline = &row.deadline;
        let level = |of: fn(&crate::policy::Policy) -> SupervisionLevel| {
            self.policies
                .version(&row.policy_version)
                .map(of)
                .unwrap_or(SupervisionLevel::District)
        };
        let reason = |text: &str| Text::reason(text).expect("a fixed, valid reason");
        match deadline.clock {
            SlaClock::Acknowledge => (
                Some(TicketCommand::CallUp {
                    reason: reason(
                        "社区未按时受理，自动呼叫街道 (not acknowledged in time: called up automatically)",
                    ),
                }),
                "called up to the street".to_owned(),
            ),
            SlaClock::ReportIn => {
                let level = level(|p| p.report_in_escalation);
                (
                    Some(TicketCommand::OpenSupervision {
                        level,
                        department: deadline.department.clone(),
                        reason: reason("部门未按时报到 (the department did not report in on time)"),
                    }),
                    format!("supervision opened at {} level", level_name(level)),
                )
            }
            SlaClock::Completion => {
                let level = level(|p| p.completion_escalation);
                (
                    Some(TicketCommand::OpenSupervision {
                        level,
                        department: None,
                        reason: reason("工单未按时办结 (the ticket was not completed on time)"),
                    }),
                    format!("supervision opened at {} level", level_name(level)),
                )
            }
        }
    }

    async fn execute(
        &self,
        ticket: TicketId,
        command: TicketCommand,
        metadata: &EventMetadata,
    ) -> Outcome {
        match self.tickets.execute(ticket, command, metadata).await {
            Ok(()) => Outcome::Done,
            Err(error @ CommandError::Conflict { .. }) => {
                tracing::warn!(%ticket, %error, "deadline not fired yet: the ticket is busy");
                Outcome::Retry
            }
            Err(CommandError::Unavailable(error) | CommandError::OutcomeUnknown(error)) => {
                tracing::warn!(%ticket, %error, "deadline not fired yet: the store is unreachable");
                Outcome::Retry
            }
            // The ticket moved on (answered, supervised already, closed): nothing to do.
            Err(CommandError::Rejected(
                TicketError::WrongStage { .. }
                | TicketError::AlreadySupervised
                | TicketError::Closed
                | TicketError::Merged { .. },
            )) => Outcome::Done,
            Err(error) => {
                tracing::error!(%ticket, %error, "a deadline's command was refused; the deadline is dropped");
                Outcome::Done
            }
        }
    }
}

fn level_name(level: SupervisionLevel) -> &'static str {
    match level {
        SupervisionLevel::Street => "street",
        SupervisionLevel::District => "district",
    }
}
