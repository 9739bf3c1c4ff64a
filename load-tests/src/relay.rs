//! The relay benchmark.
//!
//! **Ours**: the relay publishes a log of `events` ticket events (tickets of 10 events each)
//! from PostgreSQL to a fresh JetStream stream, from its first position to the last ack.
//! The figure is events per second.
//!
//! **Baseline**: the same number of messages, of the same size, published to a fresh stream
//! straight from memory, pipelined in batches of the relay's size with the relay's window
//! (four batches in flight), each with a `Nats-Msg-Id` and an `Event-Type`. Nothing is read
//! from a database.
//!
//! Rounds alternate baseline and ours; each round uses a stream (and, for the relay, a
//! checkpoint and a lease) of its own. The medians are compared.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use clap::Args;
use whistle_events::EventId;
use whistle_events::subjects::headers;
use whistle_relay::{Relay, RelayConfig};
use whistle_store::{EventStore, NewEvent};

/// Options of the relay benchmark.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// A short run (under a minute).
    #[arg(long)]
    quick: bool,
    /// The PostgreSQL database (created if missing). Point it at a scratch database: the
    /// benchmark writes a fresh log there each run.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/whistle_bench_relay"
    )]
    database_url: String,
    /// The NATS server.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
}

const EVENTS_PER_TICKET: usize = 10;

pub async fn run(args: RelayArgs) -> anyhow::Result<()> {
    let (rounds, events) = if args.quick { (2, 10_000) } else { (5, 50_000) };
    let batch = RelayConfig::default().batch;
    // A fresh database each run, so the relay reads exactly this run's log.
    let database = format!("whistle_bench_relay_{}", uuid::Uuid::new_v4().simple());
    let url = crate::db::create(&args.database_url, &database).await?;
    let store = crate::db::open_store(&url).await?;
    write_log(&store, events).await?;
    let body_size = sample_body_size(&store).await?;
    let client = async_nats::connect(&args.nats_url)
        .await
        .with_context(|| format!("connecting to NATS at {}", args.nats_url))?;
    println!(
        "benchmark relay: {events} events, batches of {batch}, {rounds} rounds each side, alternating"
    );
    let mut ours = Vec::new();
    let mut base = Vec::new();
    for round in 1..=rounds {
        let cpu = ProcessCpu::now();
        let b = raw_publish(&client, events, batch, body_size).await?;
        println!(
            "  round {round}: baseline {b:>9.1} messages/s{}",
            cpu.per_message(events)
        );
        let cpu = ProcessCpu::now();
        let o = relay_round(&store, &client, events).await?;
        println!(
            "  round {round}: ours     {o:>9.1} events/s{}",
            cpu.per_message(events)
        );
        base.push(b);
        ours.push(o);
    }
    drop(store);
    crate::db::drop(&args.database_url, &database).await;
    crate::report::print(
        "relay",
        ("events/s", "messages/s"),
        ours,
        base,
        serde_json::json!({"unit": "messages per second", "events": events, "rounds": rounds}),
    );
    Ok(())
}

/// CPU time this process used (all its threads, user and system), from `/proc/self/stat`;
/// where there is no such file, nothing is printed. The relay and the baseline run in this
/// process, the database and the NATS server outside it.
pub(crate) struct ProcessCpu(Option<Duration>);

impl ProcessCpu {
    pub(crate) fn now() -> Self {
        Self(process_cpu())
    }

    /// The CPU time used since, where it can be read.
    pub(crate) fn used(&self) -> Option<Duration> {
        Some(process_cpu()?.saturating_sub(self.0?))
    }

    /// `, <n> µs CPU per message in this process`, or nothing when not measured.
    fn per_message(&self, messages: usize) -> String {
        match (self.0, process_cpu()) {
            (Some(before), Some(after)) if messages > 0 => format!(
                ", {:.1} µs CPU per message in this process",
                after.saturating_sub(before).as_secs_f64() * 1e6 / messages as f64
            ),
            _ => String::new(),
        }
    }
}

fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): state is the first, utime the
    // 12th and stime the 13th; both in clock ticks (USER_HZ, 100 on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Tickets of ten events: a `Received` (the relay reads the location from it) and nine
/// progress notes, written many tickets at a time.
async fn write_log(store: &EventStore, events: usize) -> anyhow::Result<()> {
    let tickets = events / EVENTS_PER_TICKET;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in (chunk..tickets).step_by(8) {
                let mut batch = vec![new_event(
                    "Received",
                    serde_json::json!({"Received": {
                        "channel": "hotline",
                        "location": {"district": "haigang", "street": if n % 2 == 0 { "wenhualu" } else { "tongjiang" }, "community": "hongqili"},
                        "category": "drains", "urgency": "major",
                        "description": "楼前下水道堵塞，污水漫到路面"
                    }}),
                )];
                for _ in 1..EVENTS_PER_TICKET {
                    batch.push(new_event(
                        "ProgressNoted",
                        serde_json::json!({"ProgressNoted": {
                            "department": "zhujian", "liaison": "zhujian-wang",
                            "note": "已到现场，调用疏通车作业，预计两小时内完成主管网疏通", "on_site": true
                        }}),
                    ));
                }
                store.append("Ticket", &uuid::Uuid::new_v4().to_string(), 0, batch).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    println!(
        "wrote {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn new_event(event_type: &str, payload: serde_json::Value) -> NewEvent {
    NewEvent {
        event_id: EventId::new(),
        event_type: event_type.to_owned(),
        event_version: "1.0.0".to_owned(),
        payload,
        metadata: HashMap::from([("actor".to_owned(), "bench".to_owned())]),
    }
}

/// The size of the body the relay publishes for a typical event. The relay embeds the payload
/// as stored, which may differ from its compact serialization (events migrated from `jsonb`
/// have a space after each `:` and `,`).
async fn sample_body_size(store: &EventStore) -> anyhow::Result<usize> {
    let events = store
        .read_all_raw(whistle_store::Position::START, 2)
        .await?;
    let event = events.last().context("the log is empty")?;
    let payload = event.payload_value()?;
    let compact = serde_json::to_vec(&serde_json::json!({
        "position": event.position.get(), "event_id": event.event_id, "stream_type": event.stream_type,
        "stream_id": event.stream_id, "stream_version": event.stream_version, "event_type": event.event_type,
        "event_version": event.event_version, "recorded_at": event.recorded_at, "metadata": event.metadata,
        "payload": payload,
    }))?
    .len();
    Ok(compact - payload.to_string().len() + event.payload.get().len())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

async fn fresh_stream(
    client: &async_nats::Client,
    name: &str,
    subjects: String,
) -> anyhow::Result<stream::Stream> {
    Ok(jetstream::new(client.clone())
        .create_stream(stream::Config {
            name: name.to_owned(),
            subjects: vec![subjects],
            duplicate_window: Duration::from_secs(120),
            storage: stream::StorageType::File,
            ..stream::Config::default()
        })
        .await?)
}

async fn raw_publish(
    client: &async_nats::Client,
    events: usize,
    batch: usize,
    body_size: usize,
) -> anyhow::Result<f64> {
    let name = unique("BENCH_RAW_");
    let prefix = unique("benchraw");
    fresh_stream(client, &name, format!("{prefix}.>")).await?;
    let js = jetstream::new(client.clone());
    let body = bytes::Bytes::from(vec![b'x'; body_size]);
    let started = Instant::now();
    let mut sent = 0;
    // The same window as the relay: up to four batches in flight.
    let mut in_flight = std::collections::VecDeque::new();
    while sent < events {
        let mut acks = Vec::with_capacity(batch);
        for _ in 0..batch.min(events - sent) {
            let mut map = HeaderMap::new();
            map.insert(headers::MSG_ID, EventId::new().to_string().as_str());
            map.insert(headers::EVENT_TYPE, "ProgressNoted");
            acks.push(
                js.publish_with_headers(
                    format!("{prefix}.haigang.wenhualu.ProgressNoted"),
                    map,
                    body.clone(),
                )
                .await?,
            );
            sent += 1;
        }
        in_flight.push_back(acks);
        while in_flight.len() > 4 {
            for ack in in_flight.pop_front().unwrap_or_default() {
                ack.await?;
            }
        }
    }
    for acks in in_flight {
        for ack in acks {
            ack.await?;
        }
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    let _ = js.delete_stream(&name).await;
    Ok(rate)
}

async fn relay_round(
    store: &EventStore,
    client: &async_nats::Client,
    events: usize,
) -> anyhow::Result<f64> {
    let name = unique("BENCH_RELAY_");
    let config = RelayConfig {
        stream: name.clone(),
        subject_prefix: unique("benchrelay"),
        name: unique("bench-relay-"),
        ..RelayConfig::default()
    };
    let mut stream = fresh_stream(client, &name, format!("{}.>", config.subject_prefix)).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let relay =
        tokio::spawn(Relay::new(store.clone(), client.clone(), config).run(shutdown.clone()));
    let deadline = started + Duration::from_secs(600);
    loop {
        let published = stream.info().await?.state.messages;
        if published as usize >= events {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the relay published {published} of {events} in 600 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    shutdown.cancel();
    relay.await??;
    let _ = jetstream::new(client.clone()).delete_stream(&name).await;
    Ok(rate)
}
