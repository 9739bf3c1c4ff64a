//! The replay benchmark.
//!
//! **Ours**: rebuilding the SLA engine's read models from the log as `whistle sla rebuild`
//! does ([`whistle_sla::rebuild::rebuild`]): the log folded in memory into every ticket's
//! final facts, each ticket timed once, `sla_tickets`, `sla_deadlines` and the consumer's
//! checkpoint replaced in one transaction; then the statistics board computed from the
//! rebuilt facts ([`views::official_board`]). The figure is events per second over both.
//!
//! Printed beside, not part of the ratio: in round 1, the real consumer replaying the same
//! log from position 0 on the same copy, exactly as `whistle serve` runs it in the embedded
//! default (how the read model is built without a rebuild of its own); and in each round
//! the board as of the log's last instant, folded in memory as `whistle sla board --as-of`
//! does (`views::facts_as_of`), which writes no read model.
//!
//! **Baseline**: one sequential read of the events table in the same database: a single
//! query over every row in position order, every column fetched (payload and metadata as
//! their stored text, not parsed). The figure is rows per second.
//!
//! The log is written once, before the rounds, through the real executor (`Tickets`) on a
//! manual clock that walks through three weeks of March 2026, so tickets arrive day and
//! night, are acknowledged (some late, with the timer's warnings, breach and call-up),
//! handled locally or called up and whistled to departments that report in, note progress,
//! finish, and are resolved, rated, closed or reopened; some are still open.
//!
//! Rounds alternate baseline and ours; the medians are compared.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use clap::Args;
use futures::{StreamExt as _, TryStreamExt as _};
use sqlx::ConnectOptions;
use sqlx::Row as _;
use sqlx::postgres::PgConnectOptions;
use tokio_util::sync::CancellationToken;
use whistle_clock::{Clock, ManualClock};
use whistle_consumer::{Consumer, ConsumerConfig, ConsumerMetrics, Feed, Handler, HandlerError};
use whistle_events::subjects::PublishedEvent;
use whistle_events::ticket::{CloseReason, Received, SlaClock};
use whistle_events::{
    ActorId, Category, Channel, DepartmentId, EventMetadata, LiaisonId, Location, ReporterContact,
    Score, Text, TicketId, Urgency,
};
use whistle_sla::calendar::Calendar;
use whistle_sla::policy::PolicyBook;
use whistle_sla::projection::{DEADLINES, SlaProjection, TICKETS};
use whistle_sla::stats::RankingBook;
use whistle_sla::views::{self, Rules};
use whistle_store::{EventStore, RowChange, StoreConfig};
use whistle_ticket::{TicketCodec, TicketCommand as C, Tickets};

use crate::demo::{DEPARTMENTS, PLACES, text};
use crate::relay::ProcessCpu;

/// Options of the replay benchmark.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A short run (under a minute).
    #[arg(long)]
    quick: bool,
    /// The PostgreSQL server; the benchmark makes fresh databases of its own there (the log,
    /// and a copy of it per round) and drops them at the end.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
}

/// Tickets in flight while the log is written.
const WRITERS: usize = 32;
/// The log is written in steps of this many minutes of the manual clock: every command due
/// in a step is recorded at the step's instant.
const STEP_MINUTES: i64 = 10;
/// Days over which tickets arrive.
const DAYS: u32 = 21;

pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let (rounds, tickets) = if args.quick { (2, 2_500) } else { (3, 12_500) };
    let template = format!("whistle_bench_replay_{}", uuid::Uuid::new_v4().simple());
    let outcome = measure(&args.database_url, &template, rounds, tickets).await;
    for round in 1..=rounds {
        crate::db::drop(&args.database_url, &format!("{template}_r{round}")).await;
    }
    crate::db::drop(&args.database_url, &template).await;
    outcome
}

/// Writes the log into the database `template`, leaves its SLA read model as a reset
/// would, then measures each round in a fresh copy of it.
async fn measure(server: &str, template: &str, rounds: usize, tickets: u32) -> anyhow::Result<()> {
    let url = crate::db::create(server, template).await?;
    // Monday 2 March 2026, 00:00 in Beijing.
    let start = FixedOffset::east_opt(8 * 3600)
        .and_then(|tz| tz.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).single())
        .context("the start of the log")?
        .with_timezone(&Utc);
    let clock = ManualClock::new(start);
    let manual: Arc<dyn Clock> = Arc::new(clock.clone());
    let writer = Arc::new(Tickets::new(
        EventStore::open(
            &StoreConfig {
                database_url: Some(url.clone()),
                max_connections: WRITERS as u32,
                ..StoreConfig::default()
            },
            manual.clone(),
        )
        .await?,
        manual,
    ));
    let end = write_log(&writer, &clock, start, tickets).await?;
    drop(writer);

    let policies = Arc::new(PolicyBook::standard());
    let calendar = Arc::new(Calendar::china());
    let weights = RankingBook::standard();
    let rules = Rules {
        policies: &policies,
        calendar: &calendar,
        weights: &weights,
    };
    let mut conn = PgConnectOptions::from_str(&url)?.connect().await?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut conn)
        .await?;
    let events = u64::try_from(events)?;
    sqlx::query("VACUUM ANALYZE").execute(&mut conn).await?;
    // Build the SLA read model once and analyze it, then reset it as an operator would
    // (its rows deleted, its checkpoint gone), so that every round starts where a rebuild
    // in production starts: a read-model table the planner knows, holding the dead rows
    // of the reset. Where the statistics say the table is empty (vacuumed right after the
    // reset), PostgreSQL plans many of the projection's row reads as sequential scans and
    // keeps those plans as the table grows; autovacuum's next analyze corrects that, but a
    // server may run without autovacuum (see docs/benchmarks.md).
    let rebuilt = catch_up(&open(&url).await?, &policies, &calendar, rules, end).await?;
    println!(
        "first build of the SLA read model, on a table analyzed while empty: {:.1} events/s (not in the ratio)",
        events as f64 / (rebuilt.projection + rebuilt.board).as_secs_f64()
    );
    sqlx::query("ANALYZE projection_rows")
        .execute(&mut conn)
        .await?;
    reset(&mut conn).await?;
    drop(conn);

    println!(
        "benchmark replay: {events} events of {tickets} tickets, {rounds} rounds each side, alternating, each round on a fresh copy of the database"
    );
    let mut ours = Vec::new();
    let mut base = Vec::new();
    let mut as_of = Vec::new();
    let mut consumer = Vec::new();
    for round in 1..=rounds {
        let name = format!("{template}_r{round}");
        let url = crate::db::copy(server, template, &name).await?;
        let mut conn = PgConnectOptions::from_str(&url)?.connect().await?;
        let store = open(&url).await?;
        let b = raw_read(&mut conn, events).await?;
        println!("  round {round}: baseline {b:>9.1} rows/s");
        let rebuilt = rebuild_once(&store, &policies, &calendar, rules, end).await?;
        let o = events as f64 / (rebuilt.rebuild + rebuilt.board).as_secs_f64();
        println!(
            "  round {round}: ours     {o:>9.1} events/s (rebuild {:.2} s: {} tickets, {} deadlines; board {:.2} s; {} µs CPU per event in this process)",
            rebuilt.rebuild.as_secs_f64(),
            rebuilt.tickets,
            rebuilt.deadlines,
            rebuilt.board.as_secs_f64(),
            rebuilt.cpu.map_or_else(
                || "?".to_owned(),
                |cpu| format!("{:.0}", cpu.as_secs_f64() * 1e6 / events as f64)
            ),
        );
        if round == 1 {
            // The consumer replaying the same log event by event, on the same copy: what
            // a read model without a rebuild of its own costs (not in the ratio).
            reset(&mut conn).await?;
            let caught_up = catch_up(&store, &policies, &calendar, rules, end).await?;
            let c = events as f64 / (caught_up.projection + caught_up.board).as_secs_f64();
            println!(
                "  round {round}: the consumer from position 0 instead: {c:>9.1} events/s (projection {:.2} s, of which handling events {:.2} s; {:.2} row changes per event; {} µs CPU per event in this process; not in the ratio)",
                caught_up.projection.as_secs_f64(),
                caught_up.handling.as_secs_f64(),
                caught_up.changes as f64 / events as f64,
                caught_up.cpu.map_or_else(
                    || "?".to_owned(),
                    |cpu| format!("{:.0}", cpu.as_secs_f64() * 1e6 / events as f64)
                ),
            );
            anyhow::ensure!(
                caught_up.tickets == rebuilt.tickets,
                "the consumer's board counts {} tickets, the rebuild's {}",
                caught_up.tickets,
                rebuilt.tickets
            );
            consumer.push(c);
        }
        let started = Instant::now();
        let facts = views::facts_as_of(&store, end, &mut |_| {}).await?;
        let board = views::official_board(&facts, rules, end)?;
        let a = events as f64 / started.elapsed().as_secs_f64();
        anyhow::ensure!(
            board.totals.tickets == rebuilt.tickets,
            "the board as of the end counts {} tickets, the rebuilt one {}",
            board.totals.tickets,
            rebuilt.tickets
        );
        println!("  round {round}: as-of board in memory {a:>9.1} events/s (not in the ratio)");
        base.push(b);
        ours.push(o);
        as_of.push(a);
        drop(store);
        drop(conn);
        crate::db::drop(server, &name).await;
    }
    crate::report::print(
        "replay",
        ("events/s", "rows/s"),
        ours,
        base,
        serde_json::json!({
            "unit": "events per second",
            "as_of_board_events_per_s": (crate::report::median(&mut as_of) * 10.0).round() / 10.0,
            "consumer_events_per_s": (crate::report::median(&mut consumer) * 10.0).round() / 10.0,
            "events": events,
            "tickets": tickets,
            "rounds": rounds,
        }),
    );
    Ok(())
}

/// The store at `url` with the ticket codec registered, as `whistle serve` reads it.
async fn open(url: &str) -> anyhow::Result<EventStore> {
    Ok(TicketCodec::register(crate::db::open_store(url).await?))
}

/// A reproducible stream of pseudo-random numbers for one ticket (splitmix64).
struct Dice(u64);

impl Dice {
    fn new(seed: u32) -> Self {
        Self(u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % (high - low).max(1) as u64) as i64
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A ticket's commands, each with the minutes after receipt it is executed at.
type Plan = Vec<(i64, C)>;

/// Ticket `n`'s life: when it is received, and its plan.
fn life(n: u32, start: DateTime<Utc>, tickets: u32) -> anyhow::Result<(DateTime<Utc>, Plan)> {
    let mut dice = Dice::new(n);
    // Arrivals spread evenly over the days, night and day (the hotline never closes).
    let minutes = i64::from(DAYS) * 24 * 60;
    let received_at =
        start + chrono::Duration::minutes(i64::from(n) * minutes / i64::from(tickets.max(1)));
    let (district, street, community) = PLACES[(dice.next() % 5) as usize];
    let category = Category::ALL[(dice.next() % 12) as usize];
    let urgency = match dice.next() % 20 {
        0 => Urgency::Urgent,
        1..=3 => Urgency::Important,
        4..=8 => Urgency::Major,
        _ => Urgency::Minor,
    };
    let mut plan = vec![(
        0,
        C::Receive(Received {
            channel: if dice.chance(70) {
                Channel::Hotline
            } else {
                Channel::Online
            },
            reporter: ReporterContact {
                name: Some("张女士".into()),
                phone: Some("13800001234".into()),
                address: None,
            },
            sealed_reporter: None,
            location: Location {
                district: district.parse()?,
                street: street.parse()?,
                community: community.parse()?,
                grid: Some(format!("{community}-03").parse()?),
                place: Some("5号楼".into()),
            },
            category,
            urgency,
            description: text("楼前下水道堵塞，污水漫到路面")?,
            source: None,
        }),
    )];
    let path = dice.next() % 100;
    // Still waiting for the community.
    if path >= 95 {
        return Ok((received_at, plan));
    }
    let mut at;
    if path < 8 {
        // Not acknowledged in time: the timer warns at 50% and 75%, records the breach and
        // calls the ticket up to the street (times as the timer would record them).
        let due_at = received_at + chrono::Duration::minutes(5);
        let policy_version = "2025.1".to_owned();
        for (minute, percent) in [(2, 50), (3, 75)] {
            plan.push((
                minute,
                C::RecordWarning {
                    clock: SlaClock::Acknowledge,
                    department: None,
                    percent,
                    due_at,
                    policy_version: policy_version.clone(),
                },
            ));
        }
        plan.push((
            5,
            C::RecordBreach {
                clock: SlaClock::Acknowledge,
                department: None,
                due_at,
                policy_version,
            },
        ));
        plan.push((
            5,
            C::CallUp {
                reason: Text::reason("社区未按时受理，自动呼叫街道")?,
            },
        ));
        at = 5;
    } else {
        at = dice.between(1, 5);
        plan.push((
            at,
            C::Acknowledge {
                reply: text("已受理，社区网格员马上到现场查看")?,
            },
        ));
        if path >= 90 {
            return Ok((received_at, plan));
        }
        if path < 45 {
            // The community handles it itself.
            at += dice.between(5, 60);
            plan.push((
                at,
                C::HandleLocally {
                    plan: text("社区组织物业清掏")?,
                },
            ));
            at += dice.between(60, 2_000);
            plan.push((
                at,
                C::Resolve {
                    summary: text("已清掏，恢复通畅")?,
                },
            ));
            rate(&mut plan, &mut dice, at)?;
            return Ok((received_at, plan));
        }
        at += dice.between(10, 90);
        plan.push((
            at,
            C::CallUp {
                reason: text("市政主管网堵塞，社区无法疏通")?,
            },
        ));
    }
    // The street whistles one or two departments.
    let first = (dice.next() % 5) as usize;
    let mut departments: Vec<DepartmentId> = vec![DEPARTMENTS[first].parse()?];
    if dice.chance(30) {
        departments.push(DEPARTMENTS[(first + 1) % 5].parse()?);
    }
    at += dice.between(5, 60);
    plan.push((
        at,
        C::BlowWhistle {
            departments: departments.clone(),
            lead: departments[0].clone(),
            reason: text("需要部门处置")?,
        },
    ));
    let whistled = at;
    let mut last = at;
    let mut finished = 0;
    for department in &departments {
        let liaison: LiaisonId = format!("{department}-wang").parse()?;
        // Most report in within the 30 minutes; some are late.
        let latest = if dice.chance(85) { 30 } else { 120 };
        let mut t = whistled + dice.between(2, latest);
        if departments.len() > 1 && dice.chance(10) {
            plan.push((
                t,
                C::Decline {
                    department: department.clone(),
                    liaison,
                    reason: text("非本部门职责")?,
                },
            ));
            last = last.max(t);
            continue;
        }
        plan.push((
            t,
            C::ReportIn {
                department: department.clone(),
                liaison: liaison.clone(),
            },
        ));
        if path >= 85 {
            // Still at work.
            last = last.max(t);
            continue;
        }
        t += dice.between(30, 600);
        plan.push((
            t,
            C::NoteProgress {
                department: department.clone(),
                liaison: liaison.clone(),
                note: text("已到现场，调用疏通车作业，预计两小时内完成")?,
                on_site: true,
            },
        ));
        t += dice.between(30, 6_000);
        plan.push((
            t,
            C::Finish {
                department: department.clone(),
                liaison,
                fixed: true,
                outcome: text("主管网已疏通")?,
            },
        ));
        finished += 1;
        last = last.max(t);
    }
    if path >= 85 || finished == 0 {
        return Ok((received_at, plan));
    }
    at = last + dice.between(10, 240);
    plan.push((
        at,
        C::Resolve {
            summary: text("下水道已疏通，路面已清理")?,
        },
    ));
    rate(&mut plan, &mut dice, at)?;
    Ok((received_at, plan))
}

/// The resident's rating after `at`, then the close (or, unsatisfied, a reopen).
fn rate(plan: &mut Plan, dice: &mut Dice, at: i64) -> anyhow::Result<()> {
    if dice.chance(15) {
        return Ok(());
    }
    let at = at + dice.between(30, 1_440);
    let satisfied = dice.chance(85);
    let resolved = satisfied || dice.chance(50);
    plan.push((
        at,
        C::RecordFeedback {
            resolved,
            satisfied,
            score: Some(Score::parse(if satisfied { 5 } else { 2 })?),
            comment: None,
        },
    ));
    if resolved && satisfied {
        plan.push((
            at + 1,
            C::Close {
                reason: CloseReason::Feedback,
            },
        ));
    } else {
        plan.push((
            at + 1,
            C::Reopen {
                reason: Text::reason("问题未解决")?,
            },
        ));
    }
    Ok(())
}

/// Writes the log: every ticket's commands, through the executor, in steps of the manual
/// clock. Within a step the tickets run concurrently, each one's commands in order. Returns
/// the instant the clock ended at.
async fn write_log(
    tickets: &Arc<Tickets>,
    clock: &ManualClock,
    start: DateTime<Utc>,
    count: u32,
) -> anyhow::Result<DateTime<Utc>> {
    let started = Instant::now();
    // step -> ticket -> commands due in that step, in order.
    let mut steps: BTreeMap<i64, BTreeMap<u32, (TicketId, Vec<C>)>> = BTreeMap::new();
    let mut commands = 0_usize;
    for n in 0..count {
        let ticket = TicketId::new_random();
        let (received_at, plan) = life(n, start, count)?;
        let offset = (received_at - start).num_minutes();
        commands += plan.len();
        for (minute, command) in plan {
            let step = (offset + minute) / STEP_MINUTES;
            steps
                .entry(step)
                .or_default()
                .entry(n)
                .or_insert_with(|| (ticket, Vec::new()))
                .1
                .push(command);
        }
    }
    let metadata = EventMetadata::by(ActorId::parse("bench-replay")?);
    let mut end = start;
    for (step, due) in steps {
        end = start + chrono::Duration::minutes(step * STEP_MINUTES);
        clock.set(end);
        futures::stream::iter(due.into_values().map(|(ticket, commands)| {
            let (tickets, metadata) = (tickets.clone(), &metadata);
            async move {
                for command in commands {
                    tickets
                        .execute(ticket, command, metadata)
                        .await
                        .with_context(|| format!("writing the benchmark's log, ticket {ticket}"))?;
                }
                anyhow::Ok(())
            }
        }))
        .buffer_unordered(WRITERS)
        .try_collect::<Vec<()>>()
        .await?;
    }
    println!(
        "wrote {commands} commands of {count} tickets in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(end)
}

/// The baseline: every row of the events table in position order, in one query.
async fn raw_read(conn: &mut sqlx::PgConnection, expected: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut rows = sqlx::query(
        "SELECT position, event_id, stream_type, stream_id, stream_version, event_type, \
         event_version, payload::text, metadata::text, recorded_at \
         FROM events ORDER BY position",
    )
    .fetch(&mut *conn);
    let mut read = 0_u64;
    let mut bytes = 0_usize;
    while let Some(row) = rows.try_next().await? {
        let _position: i64 = row.try_get(0)?;
        let _event_id: uuid::Uuid = row.try_get(1)?;
        let stream_type: &str = row.try_get(2)?;
        let stream_id: &str = row.try_get(3)?;
        let _version: i64 = row.try_get(4)?;
        let event_type: &str = row.try_get(5)?;
        let event_version: &str = row.try_get(6)?;
        let payload: &str = row.try_get(7)?;
        let metadata: &str = row.try_get(8)?;
        let _recorded_at: DateTime<Utc> = row.try_get(9)?;
        bytes += stream_type.len()
            + stream_id.len()
            + event_type.len()
            + event_version.len()
            + payload.len()
            + metadata.len();
        read += 1;
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(
        read == expected && bytes > 0,
        "read {read} of {expected} events"
    );
    Ok(read as f64 / elapsed.as_secs_f64())
}

/// Forgets the SLA projection: its rows and its checkpoint, so it starts from position 0.
async fn reset(conn: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM projection_rows WHERE projection = $1 OR projection = $2")
        .bind(TICKETS)
        .bind(DEADLINES)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM checkpoints WHERE name = 'sla'")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

struct Rebuilt {
    /// From the consumer's start to its checkpoint at the head of the log.
    projection: Duration,
    /// Reading the rebuilt facts and computing the board.
    board: Duration,
    /// CPU this process used for the projection.
    cpu: Option<Duration>,
    /// Read-model rows the projection wrote or deleted.
    changes: u64,
    /// Wall time during which the projection was handling events.
    handling: Duration,
    tickets: u64,
}

/// The SLA projection, counting the row changes it hands the consumer and the wall time
/// during which at least one event is being handled (reading the ticket's row, timing its
/// clocks); the rest of the rebuild is the consumer reading the log and committing rows.
/// A lock and an atomic add per event; everything else is the projection's own.
struct Counted {
    projection: SlaProjection,
    changes: AtomicU64,
    handling: Mutex<Handling>,
}

#[derive(Default)]
struct Handling {
    in_flight: usize,
    since: Option<Instant>,
    total: Duration,
}

impl Counted {
    fn enter(&self) {
        let mut h = self.handling.lock().unwrap_or_else(PoisonError::into_inner);
        if h.in_flight == 0 {
            h.since = Some(Instant::now());
        }
        h.in_flight += 1;
    }

    fn leave(&self) {
        let mut h = self.handling.lock().unwrap_or_else(PoisonError::into_inner);
        h.in_flight -= 1;
        if h.in_flight == 0
            && let Some(since) = h.since.take()
        {
            h.total += since.elapsed();
        }
    }
}

#[async_trait::async_trait]
impl Handler for Counted {
    fn name(&self) -> &str {
        self.projection.name()
    }

    fn wants(&self, event_type: &str) -> bool {
        self.projection.wants(event_type)
    }

    async fn handle(&self, event: &PublishedEvent) -> Result<Vec<RowChange>, HandlerError> {
        self.enter();
        let changes = self.projection.handle(event).await;
        self.leave();
        let changes = changes?;
        self.changes
            .fetch_add(changes.len() as u64, Ordering::Relaxed);
        Ok(changes)
    }

    async fn committed(&self, event: &PublishedEvent) {
        self.projection.committed(event).await;
    }
}

/// Ours: the SLA read models rebuilt from the log as `whistle sla rebuild` does, then
/// the board from the rebuilt facts.
async fn rebuild_once(
    store: &EventStore,
    policies: &Arc<PolicyBook>,
    calendar: &Arc<Calendar>,
    rules: Rules<'_>,
    at: DateTime<Utc>,
) -> anyhow::Result<Ours> {
    let projection = SlaProjection::new(store.clone(), policies.clone(), calendar.clone());
    let cpu = ProcessCpu::now();
    let started = Instant::now();
    let rebuilt = whistle_sla::rebuild::rebuild(store, &projection, &mut |_| {}).await?;
    let rebuild = started.elapsed();
    anyhow::ensure!(
        rebuilt.orphans == 0,
        "the rebuild found {} events of tickets never received",
        rebuilt.orphans
    );
    anyhow::ensure!(
        store.checkpoint(projection.name()).await? == store.head().await?,
        "the rebuild did not reach the head of the log"
    );
    let started = Instant::now();
    let board = views::official_board(&rebuilt.facts, rules, at)?;
    let board_time = started.elapsed();
    Ok(Ours {
        rebuild,
        board: board_time,
        cpu: cpu.used(),
        tickets: board.totals.tickets,
        deadlines: rebuilt.deadlines,
    })
}

struct Ours {
    /// Reading the log, folding it, timing every ticket and writing the read models.
    rebuild: Duration,
    /// Computing the board from the rebuilt facts.
    board: Duration,
    /// CPU this process used.
    cpu: Option<Duration>,
    tickets: u64,
    deadlines: usize,
}

/// The SLA projection rebuilt from the log by the real consumer, then the board: how the
/// read model is built without a rebuild of its own (not in the ratio).
async fn catch_up(
    store: &EventStore,
    policies: &Arc<PolicyBook>,
    calendar: &Arc<Calendar>,
    rules: Rules<'_>,
    at: DateTime<Utc>,
) -> anyhow::Result<Rebuilt> {
    let head = store.head().await?;
    let projection = Arc::new(Counted {
        projection: SlaProjection::new(store.clone(), policies.clone(), calendar.clone()),
        changes: AtomicU64::new(0),
        handling: Mutex::default(),
    });
    let name = projection.name().to_owned();
    let consumer = Consumer::new(
        store.clone(),
        projection.clone(),
        ConsumerConfig::default(),
        ConsumerMetrics::default(),
    );
    let shutdown = CancellationToken::new();
    let cpu = ProcessCpu::now();
    let started = Instant::now();
    let task = tokio::spawn(consumer.run(Feed::Log, shutdown.clone()));
    let deadline = started + Duration::from_secs(1_800);
    while store.checkpoint(&name).await? < head {
        anyhow::ensure!(
            Instant::now() < deadline && !task.is_finished(),
            "the SLA projection did not reach the head of the log"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let cpu = cpu.used();
    shutdown.cancel();
    task.await??;
    let parked = store.parked_messages().await?;
    anyhow::ensure!(
        parked.is_empty(),
        "the SLA projection parked {} events, e.g. {:?}",
        parked.len(),
        parked.first().map(|p| &p.reason)
    );

    let started = Instant::now();
    let facts = views::current_facts(store).await?;
    let board = views::official_board(&facts, rules, at)?;
    Ok(Rebuilt {
        projection: elapsed,
        board: started.elapsed(),
        cpu,
        changes: projection.changes.load(Ordering::Relaxed),
        handling: projection
            .handling
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total,
        tickets: board.totals.tickets,
    })
}
