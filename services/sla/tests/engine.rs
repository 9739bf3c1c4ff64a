//! The SLA engine against real stores, on a mock clock: the projection schedules
//! deadlines, the timer fires them as commands on the ticket, restarts lose nothing, and
//! two timers never fire one deadline twice.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, FixedOffset, Utc};
use tokio_util::sync::CancellationToken;
use whistle_clock::{Clock, ManualClock};
use whistle_consumer::{Consumer, ConsumerConfig, ConsumerMetrics, Feed};
use whistle_events::ticket::{Received, SlaClock, SupervisionLevel};
use whistle_events::{
    ActorId, Category, Channel, DepartmentId, EventMetadata, Location, ReporterContact, Text,
    TicketEvent, TicketId, Urgency,
};
use whistle_sla::calendar::Calendar;
use whistle_sla::policy::PolicyBook;
use whistle_sla::projection::{DEADLINES, DeadlineRow, SlaProjection, TICKETS, ticket_record};
use whistle_sla::rebuild::{RebuildError, rebuild};
use whistle_sla::timer::{Alerts, Timer, TimerMetrics};
use whistle_store::test_support::{fresh_postgres_url, fresh_sqlite_path};
use whistle_store::{EventStore, StoreConfig};
use whistle_ticket::{TicketCommand as C, Tickets};

type Result<T = ()> = anyhow::Result<T>;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::<FixedOffset>::parse_from_rfc3339(text)
        .expect("a valid instant")
        .with_timezone(&Utc)
}

struct Engine {
    clock: ManualClock,
    tickets: Arc<Tickets>,
    policies: Arc<PolicyBook>,
    shutdown: CancellationToken,
    consumer: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Engine {
    async fn start(postgres: bool, now: DateTime<Utc>) -> Result<Self> {
        let config = if postgres {
            StoreConfig {
                database_url: Some(fresh_postgres_url().await?),
                ..StoreConfig::default()
            }
        } else {
            StoreConfig {
                sqlite_path: fresh_sqlite_path(),
                ..StoreConfig::default()
            }
        };
        let clock = ManualClock::new(now);
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let store = EventStore::open(&config, shared.clone()).await?;
        let tickets = Arc::new(Tickets::new(store, shared));
        let policies = Arc::new(PolicyBook::standard());
        let projection = SlaProjection::new(
            tickets.store().clone(),
            policies.clone(),
            Arc::new(Calendar::china()),
        );
        let consumer = Consumer::new(
            tickets.store().clone(),
            Arc::new(projection),
            ConsumerConfig {
                lease_poll: StdDuration::from_millis(50),
                ..ConsumerConfig::default()
            },
            ConsumerMetrics::default(),
        );
        let shutdown = CancellationToken::new();
        let consumer = tokio::spawn(consumer.run(Feed::Log, shutdown.clone()));
        Ok(Self {
            clock,
            tickets,
            policies,
            shutdown,
            consumer,
        })
    }

    fn timer(&self, alerts: &Alerts, metrics: &TimerMetrics) -> Timer {
        Timer::new(
            self.tickets.clone(),
            self.policies.clone(),
            Arc::new(self.clock.clone()),
            alerts.clone(),
            metrics.clone(),
        )
    }

    /// Waits until the projection has applied the whole log.
    async fn caught_up(&self) -> Result {
        let store = self.tickets.store();
        let head = store.head().await?;
        for _ in 0..600 {
            if store.checkpoint("sla").await? >= head {
                return Ok(());
            }
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
        anyhow::bail!("the sla projection never reached the head of the log ({head})")
    }

    async fn receive(&self, urgency: Urgency) -> Result<TicketId> {
        let ticket = TicketId::new_random();
        self.tickets
            .execute(
                ticket,
                C::Receive(Received {
                    channel: Channel::Hotline,
                    reporter: ReporterContact::default(),
                    sealed_reporter: None,
                    location: Location {
                        district: "haigang".parse()?,
                        street: "wenhualu".parse()?,
                        community: "hongqili".parse()?,
                        grid: None,
                        place: None,
                    },
                    category: Category::Drains,
                    urgency,
                    description: Text::note("楼道下水道堵塞，污水外溢")?,
                    source: None,
                }),
                &by("hotline-12345")?,
            )
            .await?;
        Ok(ticket)
    }

    /// The street dispatcher summons 住建 (zhujian) to `ticket`.
    async fn whistle(&self, ticket: TicketId, reason: &str) -> Result {
        let zhujian: DepartmentId = "zhujian".parse()?;
        self.tickets
            .execute(
                ticket,
                C::BlowWhistle {
                    departments: vec![zhujian.clone()],
                    lead: zhujian,
                    reason: Text::reason(reason)?,
                },
                &by("wenhualu-dispatcher")?,
            )
            .await?;
        Ok(())
    }

    async fn events(&self, ticket: TicketId) -> Result<Vec<TicketEvent>> {
        Ok(self
            .tickets
            .timeline(ticket)
            .await?
            .into_iter()
            .map(|entry| entry.event)
            .collect())
    }

    async fn deadlines(&self) -> Result<Vec<DeadlineRow>> {
        Ok(self
            .tickets
            .store()
            .rows(DEADLINES, "")
            .await?
            .into_iter()
            .map(|row| serde_json::from_value(row.value))
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn stop(self) -> Result {
        self.shutdown.cancel();
        self.consumer.await??;
        Ok(())
    }
}

fn by(actor: &str) -> Result<EventMetadata> {
    Ok(EventMetadata::by(ActorId::parse(actor)?))
}

fn count(events: &[TicketEvent], what: impl Fn(&TicketEvent) -> bool) -> usize {
    events.iter().filter(|e| what(e)).count()
}

async fn the_five_minute_rule_across_the_end_of_service_hours(postgres: bool) -> Result {
    // Tuesday 10 March 2026, a working day, two minutes before service hours end.
    let engine = Engine::start(postgres, at("2026-03-10T19:58:00+08:00")).await?;
    let alerts = Alerts::default();
    let mut told = alerts.subscribe();
    let metrics = TimerMetrics::unregistered();
    let timer = engine.timer(&alerts, &metrics);
    let ticket = engine.receive(Urgency::Minor).await?;
    engine.caught_up().await?;

    // Two minutes tonight, three tomorrow morning: due at 08:03. The warnings fall at
    // 50% (2.5 minutes: 08:00:30) and 75% (3.75 minutes: 08:01:45).
    let record = ticket_record(engine.tickets.store(), &ticket.to_string())
        .await?
        .expect("the projection holds the ticket");
    assert_eq!(record.policy_version, "2025.1");
    let acknowledge: Vec<_> = engine
        .deadlines()
        .await?
        .into_iter()
        .filter(|d| d.deadline.clock == SlaClock::Acknowledge)
        .map(|d| (d.deadline.warning, d.deadline.at))
        .collect();
    assert_eq!(
        acknowledge,
        vec![
            (Some(50), at("2026-03-11T08:00:30+08:00")),
            (Some(75), at("2026-03-11T08:01:45+08:00")),
            (None, at("2026-03-11T08:03:00+08:00")),
        ]
    );

    // Overnight nothing is due.
    engine.clock.set(at("2026-03-11T07:59:00+08:00"));
    assert_eq!(timer.tick().await?, 0);

    // 08:02: both warnings, not the breach.
    engine.clock.set(at("2026-03-11T08:02:00+08:00"));
    assert_eq!(timer.tick().await?, 2);
    let events = engine.events(ticket).await?;
    let warned: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            TicketEvent::SlaWarned(w) if w.clock == SlaClock::Acknowledge => Some(w.percent),
            _ => None,
        })
        .collect();
    assert_eq!(warned, vec![50, 75]);
    assert_eq!(
        count(&events, |e| matches!(e, TicketEvent::SlaBreached(_))),
        0
    );

    // 08:03:01: breached, called up to the street, the supervisor told.
    engine.clock.set(at("2026-03-11T08:03:01+08:00"));
    assert_eq!(timer.tick().await?, 1);
    let events = engine.events(ticket).await?;
    let breach = events
        .iter()
        .find_map(|e| match e {
            TicketEvent::SlaBreached(b) => Some(b.clone()),
            _ => None,
        })
        .expect("the breach is on the timeline");
    assert_eq!(breach.clock, SlaClock::Acknowledge);
    assert_eq!(breach.due_at, at("2026-03-11T08:03:00+08:00"));
    assert_eq!(breach.policy_version, "2025.1");
    assert_eq!(count(&events, |e| matches!(e, TicketEvent::CalledUp(_))), 1);
    let alert = told.try_recv().expect("the supervisor is told");
    assert_eq!(alert.row.ticket, ticket);
    assert_eq!(alert.action, "called up to the street");

    // Once the projection sees the breach, the acknowledge deadlines are gone.
    engine.caught_up().await?;
    assert!(
        engine
            .deadlines()
            .await?
            .iter()
            .all(|d| d.deadline.clock != SlaClock::Acknowledge)
    );
    engine.stop().await
}

#[tokio::test]
async fn the_five_minute_rule_across_the_end_of_service_hours_on_sqlite() -> Result {
    the_five_minute_rule_across_the_end_of_service_hours(false).await
}

#[tokio::test]
async fn the_five_minute_rule_across_the_end_of_service_hours_on_postgres() -> Result {
    the_five_minute_rule_across_the_end_of_service_hours(true).await
}

#[tokio::test]
async fn a_missed_report_in_opens_supervision_at_district_level() -> Result {
    let engine = Engine::start(true, at("2026-03-10T10:00:00+08:00")).await?;
    let alerts = Alerts::default();
    let metrics = TimerMetrics::unregistered();
    let timer = engine.timer(&alerts, &metrics);
    let ticket = engine.receive(Urgency::Urgent).await?;
    let zhujian: DepartmentId = "zhujian".parse()?;
    engine.whistle(ticket, "急事：楼道污水外溢").await?;
    engine.caught_up().await?;
    // 30 minutes after the whistle, elapsed time.
    engine.clock.set(at("2026-03-10T10:30:01+08:00"));
    timer.tick().await?;
    let events = engine.events(ticket).await?;
    assert!(events.iter().any(|e| matches!(
        e,
        TicketEvent::SlaBreached(b) if b.clock == SlaClock::ReportIn && b.department.as_ref() == Some(&zhujian)
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        TicketEvent::SupervisionOpened(s) if s.level == SupervisionLevel::District && s.department.as_ref() == Some(&zhujian)
    )));
    engine.stop().await
}

/// Receives `n` tickets during service hours and lets the projection schedule them.
async fn many(engine: &Engine, n: usize) -> Result<Vec<TicketId>> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(engine.receive(Urgency::Minor).await?);
    }
    engine.caught_up().await?;
    Ok(ids)
}

/// Every ticket has each acknowledge warning and breach exactly once, and one call-up.
async fn each_fired_once(engine: &Engine, ids: &[TicketId]) -> Result {
    for &ticket in ids {
        let events = engine.events(ticket).await?;
        for percent in [50, 75] {
            assert_eq!(
                count(
                    &events,
                    |e| matches!(e, TicketEvent::SlaWarned(w) if w.percent == percent)
                ),
                1,
                "ticket {ticket}: warning {percent}%"
            );
        }
        assert_eq!(
            count(&events, |e| matches!(e, TicketEvent::SlaBreached(_))),
            1,
            "ticket {ticket}: breach"
        );
        assert_eq!(
            count(&events, |e| matches!(e, TicketEvent::CalledUp(_))),
            1,
            "ticket {ticket}: call-up"
        );
    }
    Ok(())
}

#[tokio::test]
async fn two_timers_never_fire_one_deadline_twice() -> Result {
    let engine = Engine::start(true, at("2026-03-10T10:00:00+08:00")).await?;
    let ids = many(&engine, 24).await?;
    let alerts = Alerts::default();
    let first = TimerMetrics::unregistered();
    let second = TimerMetrics::unregistered();
    let (a, b) = (
        engine.timer(&alerts, &first),
        engine.timer(&alerts, &second),
    );
    // Past the warnings, before the breach: each timer fires what it claims.
    engine.clock.set(at("2026-03-10T10:04:00+08:00"));
    let (x, y) = tokio::join!(a.tick(), b.tick());
    let warnings_claimed = x? + y?;
    assert_eq!(
        warnings_claimed, 48,
        "two warnings per ticket, each claimed once"
    );
    engine.clock.set(at("2026-03-10T10:05:01+08:00"));
    for _ in 0..3 {
        let (x, y) = tokio::join!(a.tick(), b.tick());
        x?;
        y?;
    }
    engine.caught_up().await?;
    each_fired_once(&engine, &ids).await?;
    // The timers' own counts: one breach per ticket between the two of them.
    assert_eq!(first.breaches_fired() + second.breaches_fired(), 24);
    assert!(
        engine
            .deadlines()
            .await?
            .iter()
            .all(|d| d.deadline.clock != SlaClock::Acknowledge)
    );
    engine.stop().await
}

#[tokio::test]
async fn a_timer_killed_mid_batch_and_restarted_loses_nothing() -> Result {
    let engine = Engine::start(true, at("2026-03-10T10:00:00+08:00")).await?;
    let ids = many(&engine, 30).await?;
    let alerts = Alerts::default();
    let metrics = TimerMetrics::unregistered();
    // Past the warnings, then past the breaches.
    for now in ["2026-03-10T10:04:00+08:00", "2026-03-10T10:05:01+08:00"] {
        engine.clock.set(at(now));
        // Killed again and again, at different points of its work.
        for run in 0..6_u64 {
            let shutdown = CancellationToken::new();
            let task = tokio::spawn(engine.timer(&alerts, &metrics).run(shutdown));
            tokio::time::sleep(StdDuration::from_millis(3 + run * 7)).await;
            task.abort();
            let _ = task.await;
        }
        // Then one that runs until nothing is due.
        let timer = engine.timer(&alerts, &metrics);
        for _ in 0..20 {
            engine.caught_up().await?;
            if timer.tick().await? == 0 {
                break;
            }
        }
    }
    engine.caught_up().await?;
    each_fired_once(&engine, &ids).await?;
    assert!(
        engine
            .deadlines()
            .await?
            .iter()
            .all(|d| d.deadline.clock != SlaClock::Acknowledge),
        "no acknowledge deadline left behind"
    );
    engine.stop().await
}

#[tokio::test]
async fn a_board_as_of_a_past_instant_matches_the_board_shown_then() -> Result {
    let engine = Engine::start(true, at("2026-03-10T09:00:00+08:00")).await?;
    let alerts = Alerts::default();
    let metrics = TimerMetrics::unregistered();
    let timer = engine.timer(&alerts, &metrics);
    let policies = PolicyBook::standard();
    let calendar = Calendar::china();
    let weights = whistle_sla::stats::RankingBook::standard();
    let rules = whistle_sla::views::Rules {
        policies: &policies,
        calendar: &calendar,
        weights: &weights,
    };
    let by_community = by("hongqili-li")?;
    let zhujian: DepartmentId = "zhujian".parse()?;

    // A morning: some tickets answered in time, one late, one whistled.
    let answered = engine.receive(Urgency::Minor).await?;
    let late = engine.receive(Urgency::Minor).await?;
    let whistled = engine.receive(Urgency::Urgent).await?;
    engine.clock.set(at("2026-03-10T09:03:00+08:00"));
    engine
        .tickets
        .execute(
            answered,
            C::Acknowledge {
                reply: Text::note("已受理")?,
            },
            &by_community,
        )
        .await?;
    engine.whistle(whistled, "急事").await?;
    engine.clock.set(at("2026-03-10T09:06:00+08:00"));
    engine.caught_up().await?;
    timer.tick().await?;
    engine.caught_up().await?;

    // The board as a supervisor saw it at 09:06.
    let shown_at = engine.clock.now();
    let shown = whistle_sla::views::official_board(
        &whistle_sla::views::current_facts(engine.tickets.store()).await?,
        rules,
        shown_at,
    )?;

    // The day goes on: the late one answered, a report-in, new tickets, more breaches.
    engine.clock.set(at("2026-03-10T09:20:00+08:00"));
    engine
        .tickets
        .execute(
            late,
            C::Acknowledge {
                reply: Text::note("已受理")?,
            },
            &by_community,
        )
        .await
        .ok();
    engine
        .tickets
        .execute(
            whistled,
            C::ReportIn {
                department: zhujian.clone(),
                liaison: "zhujian-wang".parse()?,
            },
            &by("zhujian-wang")?,
        )
        .await?;
    engine.receive(Urgency::Minor).await?;
    engine.clock.set(at("2026-03-10T12:00:00+08:00"));
    engine.caught_up().await?;
    timer.tick().await?;
    engine.caught_up().await?;
    let now = whistle_sla::views::official_board(
        &whistle_sla::views::current_facts(engine.tickets.store()).await?,
        rules,
        engine.clock.now(),
    )?;
    assert_ne!(now, shown, "the day changed the board");

    // Rebuilt from the log as of 09:06, the board is the one shown then.
    let mut reported = Vec::new();
    let rebuilt = whistle_sla::views::facts_as_of(engine.tickets.store(), shown_at, &mut |p| {
        reported.push(p)
    })
    .await?;
    let as_of = whistle_sla::views::official_board(&rebuilt, rules, shown_at)?;
    assert_eq!(as_of, shown);
    assert!(!reported.is_empty(), "the rebuild reports its progress");
    engine.stop().await
}

/// Every row of the SLA read models, by table and key.
async fn sla_rows(store: &EventStore) -> Result<Vec<(&'static str, String, serde_json::Value)>> {
    let mut rows = Vec::new();
    for table in [TICKETS, DEADLINES] {
        for row in store.rows(table, "").await? {
            rows.push((table, row.key, row.value));
        }
    }
    Ok(rows)
}

/// `rows` are `expected`; the first difference is named.
fn same_rows(
    rows: &[(&'static str, String, serde_json::Value)],
    expected: &[(&'static str, String, serde_json::Value)],
) {
    let keys = |rows: &[(&str, String, serde_json::Value)]| -> Vec<String> {
        rows.iter().map(|(t, k, _)| format!("{t}/{k}")).collect()
    };
    assert_eq!(keys(rows), keys(expected), "the same rows");
    for (row, want) in rows.iter().zip(expected) {
        assert_eq!(row.2, want.2, "row {}/{}", row.0, row.1);
    }
}

/// Tickets at every stage of their lives, with the timer's warnings, breaches and call-ups
/// among their events.
async fn a_busy_morning(engine: &Engine) -> Result<Vec<TicketId>> {
    let timer = engine.timer(&Alerts::default(), &TimerMetrics::unregistered());
    let zhujian: DepartmentId = "zhujian".parse()?;
    let mut ids = Vec::new();
    for n in 0..9 {
        let urgency = if n % 3 == 0 {
            Urgency::Urgent
        } else {
            Urgency::Minor
        };
        ids.push(engine.receive(urgency).await?);
    }
    engine.clock.set(at("2026-03-10T09:03:00+08:00"));
    for &ticket in &ids[..7] {
        engine
            .tickets
            .execute(
                ticket,
                C::Acknowledge {
                    reply: Text::note("已受理")?,
                },
                &by("hongqili-li")?,
            )
            .await?;
    }
    for &ticket in &ids[..4] {
        engine
            .tickets
            .execute(
                ticket,
                C::CallUp {
                    reason: Text::reason("需要部门处置")?,
                },
                &by("hongqili-li")?,
            )
            .await?;
        engine.whistle(ticket, "急事").await?;
    }
    for &ticket in &ids[..2] {
        engine
            .tickets
            .execute(
                ticket,
                C::ReportIn {
                    department: zhujian.clone(),
                    liaison: "zhujian-wang".parse()?,
                },
                &by("zhujian-wang")?,
            )
            .await?;
    }
    // The last two are never acknowledged: warned, breached and called up; then the
    // report-in of two whistles falls due as well.
    for now in ["2026-03-10T09:06:00+08:00", "2026-03-10T09:40:00+08:00"] {
        engine.clock.set(at(now));
        engine.caught_up().await?;
        while timer.tick().await? > 0 {
            engine.caught_up().await?;
        }
    }
    engine.caught_up().await?;
    Ok(ids)
}

async fn a_rebuild_leaves_the_rows_the_consumer_leaves(postgres: bool) -> Result {
    let engine = Engine::start(postgres, at("2026-03-10T09:00:00+08:00")).await?;
    let ids = a_busy_morning(&engine).await?;
    let store = engine.tickets.store().clone();
    let kept = sla_rows(&store).await?;
    assert_eq!(
        kept.iter().filter(|(table, ..)| *table == TICKETS).count(),
        ids.len()
    );
    assert!(kept.iter().any(|(table, ..)| *table == DEADLINES));
    let projection = SlaProjection::new(
        store.clone(),
        engine.policies.clone(),
        Arc::new(Calendar::china()),
    );

    // While the consumer runs, a rebuild is refused and changes nothing.
    let refused = rebuild(&store, &projection, &mut |_| {}).await;
    assert!(matches!(refused, Err(RebuildError::Running)), "{refused:?}");
    engine.stop().await?;

    let mut reported = Vec::new();
    let rebuilt = rebuild(&store, &projection, &mut |p| reported.push(p)).await?;
    let head = store.head().await?;
    assert_eq!(rebuilt.position, head);
    assert_eq!(store.checkpoint("sla").await?, head);
    assert_eq!(rebuilt.tickets, ids.len());
    assert_eq!(rebuilt.orphans, 0);
    assert_eq!(reported.last().map(|p| p.position), Some(head.get()));
    // The same rows, key for key and value for value.
    same_rows(&sla_rows(&store).await?, &kept);
    assert_eq!(
        rebuilt.deadlines,
        kept.iter()
            .filter(|(table, ..)| *table == DEADLINES)
            .count()
    );

    // A consumer that ran past the rebuild's position is not moved back.
    store
        .save_checkpoint("sla", whistle_store::Position::new(head.get() + 1_000))
        .await?;
    let overtaken = rebuild(&store, &projection, &mut |_| {}).await;
    assert!(
        matches!(
            overtaken,
            Err(RebuildError::Store(
                whistle_store::StoreError::Overtaken { .. }
            ))
        ),
        "{overtaken:?}"
    );
    same_rows(&sla_rows(&store).await?, &kept);
    store
        .save_checkpoint("sla", whistle_store::Position::new(head.get()))
        .await?;

    // Under a policy book whose version was edited since the tickets were timed, no ticket
    // can be timed: the rebuild names them and replaces nothing.
    let edited = PolicyBook::from_toml(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../deploy/config/sla-policy.toml"),
        )?
        .replace("within = \"5m\"", "within = \"10m\""),
    )?;
    let strict = SlaProjection::new(store.clone(), Arc::new(edited), Arc::new(Calendar::china()));
    match rebuild(&store, &strict, &mut |_| {}).await {
        Err(RebuildError::Untimed(untimed)) => {
            assert_eq!(untimed.len(), ids.len(), "{untimed:?}");
            assert!(untimed[0].1.contains("edited"), "{}", untimed[0].1);
        }
        other => panic!("expected the untimed tickets, got {other:?}"),
    }
    same_rows(&sla_rows(&store).await?, &kept);
    Ok(())
}

#[tokio::test]
async fn a_rebuild_leaves_the_rows_the_consumer_leaves_on_sqlite() -> Result {
    a_rebuild_leaves_the_rows_the_consumer_leaves(false).await
}

#[tokio::test]
async fn a_rebuild_leaves_the_rows_the_consumer_leaves_on_postgres() -> Result {
    a_rebuild_leaves_the_rows_the_consumer_leaves(true).await
}
