//! The dispatch-latency benchmark.
//!
//! **Ours**: `whistle serve` runs on PostgreSQL and NATS JetStream (relay, street and
//! department consumers). Tickets already received and acknowledged at 红旗里 are called
//! up at a steady rate; for each, the latency runs from the call-up's commit to the notice
//! that 住建's queue holds the summons (sent once the department consumer has committed the
//! row). On the way: the relay publishes the call-up, the street consumer routes it and
//! commits the whistle, the relay publishes that, the department consumer commits the
//! queue row.
//!
//! **Baselines**, at the same rate and count, in the same run: one PostgreSQL commit (a
//! single-row insert) and one JetStream publish with a message id, to its ack.
//!
//! The figures are p50 and p99 in milliseconds, and ours as a multiple of each baseline.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::{self, stream};
use clap::Args;
use futures::StreamExt as _;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use tokio_util::sync::CancellationToken;
use whistle::StoreArgs;
use whistle::serve::{ServeArgs, start};
use whistle_events::ticket::Received;
use whistle_events::{
    ActorId, Category, Channel, EventMetadata, Location, ReporterContact, Text, TicketId, Urgency,
};
use whistle_store::EventStore;
use whistle_ticket::{TicketCommand as C, Tickets};

/// Options of the dispatch-latency benchmark.
#[derive(Debug, Args)]
pub struct DispatchArgs {
    /// A short run (under a minute).
    #[arg(long)]
    quick: bool,
    /// Call-ups per second.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// The PostgreSQL server (a fresh database is created on it for each run).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// The NATS server.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
}

pub async fn run(args: DispatchArgs) -> anyhow::Result<()> {
    let seconds = if args.quick { 4 } else { 20 };
    let count = usize::try_from(args.rate)? * seconds;
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let name = format!("whistle_bench_dispatch_{}", uuid::Uuid::new_v4().simple());
    let url = crate::db::create(&args.database_url, &name).await?;
    let outcome = measure(&args, &url, count, interval).await;
    crate::db::drop(&args.database_url, &name).await;
    let (ours, commit, ack) = outcome?;
    let (ours, commit, ack) = (percentiles(ours), percentiles(commit), percentiles(ack));
    println!(
        "benchmark dispatch-latency: {count} call-ups at {} per second",
        args.rate
    );
    for (what, (p50, p99)) in [
        ("call-up commit → summons in the queue", ours),
        ("PostgreSQL commit (baseline)", commit),
        ("JetStream publish → ack (baseline)", ack),
    ] {
        println!("  {what:<40} p50 {p50:>8.2} ms   p99 {p99:>8.2} ms");
    }
    println!(
        "ratio (ours / baseline): p50 {:.1}× a commit, {:.1}× a publish-ack; p99 {:.1}× a commit, {:.1}× a publish-ack",
        ours.0 / commit.0,
        ours.0 / ack.0,
        ours.1 / commit.1,
        ours.1 / ack.1
    );
    let round = |v: f64| (v * 100.0).round() / 100.0;
    println!(
        "{}",
        json!({
            "name": "dispatch-latency",
            "rate": args.rate,
            "call_ups": count,
            "ours_p50_ms": round(ours.0),
            "ours_p99_ms": round(ours.1),
            "postgres_commit_p50_ms": round(commit.0),
            "postgres_commit_p99_ms": round(commit.1),
            "jetstream_ack_p50_ms": round(ack.0),
            "jetstream_ack_p99_ms": round(ack.1),
            "ratio_p50_to_commit": round(ours.0 / commit.0),
            "ratio_p99_to_commit": round(ours.1 / commit.1),
            "ratio_p50_to_ack": round(ours.0 / ack.0),
            "ratio_p99_to_ack": round(ours.1 / ack.1),
        })
    );
    Ok(())
}

/// p50 and p99 of `values`.
fn percentiles(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if values.is_empty() {
            return 0.0;
        }
        let index = ((values.len() - 1) as f64 * q).round() as usize;
        values[index.min(values.len() - 1)]
    };
    (at(0.50), at(0.99))
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

type Latencies = (Vec<f64>, Vec<f64>, Vec<f64>);

async fn measure(
    args: &DispatchArgs,
    url: &str,
    count: usize,
    interval: Duration,
) -> anyhow::Result<Latencies> {
    let namespace = format!("bench{}", uuid::Uuid::new_v4().simple());
    let store_args = StoreArgs {
        database_url: Some(url.to_owned()),
        sqlite: std::env::temp_dir().join("unused.db"),
    };
    let shutdown = CancellationToken::new();
    let running = start(
        &store_args,
        &ServeArgs {
            listen: "127.0.0.1:0".parse()?,
            nats_url: Some(args.nats_url.clone()),
            demo: false,
            catalogue: None,
            nats_namespace: Some(namespace.clone()),
            sla_policy: None,
            calendar: None,
            keys: Default::default(),
            intake_burst: 10,
            intake_per_minute: 6,
            web_dir: None,
        },
        shutdown.clone(),
    )
    .await?;
    // Commands go through the service's own executor, as the HTTP API's will.
    let tickets = running.tickets();
    let ids = prepare(&tickets, count).await?;
    caught_up(tickets.store()).await?;

    let client = async_nats::connect(&args.nats_url)
        .await
        .with_context(|| format!("connecting to NATS at {}", args.nats_url))?;
    let ours = call_ups(&tickets, &client, &namespace, &ids, interval).await;
    let commit = postgres_commits(url, count, interval).await;
    let ack = publish_acks(&client, &namespace, count, interval).await;
    shutdown.cancel();
    running.wait().await?;
    Ok((ours?, commit?, ack?))
}

/// `count` tickets at 红旗里 (drains: the catalogue summons 住建 and 环卫), received and
/// acknowledged.
async fn prepare(tickets: &Arc<Tickets>, count: usize) -> anyhow::Result<Vec<TicketId>> {
    let started = Instant::now();
    let by = EventMetadata::by(ActorId::parse("hotline-12345")?);
    let mut ids = Vec::with_capacity(count);
    let mut tasks = Vec::new();
    for chunk in 0..16 {
        let tickets = tickets.clone();
        let by = by.clone();
        let n = count / 16 + usize::from(chunk < count % 16);
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                let t = TicketId::new_random();
                tickets
                    .execute(
                        t,
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
                            urgency: Urgency::Major,
                            description: Text::note("雨水井堵塞")?,
                            source: None,
                        }),
                        &by,
                    )
                    .await?;
                tickets
                    .execute(
                        t,
                        C::Acknowledge {
                            reply: Text::note("已受理")?,
                        },
                        &by,
                    )
                    .await?;
                ids.push(t);
            }
            anyhow::Ok(ids)
        }));
    }
    for task in tasks {
        ids.extend(task.await??);
    }
    println!(
        "  prepared {count} acknowledged tickets in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ids)
}

/// Waits until the department consumer has reached the head of the log.
async fn caught_up(store: &EventStore) -> anyhow::Result<()> {
    let head = store.head().await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while store.checkpoint("department").await? < head {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the department consumer did not catch up within 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Calls every ticket up at the rate; each latency runs from the call-up's commit to 住建's
/// notice.
async fn call_ups(
    tickets: &Arc<Tickets>,
    client: &async_nats::Client,
    namespace: &str,
    ids: &[TicketId],
    interval: Duration,
) -> anyhow::Result<Vec<f64>> {
    let mut notices = client
        .subscribe(format!("{namespace}.departments.zhujian.summons"))
        .await?;
    client.flush().await?;
    let committed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let noticed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let expected = ids.len();
    let listener = {
        let noticed = noticed.clone();
        tokio::spawn(async move {
            while let Some(message) = notices.next().await {
                let at = Instant::now();
                let Ok(notice) = serde_json::from_slice::<serde_json::Value>(&message.payload)
                else {
                    continue;
                };
                if notice["kind"] == "summoned"
                    && let Some(ticket) = notice["ticket"].as_str()
                {
                    let mut noticed = noticed.lock().unwrap_or_else(|e| e.into_inner());
                    noticed.entry(ticket.to_owned()).or_insert(at);
                    if noticed.len() == expected {
                        return;
                    }
                }
            }
        })
    };
    let by = EventMetadata::by(ActorId::parse("hongqili-zhang")?);
    let reason = Text::note("需住建、环卫处理")?;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(ids.len());
    for &ticket in ids {
        ticker.tick().await;
        let (tickets, by, reason, committed) = (
            tickets.clone(),
            by.clone(),
            reason.clone(),
            committed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            tickets
                .execute(ticket, C::CallUp { reason }, &by)
                .await
                .with_context(|| format!("calling up {ticket}"))?;
            committed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(ticket.to_string(), Instant::now());
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    if tokio::time::timeout(Duration::from_secs(120), listener)
        .await
        .is_err()
    {
        let seen = noticed.lock().unwrap_or_else(|e| e.into_inner()).len();
        let queued = whistle_department::queue(tickets.store(), &"zhujian".parse()?)
            .await?
            .len();
        let parked = tickets.store().parked_messages().await?;
        let mut whistles = 0;
        let mut after = whistle_store::Position::START;
        loop {
            let page = tickets.store().read_all(after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = last.position;
            whistles += page
                .iter()
                .filter(|e| e.event_type == "WhistleBlown")
                .count();
        }
        anyhow::bail!(
            "only {seen} of {expected} summons notices arrived within 2 minutes ({queued} rows in 住建's queue, {whistles} whistles in the log, {} parked: {:?}; department checkpoint {}, head {})",
            parked.len(),
            parked.first().map(|p| (&p.consumer, &p.reason)),
            tickets.store().checkpoint("department").await?,
            tickets.store().head().await?,
        );
    }
    let committed = committed.lock().unwrap_or_else(|e| e.into_inner());
    let noticed = noticed.lock().unwrap_or_else(|e| e.into_inner());
    Ok(committed
        .iter()
        .filter_map(|(ticket, at)| noticed.get(ticket).map(|n| millis(n.duration_since(*at))))
        .collect())
}

/// One single-row insert per tick, each its own commit.
async fn postgres_commits(url: &str, count: usize, interval: Duration) -> anyhow::Result<Vec<f64>> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect_with(PgConnectOptions::from_str(url)?)
        .await?;
    sqlx::query("CREATE TABLE bench_commits (id bigserial PRIMARY KEY, payload jsonb NOT NULL)")
        .execute(&pool)
        .await?;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        ticker.tick().await;
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            sqlx::query("INSERT INTO bench_commits (payload) VALUES ($1)")
                .bind(json!({ "CalledUp": { "street": "wenhualu", "reason": "需住建、环卫处理", "n": i } }))
                .execute(&pool)
                .await?;
            anyhow::Ok(millis(started.elapsed()))
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for task in tasks {
        latencies.push(task.await??);
    }
    Ok(latencies)
}

/// One publish with a message id per tick, each awaited to its ack.
async fn publish_acks(
    client: &async_nats::Client,
    namespace: &str,
    count: usize,
    interval: Duration,
) -> anyhow::Result<Vec<f64>> {
    let js = jetstream::new(client.clone());
    let name = format!("BENCH_{namespace}");
    js.create_stream(stream::Config {
        name: name.clone(),
        subjects: vec![format!("{namespace}.bench.>")],
        ..Default::default()
    })
    .await?;
    let body = bytes::Bytes::from(vec![b'x'; 600]);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        ticker.tick().await;
        let (js, body) = (js.clone(), body.clone());
        let subject = format!("{namespace}.bench.wenhualu.CalledUp");
        tasks.push(tokio::spawn(async move {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", uuid::Uuid::new_v4().to_string().as_str());
            let started = Instant::now();
            js.publish_with_headers(subject, headers, body)
                .await?
                .await?;
            anyhow::Ok(millis(started.elapsed()))
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for task in tasks {
        latencies.push(task.await??);
    }
    let _ = js.delete_stream(&name).await;
    Ok(latencies)
}
