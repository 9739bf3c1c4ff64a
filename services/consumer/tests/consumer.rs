//! Consumers, fed from the log and from JetStream: every event applied once, in order,
//! with its read model; a failing event parked after a bounded number of attempts and
//! counted; a relay killed mid-batch changes nothing for them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use whistle_clock::SystemClock;
use whistle_consumer::{Consumer, ConsumerConfig, ConsumerMetrics, Feed, Handler, HandlerError};
use whistle_events::subjects::PublishedEvent;
use whistle_events::ticket::Received;
use whistle_events::{
    ActorId, Category, Channel, EventMetadata, Location, ReporterContact, Text, TicketId, Urgency,
};
use whistle_relay::{Relay, RelayConfig};
use whistle_store::test_support::{fresh_postgres_url, fresh_sqlite_path};
use whistle_store::{EventStore, Position, RowChange, StoreConfig};
use whistle_ticket::{TicketCommand as C, Tickets};

type Result<T = ()> = anyhow::Result<T>;

fn nats_url() -> String {
    std::env::var("WHISTLE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// Records every event it sees in a read model, and fails every time on `poison`'s.
struct Recorder {
    poison: TicketId,
    handled: Mutex<Vec<u64>>,
    committed: Mutex<Vec<u64>>,
}

#[async_trait]
impl Handler for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    fn wants(&self, event_type: &str) -> bool {
        event_type != "Acknowledged"
    }

    async fn handle(
        &self,
        event: &PublishedEvent,
    ) -> std::result::Result<Vec<RowChange>, HandlerError> {
        self.handled.lock().expect("lock").push(event.position);
        if event.stream_id == self.poison.to_string() {
            return Err(HandlerError::Failed(format!(
                "cannot handle {}",
                event.event_type
            )));
        }
        Ok(vec![RowChange::put(
            "recorded",
            format!("{:020}", event.position),
            serde_json::json!({ "type": event.event_type }),
        )])
    }

    async fn committed(&self, event: &PublishedEvent) {
        self.committed.lock().expect("lock").push(event.position);
    }
}

async fn store(postgres: bool) -> Result<EventStore> {
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
    let tickets = Tickets::new(
        EventStore::open(&config, Arc::new(SystemClock)).await?,
        Arc::new(SystemClock),
    );
    Ok(tickets.store().clone())
}

/// `n` tickets, each received and acknowledged; returns them.
async fn tickets(store: &EventStore, n: usize) -> Result<Vec<TicketId>> {
    let tickets = Tickets::new(store.clone(), Arc::new(SystemClock));
    let by = EventMetadata::by(ActorId::parse("hotline-12345")?);
    let mut ids = Vec::new();
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
                    description: Text::note("下水道堵塞")?,
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
    Ok(ids)
}

fn config(stream: &str, prefix: &str) -> ConsumerConfig {
    ConsumerConfig {
        max_attempts: 3,
        backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        lease_poll: Duration::from_millis(50),
        stream: stream.to_owned(),
        subject_prefix: prefix.to_owned(),
        batch: 16,
        ..ConsumerConfig::default()
    }
}

/// Waits until the consumer's checkpoint reaches the head of the log.
async fn caught_up(store: &EventStore) -> Result {
    let head = store.head().await?;
    for _ in 0..600 {
        if store.checkpoint("recorder").await? >= head {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the consumer never reached the head of the log ({head})")
}

/// What every consumer test checks once the consumer has caught up.
async fn check(
    store: &EventStore,
    recorder: &Recorder,
    metrics: &ConsumerMetrics,
    ids: &[TicketId],
) -> Result {
    let events = store.read_all(Position::START, 10_000).await?;
    let poison = ids[0].to_string();
    let wanted: Vec<u64> = events
        .iter()
        .filter(|e| e.event_type != "Acknowledged" && e.stream_id != poison)
        .map(|e| e.position.get())
        .collect();
    // Applied once each, in log order: the committed hook and the read model agree.
    let committed = recorder.committed.lock().expect("lock").clone();
    assert_eq!(
        committed, wanted,
        "every wanted event committed once, in order"
    );
    let rows = store.rows("recorded", "").await?;
    assert_eq!(rows.len(), wanted.len());
    assert_eq!(metrics.count("recorder", "applied"), wanted.len() as u64);
    // The poison ticket's Received was tried max_attempts times, then parked.
    let parked = store.parked_messages().await?;
    assert_eq!(parked.len(), 1, "{parked:#?}");
    assert_eq!(parked[0].consumer, "recorder");
    assert_eq!(parked[0].attempts, 3);
    assert!(
        parked[0].reason.contains("cannot handle Received"),
        "{}",
        parked[0].reason
    );
    assert_eq!(parked[0].message["stream_id"], poison);
    assert_eq!(metrics.count("recorder", "parked"), 1);
    let tried = recorder
        .handled
        .lock()
        .expect("lock")
        .iter()
        .filter(|p| **p == parked[0].position.get())
        .count();
    assert_eq!(
        tried, 3,
        "the poison event is tried exactly max_attempts times"
    );
    Ok(())
}

async fn from_the_log(postgres: bool) -> Result {
    let store = store(postgres).await?;
    let ids = tickets(&store, 20).await?;
    let recorder = Arc::new(Recorder {
        poison: ids[0],
        handled: Mutex::default(),
        committed: Mutex::default(),
    });
    let metrics = ConsumerMetrics::default();
    let shutdown = CancellationToken::new();
    let consumer = Consumer::new(
        store.clone(),
        recorder.clone(),
        config("-", "-"),
        metrics.clone(),
    );
    let task = tokio::spawn(consumer.run(Feed::Log, shutdown.clone()));
    caught_up(&store).await?;
    // Events appended while it runs are applied too.
    let more = tickets(&store, 3).await?;
    caught_up(&store).await?;
    shutdown.cancel();
    task.await??;
    let mut all = ids;
    all.extend(more);
    check(&store, &recorder, &metrics, &all).await?;

    // Started again from its checkpoint, it applies nothing twice.
    let shutdown = CancellationToken::new();
    let again = Consumer::new(
        store.clone(),
        recorder.clone(),
        config("-", "-"),
        metrics.clone(),
    );
    let task = tokio::spawn(again.run(Feed::Log, shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    task.await??;
    check(&store, &recorder, &metrics, &all).await
}

#[tokio::test]
async fn a_consumer_of_the_log_applies_each_event_once_and_parks_a_failing_one_on_sqlite() -> Result
{
    from_the_log(false).await
}

#[tokio::test]
async fn a_consumer_of_the_log_applies_each_event_once_and_parks_a_failing_one_on_postgres()
-> Result {
    from_the_log(true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jetstream_consumer_applies_each_event_once_while_the_relay_is_killed_mid_batch() -> Result
{
    let store = store(true).await?;
    let ids = tickets(&store, 60).await?;
    let client = async_nats::connect(nats_url()).await?;
    let token = uuid::Uuid::new_v4().simple().to_string();
    let relay_config = RelayConfig {
        stream: format!("TICKETS_{token}"),
        subject_prefix: format!("test{token}.tickets"),
        batch: 8,
        lease_poll: Duration::from_millis(50),
        retry_after: Duration::from_millis(100),
        ..RelayConfig::default()
    };
    let recorder = Arc::new(Recorder {
        poison: ids[0],
        handled: Mutex::default(),
        committed: Mutex::default(),
    });
    let metrics = ConsumerMetrics::default();
    let shutdown = CancellationToken::new();
    let consumer = Consumer::new(
        store.clone(),
        recorder.clone(),
        config(&relay_config.stream, &relay_config.subject_prefix),
        metrics.clone(),
    );
    let js = Box::new(async_nats::jetstream::new(client.clone()));
    let consuming = tokio::spawn(consumer.run(Feed::JetStream(js), shutdown.clone()));

    // The relay is killed several times, usually with a batch in flight.
    for round in 0..5u64 {
        let relay = tokio::spawn(
            Relay::new(store.clone(), client.clone(), relay_config.clone())
                .run(CancellationToken::new()),
        );
        tokio::time::sleep(Duration::from_millis(10 + round * 9)).await;
        relay.abort();
        let _ = relay.await;
    }
    let relay = tokio::spawn(
        Relay::new(store.clone(), client.clone(), relay_config.clone()).run(shutdown.clone()),
    );
    caught_up(&store).await?;
    shutdown.cancel();
    consuming.await??;
    relay.await??;
    check(&store, &recorder, &metrics, &ids).await?;

    // Every event is on the stream exactly once.
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js.get_stream(&relay_config.stream).await?;
    assert_eq!(
        stream.info().await?.state.messages,
        store.read_all(Position::START, 10_000).await?.len() as u64
    );
    js.delete_stream(&relay_config.stream).await?;
    Ok(())
}

/// Counts each ticket's events in one row, read back before every write.
struct Counter(EventStore);

#[async_trait]
impl Handler for Counter {
    fn name(&self) -> &str {
        "recorder"
    }

    fn wants(&self, _event_type: &str) -> bool {
        true
    }

    async fn handle(
        &self,
        event: &PublishedEvent,
    ) -> std::result::Result<Vec<RowChange>, HandlerError> {
        // Slow enough that tickets overlap within a batch.
        tokio::time::sleep(Duration::from_millis(1)).await;
        let seen: Option<u64> =
            whistle_consumer::read_row(&self.0, "counts", &event.stream_id).await?;
        Ok(vec![RowChange::put(
            "counts",
            event.stream_id.clone(),
            serde_json::json!(seen.unwrap_or(0) + 1),
        )])
    }
}

#[tokio::test]
async fn a_batch_reads_its_own_uncommitted_rows() -> Result {
    let store = store(false).await?;
    let ids = tickets(&store, 30).await?;
    let shutdown = CancellationToken::new();
    let consumer = Consumer::new(
        store.clone(),
        Arc::new(Counter(store.clone())),
        ConsumerConfig {
            batch: 256,
            ..config("-", "-")
        },
        ConsumerMetrics::default(),
    );
    let task = tokio::spawn(consumer.run(Feed::Log, shutdown.clone()));
    caught_up(&store).await?;
    shutdown.cancel();
    task.await??;
    for ticket in ids {
        let row = store
            .row("counts", &ticket.to_string())
            .await?
            .expect("a count");
        assert_eq!(
            row.value,
            serde_json::json!(2),
            "Received and Acknowledged, each counted once"
        );
    }
    Ok(())
}
