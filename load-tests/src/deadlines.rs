//! The deadlines benchmark.
//!
//! `sla_deadlines` holds `pending` rows (a million; a tenth of that with `--quick`). Most
//! fall due long after the run (spread over the next 15 days, like completion clocks);
//! each round adds the rows of its window, `rate` per second (1,000) for `seconds`, due
//! from a few seconds ahead, so that the table holds `pending` rows when the window opens.
//! Each round's window rows are deleted by the time it ends.
//!
//! **Ours**: the real deadline timer (`whistle_sla::timer::Timer`, default configuration)
//! with an executor of its own whose cache is cold, as a timer process meets tickets last
//! touched minutes ago. Each window row belongs to a ticket of its own that really exists
//! (received before the rounds, not acknowledged), and the rows cycle through the
//! acknowledge clock's 50% warning, 75% warning, and breach; the timer records each as an
//! event, and escalates each breach by calling the ticket up (a second command). A row's
//! lateness is the `recorded_at` of its `SlaWarned` or `SlaBreached` event (taken when that
//! event's append starts, before its commit) minus the row's due instant, read back from
//! the log after the round.
//!
//! **Baseline**: a loop of the timer's own claim (`claim_due` on the same table: the rows
//! due by now, earliest first, locked for this worker, as many at a time as the timer)
//! that acts on nothing: it notes each claimed row's lateness as soon as the claim returns and deletes
//! the rows, and polls as the timer does (again at once after a full batch, otherwise
//! after 200 ms). Its lateness is what polling costs by itself; ours adds firing.
//!
//! `ours` and `baseline` are p99 lateness in milliseconds (the median of the rounds'), and
//! the ratio is ours over baseline: lower is better, unlike the other benchmarks.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Args;
use futures::{StreamExt as _, TryStreamExt as _};
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use tokio_util::sync::CancellationToken;
use whistle_clock::{Clock, SystemClock};
use whistle_events::ticket::{Received, SlaClock};
use whistle_events::{
    ActorId, Category, Channel, DepartmentId, EventMetadata, Location, ReporterContact, Text,
    TicketEvent, TicketId, Urgency,
};
use whistle_sla::clocks::Deadline;
use whistle_sla::policy::PolicyBook;
use whistle_sla::projection::{DEADLINES, DeadlineRow, deadline_key, due_upto, time_key};
use whistle_sla::timer::{Alerts, Timer, TimerConfig, TimerMetrics};
use whistle_store::EventStore;
use whistle_ticket::{TicketCommand as C, Tickets};

/// Options of the deadlines benchmark.
#[derive(Debug, Args)]
pub struct DeadlinesArgs {
    /// A short run (about a minute): 100,000 pending rows, windows of 5 s.
    #[arg(long)]
    quick: bool,
    /// Deadlines falling due per second during each window.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    /// Timer instances firing side by side (each with its executor; `whistle serve` runs
    /// one per process).
    #[arg(long, default_value_t = 1)]
    timers: usize,
    /// The PostgreSQL server; the benchmark makes a fresh database of its own there and
    /// drops it at the end.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
}

/// How long after its rows are written a window opens.
const LEAD: Duration = Duration::from_secs(3);
/// How long after a window closes its rows may still be fired before the round gives up.
/// A row not fired by then counts as late as the moment the round gave up.
const DRAIN: Duration = Duration::from_secs(180);
/// The policy version written on the rows (the shipped one).
const POLICY_VERSION: &str = "2025.1";

pub async fn run(args: DeadlinesArgs) -> anyhow::Result<()> {
    let database = format!("whistle_bench_deadlines_{}", uuid::Uuid::new_v4().simple());
    let url = crate::db::create(&args.database_url, &database).await?;
    let outcome = measure(&args, &url).await;
    crate::db::drop(&args.database_url, &database).await;
    outcome
}

async fn measure(args: &DeadlinesArgs, url: &str) -> anyhow::Result<()> {
    let (rounds, seconds, pending) = if args.quick {
        (2, 5, 100_000)
    } else {
        (3, 30, 1_000_000)
    };
    let rate = args.rate.max(1);
    let per_window = (rate * seconds) as usize;
    anyhow::ensure!(
        per_window < pending,
        "{rate}/s for {seconds} s is more than the {pending} pending rows"
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = crate::db::open_store(url).await?;
    let mut conn = PgConnectOptions::from_str(url)?.connect().await?;

    let tickets = receive_tickets(&store, &clock, rounds * per_window).await?;
    let started = Instant::now();
    let later = clock.now() + chrono::Duration::hours(1);
    let background: Vec<(String, DeadlineRow)> = (0..pending - per_window)
        .map(|n| background_row(n, later))
        .collect::<anyhow::Result<_>>()?;
    copy_rows(&mut conn, &background).await?;
    drop(background);
    sqlx::query("VACUUM ANALYZE projection_rows")
        .execute(&mut conn)
        .await?;
    println!(
        "wrote {} deadline rows due later in {:.1} s",
        pending - per_window,
        started.elapsed().as_secs_f64()
    );

    println!(
        "benchmark deadlines: {pending} pending, {rate} falling due per second for {seconds} s, {} timer(s), {rounds} rounds each side, alternating",
        args.timers.max(1)
    );
    let policies = Arc::new(PolicyBook::standard());
    let mut ours = (Vec::new(), Vec::new());
    let mut base = (Vec::new(), Vec::new());
    for (round, tickets) in tickets.chunks(per_window).enumerate() {
        let round = round + 1;
        let ghosts: Vec<TicketId> = (0..per_window).map(|_| TicketId::new_random()).collect();
        let window = Window::write(&mut conn, &clock, &ghosts, rate).await?;
        let fired = claim_loop(&store, &window, &mut conn).await?;
        let b = Percentiles::of(fired, &window);
        println!("  round {round}: baseline {b}");
        base.0.push(b.p50);
        base.1.push(b.p99);

        let window = Window::write(&mut conn, &clock, tickets, rate).await?;
        let lateness =
            timer_round(&store, &clock, &policies, args.timers, &window, &mut conn).await?;
        let o = Percentiles::of(lateness, &window);
        println!("  round {round}: ours     {o}");
        ours.0.push(o.p50);
        ours.1.push(o.p99);
    }
    drop(store);
    drop(conn);
    let (ours_p50, base_p50) = (
        crate::report::median(&mut ours.0),
        crate::report::median(&mut base.0),
    );
    println!("median p50: ours {ours_p50:.1} ms, baseline {base_p50:.1} ms");
    crate::report::print(
        "deadlines",
        ("ms p99 lateness", "ms p99 lateness"),
        ours.1,
        base.1,
        serde_json::json!({
            "unit": "milliseconds of lateness, p99 (lower is better)",
            "ours_p50_ms": (ours_p50 * 10.0).round() / 10.0,
            "baseline_p50_ms": (base_p50 * 10.0).round() / 10.0,
            "pending": pending,
            "rate": rate,
            "timers": args.timers.max(1),
            "seconds_per_round": seconds,
            "rounds": rounds,
        }),
    );
    Ok(())
}

/// `count` tickets received through the executor, none acknowledged: the timer's window
/// rows belong to them.
async fn receive_tickets(
    store: &EventStore,
    clock: &Arc<dyn Clock>,
    count: usize,
) -> anyhow::Result<Vec<TicketId>> {
    let started = Instant::now();
    let tickets = Arc::new(Tickets::new(store.clone(), clock.clone()));
    let metadata = EventMetadata::by(ActorId::parse("bench-deadlines")?);
    let received = Received {
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
        urgency: Urgency::Minor,
        description: Text::description("楼前下水道堵塞，污水漫到路面").context("benchmark text")?,
        source: None,
    };
    let ids: Vec<TicketId> = (0..count).map(|_| TicketId::new_random()).collect();
    futures::stream::iter(ids.iter().map(|&ticket| {
        let (tickets, metadata, received) = (tickets.clone(), &metadata, received.clone());
        async move {
            tickets
                .execute(ticket, C::Receive(received), metadata)
                .await
                .context("receiving a benchmark ticket")
        }
    }))
    .buffer_unordered(32)
    .try_collect::<Vec<()>>()
    .await?;
    println!(
        "received {count} tickets in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ids)
}

/// Background row `n`: a deadline of a ticket that does not exist, due within 15 days of
/// `from`. None of them falls due during the run.
fn background_row(n: usize, from: DateTime<Utc>) -> anyhow::Result<(String, DeadlineRow)> {
    const FIFTEEN_DAYS_MS: u64 = 15 * 24 * 3_600 * 1_000;
    let spread = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % FIFTEEN_DAYS_MS;
    let due_at = from + chrono::Duration::milliseconds(i64::try_from(spread)?);
    let (clock, department, warning, at) = match n % 10 {
        0 => (
            SlaClock::ReportIn,
            Some("zhujian".parse::<DepartmentId>()?),
            None,
            due_at,
        ),
        1..=3 => (
            SlaClock::Completion,
            None,
            Some(50),
            due_at - chrono::Duration::hours(12),
        ),
        4..=6 => (
            SlaClock::Completion,
            None,
            Some(75),
            due_at - chrono::Duration::hours(6),
        ),
        _ => (SlaClock::Completion, None, None, due_at),
    };
    row(
        TicketId::new_random(),
        Deadline {
            at: at.max(from),
            clock,
            department,
            warning,
            due_at,
        },
    )
}

/// The row of `deadline` on `ticket` (at 文化路街道), and its key.
fn row(ticket: TicketId, deadline: Deadline) -> anyhow::Result<(String, DeadlineRow)> {
    let key = deadline_key(&ticket, &deadline);
    let row = DeadlineRow {
        ticket,
        deadline,
        policy_version: POLICY_VERSION.to_owned(),
        district: "haigang".parse()?,
        street: "wenhualu".parse()?,
    };
    Ok((key, row))
}

/// Writes `rows` into `sla_deadlines` in bulk (`COPY`), as the projection would have put
/// them (the same keys and documents).
async fn copy_rows(
    conn: &mut sqlx::PgConnection,
    rows: &[(String, DeadlineRow)],
) -> anyhow::Result<()> {
    let updated_at = Utc::now().to_rfc3339();
    let mut copy = conn
        .copy_in_raw(
            "COPY projection_rows (projection, key, value, updated_at) FROM STDIN (FORMAT text)",
        )
        .await?;
    let mut buffer = String::with_capacity(1 << 20);
    for (key, row) in rows {
        // Text format: a backslash in a field is written twice. JSON from serde has no raw
        // tab or newline.
        let value = serde_json::to_string(row)?.replace('\\', "\\\\");
        buffer.push_str(DEADLINES);
        buffer.push('\t');
        buffer.push_str(key);
        buffer.push('\t');
        buffer.push_str(&value);
        buffer.push('\t');
        buffer.push_str(&updated_at);
        buffer.push('\n');
        if buffer.len() >= 1 << 20 {
            copy.send(std::mem::take(&mut buffer).into_bytes()).await?;
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.into_bytes()).await?;
    }
    copy.finish().await?;
    Ok(())
}

/// One round's window: a row per ticket, due one after another at `rate` per second.
struct Window {
    /// Each window ticket's row's due instant.
    due: HashMap<TicketId, DateTime<Utc>>,
    /// When the first row falls due.
    opens: DateTime<Utc>,
    /// The first and last keys of the window's rows.
    first: String,
    last: String,
    /// When the window closes.
    closes: DateTime<Utc>,
}

impl Window {
    /// Writes the window's rows: ticket `i` falls due `i / rate` seconds after the window
    /// opens, `LEAD` from now; its row is, in turn, the acknowledge clock's 50% warning, its
    /// 75% warning, or its breach.
    async fn write(
        conn: &mut sqlx::PgConnection,
        clock: &Arc<dyn Clock>,
        tickets: &[TicketId],
        rate: u32,
    ) -> anyhow::Result<Self> {
        let opens = clock.now() + chrono::Duration::from_std(LEAD)?;
        let mut due = HashMap::with_capacity(tickets.len());
        let rows: Vec<(String, DeadlineRow)> = tickets
            .iter()
            .enumerate()
            .map(|(i, &ticket)| {
                let at = opens
                    + chrono::Duration::microseconds(
                        i64::try_from(i)? * 1_000_000 / i64::from(rate),
                    );
                // A five-minute acknowledge clock: its warnings come 150 s and 75 s early.
                let (warning, due_at) = match i % 3 {
                    0 => (Some(50), at + chrono::Duration::seconds(150)),
                    1 => (Some(75), at + chrono::Duration::seconds(75)),
                    _ => (None, at),
                };
                due.insert(ticket, at);
                row(
                    ticket,
                    Deadline {
                        at,
                        clock: SlaClock::Acknowledge,
                        department: None,
                        warning,
                        due_at,
                    },
                )
            })
            .collect::<anyhow::Result<_>>()?;
        copy_rows(conn, &rows).await?;
        let closes = rows
            .iter()
            .map(|(_, r)| r.deadline.at)
            .max()
            .unwrap_or(opens);
        anyhow::ensure!(
            clock.now() < opens,
            "writing the window's rows took longer than {LEAD:?}; lower --rate"
        );
        let first = format!("{}/", time_key(opens));
        Ok(Self {
            due,
            opens,
            first,
            last: due_upto(closes),
            closes,
        })
    }

    /// How many of the window's rows are still in the table.
    async fn left(&self, conn: &mut sqlx::PgConnection) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM projection_rows WHERE projection = $1 AND key >= $2 AND key <= $3",
        )
        .bind(DEADLINES)
        .bind(&self.first)
        .bind(&self.last)
        .fetch_one(conn)
        .await?)
    }

    /// The lateness so far, in milliseconds, of each of the window's rows still in the
    /// table.
    async fn unfired(&self, conn: &mut sqlx::PgConnection) -> anyhow::Result<Vec<f64>> {
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT key FROM projection_rows WHERE projection = $1 AND key >= $2 AND key <= $3",
        )
        .bind(DEADLINES)
        .bind(&self.first)
        .bind(&self.last)
        .fetch_all(conn)
        .await?;
        let now = Utc::now();
        keys.iter()
            .map(|key| Ok(millis(now, due_of(key)?)))
            .collect()
    }

    /// Whether the round should give up waiting.
    fn given_up(&self) -> bool {
        Utc::now() > self.closes + chrono::Duration::from_std(DRAIN).unwrap_or_default()
    }
}

/// The due instant at the head of a deadline row's key (epoch milliseconds).
fn due_of(key: &str) -> anyhow::Result<DateTime<Utc>> {
    let ms: i64 = key.get(..13).unwrap_or_default().parse()?;
    DateTime::from_timestamp_millis(ms).with_context(|| format!("the key {key}"))
}

/// `later - earlier` in milliseconds.
fn millis(later: DateTime<Utc>, earlier: DateTime<Utc>) -> f64 {
    (later - earlier).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e3
}

/// A round's rows as fired.
struct Fired {
    /// Each fired row's lateness, in milliseconds.
    lateness: Vec<f64>,
    /// When the last row was fired.
    last: DateTime<Utc>,
    /// Rows not fired when the round gave up (their lateness, up to then, is in `lateness`).
    unfired: usize,
}

/// The baseline: the timer's claim, in the timer's polling loop, acting on nothing.
async fn claim_loop(
    store: &EventStore,
    window: &Window,
    conn: &mut sqlx::PgConnection,
) -> anyhow::Result<Fired> {
    let config = TimerConfig::default();
    let expected = window.due.len();
    let mut lateness = Vec::with_capacity(expected);
    let mut last = window.opens;
    while lateness.len() < expected && !window.given_up() {
        let due = store
            .claim_due(DEADLINES, &due_upto(Utc::now()), config.batch)
            .await?;
        let claimed_at = Utc::now();
        let mut keys = Vec::with_capacity(due.rows().len());
        for row in due.rows() {
            lateness.push(millis(claimed_at, due_of(&row.key)?));
            keys.push(row.key.clone());
            last = claimed_at;
        }
        due.finish(DEADLINES, &keys).await?;
        if keys.len() < usize::try_from(config.batch).unwrap_or(usize::MAX) {
            tokio::time::sleep(config.poll).await;
        }
    }
    let unfired = window.unfired(conn).await?;
    Ok(Fired {
        unfired: unfired.len(),
        lateness: lateness.into_iter().chain(unfired).collect(),
        last,
    })
}

/// Ours: the real timer fires the window; lateness from the events it recorded.
async fn timer_round(
    store: &EventStore,
    clock: &Arc<dyn Clock>,
    policies: &Arc<PolicyBook>,
    timers: usize,
    window: &Window,
    conn: &mut sqlx::PgConnection,
) -> anyhow::Result<Fired> {
    let before = store.head().await?;
    let shutdown = CancellationToken::new();
    let tasks: Vec<_> = (0..timers.max(1))
        .map(|_| {
            // An executor of its own: nothing of these tickets is cached.
            let tickets = Arc::new(Tickets::new(store.clone(), clock.clone()));
            let timer = Timer::new(
                tickets,
                policies.clone(),
                clock.clone(),
                Alerts::default(),
                TimerMetrics::unregistered(),
            );
            tokio::spawn(timer.run(shutdown.clone()))
        })
        .collect();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if (Utc::now() > window.closes && window.left(conn).await? == 0) || window.given_up() {
            break;
        }
    }
    shutdown.cancel();
    for task in tasks {
        task.await??;
    }
    let stopped = Utc::now();
    // Read back what the timer recorded.
    let mut lateness = Vec::with_capacity(window.due.len());
    let mut fired = std::collections::HashSet::with_capacity(window.due.len());
    let mut last_fired = window.opens;
    let head = store.head().await?;
    let mut after = before;
    while after < head {
        let page = store.read_all(after, 2_000).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in page {
            if event.event_type != "SlaWarned" && event.event_type != "SlaBreached" {
                continue;
            }
            let decoded =
                TicketEvent::decode(&event.event_type, &event.event_version, &event.payload)?;
            anyhow::ensure!(
                matches!(
                    decoded,
                    TicketEvent::SlaWarned(_) | TicketEvent::SlaBreached(_)
                ),
                "unexpected event {}",
                event.event_type
            );
            let ticket = TicketId::parse(&event.stream_id)?;
            let due = window
                .due
                .get(&ticket)
                .with_context(|| format!("an SLA event on ticket {ticket}, not of the window"))?;
            if fired.insert(ticket) {
                lateness.push(millis(event.recorded_at, *due));
                last_fired = last_fired.max(event.recorded_at);
            }
        }
    }
    // Rows the timer gave no event: still in the table, or dropped (a warning fired after
    // its clock's due instant is skipped). Counted as late as the round's end.
    let unfired: Vec<f64> = window
        .due
        .iter()
        .filter(|(ticket, _)| !fired.contains(*ticket))
        .map(|(_, due)| millis(stopped, *due))
        .collect();
    Ok(Fired {
        unfired: unfired.len(),
        lateness: lateness.into_iter().chain(unfired).collect(),
        last: last_fired,
    })
}

/// p50 and p99 of a round's lateness, nearest rank, in milliseconds, and the rate at
/// which rows were fired.
#[derive(Debug, Clone, Copy)]
struct Percentiles {
    p50: f64,
    p99: f64,
    max: f64,
    /// Rows fired per second, from the window's opening to the last one fired.
    rate: f64,
    unfired: usize,
}

impl Percentiles {
    fn of(fired: Fired, window: &Window) -> Self {
        let Fired {
            mut lateness,
            last,
            unfired,
        } = fired;
        let rate = (lateness.len() - unfired) as f64 / (millis(last, window.opens) / 1e3);
        lateness.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let n = lateness.len();
            if n == 0 {
                return f64::NAN;
            }
            let index = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            lateness[index]
        };
        Self {
            p50: rank(0.50),
            p99: rank(0.99),
            max: lateness.last().copied().unwrap_or(f64::NAN),
            rate,
            unfired,
        }
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lateness p50 {:>7.1} ms, p99 {:>7.1} ms, max {:>7.1} ms; fired {:>6.0} rows/s{}",
            self.p50,
            self.p99,
            self.max,
            self.rate,
            if self.unfired > 0 {
                format!(
                    "; {} rows not fired {DRAIN:?} after the window closed (counted as late as that)",
                    self.unfired
                )
            } else {
                String::new()
            }
        )
    }
}
