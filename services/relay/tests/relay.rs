//! The relay against the real NATS server (JetStream) and PostgreSQL. Each test has a
//! database, a stream and a subject prefix of its own.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use whistle_clock::SystemClock;
use whistle_events::subjects::{PublishedEvent, headers};
use whistle_events::ticket::Received;
use whistle_events::{
    ActorId, Category, Channel, EventMetadata, Location, ReporterContact, Text, TicketId, Urgency,
};
use whistle_relay::{Relay, RelayConfig, RelayState};
use whistle_store::test_support::fresh_postgres_url;
use whistle_store::{EventStore, Position, StoreConfig};
use whistle_ticket::{TicketCommand as C, Tickets};

type Result<T = ()> = anyhow::Result<T>;

fn nats_url() -> String {
    std::env::var("WHISTLE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

struct World {
    store: EventStore,
    tickets: Tickets,
    client: async_nats::Client,
    config: RelayConfig,
}

impl World {
    async fn new() -> Result<Self> {
        let store = EventStore::open(
            &StoreConfig {
                database_url: Some(fresh_postgres_url().await?),
                ..StoreConfig::default()
            },
            Arc::new(SystemClock),
        )
        .await?;
        let tickets = Tickets::new(store.clone(), Arc::new(SystemClock));
        let client = async_nats::connect(nats_url()).await?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let config = RelayConfig {
            stream: format!("TICKETS_{token}"),
            subject_prefix: format!("test{token}.tickets"),
            lease_poll: Duration::from_millis(50),
            retry_after: Duration::from_millis(100),
            ..RelayConfig::default()
        };
        Ok(Self {
            store: tickets.store().clone(),
            tickets,
            client,
            config,
        })
    }

    fn relay(&self, config: RelayConfig) -> Relay {
        Relay::new(self.store.clone(), self.client.clone(), config)
    }

    /// `n` tickets, alternately in two streets, each received, acknowledged and called up.
    async fn tickets(&self, n: usize) -> Result<()> {
        for i in 0..n {
            let (street, community) = if i % 2 == 0 {
                ("wenhualu", "hongqili")
            } else {
                ("tongjiang", "niuerqiao")
            };
            let t = TicketId::new_random();
            let by = EventMetadata::by(ActorId::parse("hotline-12345")?);
            self.tickets
                .execute(
                    t,
                    C::Receive(Received {
                        channel: Channel::Hotline,
                        reporter: ReporterContact::default(),
                        sealed_reporter: None,
                        location: Location {
                            district: "haigang".parse()?,
                            street: street.parse()?,
                            community: community.parse()?,
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
            self.tickets
                .execute(
                    t,
                    C::Acknowledge {
                        reply: Text::note("已受理")?,
                    },
                    &by,
                )
                .await?;
            self.tickets
                .execute(
                    t,
                    C::CallUp {
                        reason: Text::note("需要街道协调")?,
                    },
                    &by,
                )
                .await?;
        }
        Ok(())
    }

    async fn stream(&self) -> Result<stream::Stream> {
        Ok(jetstream::new(self.client.clone())
            .get_stream(&self.config.stream)
            .await?)
    }

    /// Waits until the stream holds `n` messages (or 30 s pass), then returns how many.
    async fn wait_for_messages(&self, n: u64) -> Result<u64> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let count = match self.stream().await {
                Ok(mut stream) => stream.info().await?.state.messages,
                Err(_) => 0,
            };
            if count >= n || Instant::now() > deadline {
                return Ok(count);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every message in the stream, in stream order.
    async fn messages(&self) -> Result<Vec<(String, async_nats::HeaderMap, PublishedEvent)>> {
        let mut stream = self.stream().await?;
        let last = stream.info().await?.state.last_sequence;
        let mut out = Vec::new();
        for sequence in 1..=last {
            let message = stream.get_raw_message(sequence).await?;
            let body: PublishedEvent = serde_json::from_slice(&message.payload)?;
            out.push((message.subject.to_string(), message.headers, body));
        }
        Ok(out)
    }

    /// Checks the stream holds every event of the log exactly once, in log order.
    async fn assert_exactly_once(&self) -> Result<()> {
        let log = self.store.read_all(Position::START, 10_000).await?;
        let messages = self.messages().await?;
        assert_eq!(
            messages.len(),
            log.len(),
            "the stream holds {} messages for {} events",
            messages.len(),
            log.len()
        );
        let ids: HashSet<String> = messages
            .iter()
            .map(|(_, h, _)| {
                h.get(headers::MSG_ID)
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(ids.len(), log.len(), "a message id appears twice");
        for ((_, _, body), event) in messages.iter().zip(&log) {
            assert_eq!(
                (body.position, body.event_id),
                (event.position.get(), event.event_id)
            );
        }
        Ok(())
    }

    async fn cleanup(&self) {
        let _ = jetstream::new(self.client.clone())
            .delete_stream(&self.config.stream)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_published_once_with_its_headers_and_subject() -> Result {
    let world = World::new().await?;
    world.tickets(10).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = tokio::spawn(world.relay(world.config.clone()).run(shutdown.clone()));
    assert_eq!(world.wait_for_messages(30).await?, 30);

    // Live: events written while the relay runs follow.
    world.tickets(2).await?;
    assert_eq!(world.wait_for_messages(36).await?, 36);
    world.assert_exactly_once().await?;

    let log = world.store.read_all(Position::START, 100).await?;
    for ((subject, headers, body), event) in world.messages().await?.iter().zip(&log) {
        assert_eq!(
            headers.get(headers::MSG_ID).map(|v| v.as_str()),
            Some(event.event_id.to_string().as_str())
        );
        assert_eq!(
            headers.get(headers::EVENT_TYPE).map(|v| v.as_str()),
            Some(event.event_type.as_str())
        );
        assert_eq!(
            headers.get(headers::POSITION).map(|v| v.as_str()),
            Some(event.position.to_string().as_str())
        );
        assert_eq!(
            headers.get(headers::STORE).map(|v| v.as_str()),
            Some(world.store.identity())
        );
        // Nothing else: the rest of the event is in the body.
        let mut names: Vec<&str> = headers.iter().map(|(name, _)| name.as_ref()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                headers::EVENT_TYPE,
                headers::MSG_ID,
                headers::POSITION,
                headers::STORE
            ]
        );
        assert_eq!(body.payload, event.payload);
        // Consumers filter by street and by kind.
        let street = if subject.contains(".wenhualu.") {
            "wenhualu"
        } else {
            "tongjiang"
        };
        assert_eq!(
            *subject,
            format!(
                "{}.haigang.{street}.{}",
                world.config.subject_prefix, event.event_type
            )
        );
    }
    // A consumer of one street sees that street's events only.
    let mut wenhualu = world
        .stream()
        .await?
        .create_consumer(jetstream::consumer::pull::Config {
            filter_subject: format!("{}.*.wenhualu.>", world.config.subject_prefix),
            ..Default::default()
        })
        .await?;
    assert_eq!(wenhualu.info().await?.num_pending, 18);
    let mut whistles = world
        .stream()
        .await?
        .create_consumer(jetstream::consumer::pull::Config {
            filter_subject: format!("{}.*.*.CalledUp", world.config.subject_prefix),
            ..Default::default()
        })
        .await?;
    assert_eq!(whistles.info().await?.num_pending, 12);

    shutdown.cancel();
    relay.await??;
    assert_eq!(world.store.checkpoint("relay").await?, log[35].position);
    world.cleanup().await;
    Ok(())
}

/// The relay is killed again and again part way through, then runs to the end: the
/// stream holds every event exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_batch_resumes_with_nothing_lost_or_repeated() -> Result {
    let world = World::new().await?;
    world.tickets(100).await?;
    let config = RelayConfig {
        batch: 16,
        ..world.config.clone()
    };
    for round in 0..6u64 {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let relay = tokio::spawn(world.relay(config.clone()).run(shutdown));
        // Kill it at a different moment each round, usually with a batch in flight.
        tokio::time::sleep(Duration::from_millis(15 + round * 11)).await;
        relay.abort();
        let _ = relay.await;
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = tokio::spawn(world.relay(config.clone()).run(shutdown.clone()));
    assert_eq!(world.wait_for_messages(300).await?, 300);
    world.assert_exactly_once().await?;
    shutdown.cancel();
    relay.await??;
    world.cleanup().await;
    Ok(())
}

/// A checkpoint that is lost (or older than the stream) does not make the relay publish
/// again what the stream already holds, even beyond the deduplication window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_checkpoint_does_not_republish_beyond_the_dedupe_window() -> Result {
    let world = World::new().await?;
    world.tickets(5).await?;
    let config = RelayConfig {
        duplicate_window: Duration::from_secs(1),
        ..world.config.clone()
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = tokio::spawn(world.relay(config.clone()).run(shutdown.clone()));
    assert_eq!(world.wait_for_messages(15).await?, 15);
    shutdown.cancel();
    relay.await??;

    world
        .store
        .save_checkpoint("relay", Position::START)
        .await?;
    tokio::time::sleep(Duration::from_millis(1_500)).await; // past the window
    world.tickets(1).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = tokio::spawn(world.relay(config).run(shutdown.clone()));
    assert_eq!(world.wait_for_messages(18).await?, 18);
    tokio::time::sleep(Duration::from_millis(300)).await;
    world.assert_exactly_once().await?;
    shutdown.cancel();
    relay.await??;
    world.cleanup().await;
    Ok(())
}

/// A relay pointed at a stream that holds another event store's events publishes nothing
/// there: resuming from the other log's positions would skip or repeat events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_another_event_store_is_refused() -> Result {
    let first = World::new().await?;
    first.tickets(2).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = tokio::spawn(first.relay(first.config.clone()).run(shutdown.clone()));
    assert_eq!(first.wait_for_messages(6).await?, 6);
    shutdown.cancel();
    relay.await??;

    let mut other = World::new().await?;
    other.config = first.config.clone();
    other.tickets(3).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = tokio::spawn(other.relay(other.config.clone()).run(shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        first.stream().await?.info().await?.state.messages,
        6,
        "the other store's relay must not publish here"
    );
    assert_eq!(other.store.checkpoint("relay").await?, Position::START);
    shutdown.cancel();
    relay.await??;
    first.cleanup().await;
    Ok(())
}

/// Two relays: one publishes, the other waits; when the first dies, the second takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_race_for_the_lease_and_the_second_takes_over() -> Result {
    let world = World::new().await?;
    world.tickets(4).await?;
    let first = world.relay(world.config.clone());
    let mut first_state = first.state();
    let first_task = tokio::spawn(first.run(tokio_util::sync::CancellationToken::new()));
    first_state.wait_for(|s| *s == RelayState::Active).await?;
    assert_eq!(world.wait_for_messages(12).await?, 12);

    let second = world.relay(world.config.clone());
    let mut second_state = second.state();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let second_task = tokio::spawn(second.run(shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        *second_state.borrow(),
        RelayState::Waiting,
        "the second relay must wait while the first holds the lease"
    );

    // The first dies (its lease connection closes with it).
    first_task.abort();
    let _ = first_task.await;
    tokio::time::timeout(
        Duration::from_secs(10),
        second_state.wait_for(|s| *s == RelayState::Active),
    )
    .await??;
    world.tickets(2).await?;
    assert_eq!(world.wait_for_messages(18).await?, 18);
    world.assert_exactly_once().await?;
    shutdown.cancel();
    second_task.await??;
    world.cleanup().await;
    Ok(())
}

/// Upgrades `Counted` 0.9.0 (which had `count`) to 1.0.0 (`n`).
#[derive(Debug)]
struct CounterCodec;

impl whistle_store::EventCodec for CounterCodec {
    fn upgrade(
        &self,
        event_type: &str,
        event_version: &str,
        payload: &serde_json::Value,
    ) -> std::result::Result<Option<(String, serde_json::Value)>, whistle_store::CodecError> {
        match (event_type, event_version) {
            ("Counted", "1.0.0") => Ok(None),
            ("Counted", "0.9.0") => Ok(Some((
                "1.0.0".to_owned(),
                serde_json::json!({"Counted": {"n": payload.pointer("/Counted/count")}}),
            ))),
            _ => Err(whistle_store::CodecError::Unknown),
        }
    }
}

/// Payloads travel as the stored text, but a codec that upgrades an event still decides
/// what is published: the upgraded payload and version. Events of other stream types go to
/// `<prefix>._._.<EventType>`, with their trace context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_codec_decides_what_is_published() -> Result {
    let world = World::new().await?;
    let store = world
        .store
        .clone()
        .with_codec("Counter", Arc::new(CounterCodec));
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let new = |version: &str, payload: serde_json::Value| whistle_store::NewEvent {
        event_id: whistle_events::EventId::new(),
        event_type: "Counted".to_owned(),
        event_version: version.to_owned(),
        payload,
        metadata: std::collections::HashMap::from([
            ("actor".to_owned(), "hongqili-li".to_owned()),
            ("traceparent".to_owned(), traceparent.to_owned()),
        ]),
    };
    let current = serde_json::json!({"Counted": {"n": 7, "note": "红旗里 \"5号楼\"\n"}});
    store
        .append(
            "Counter",
            "c",
            0,
            vec![
                new("0.9.0", serde_json::json!({"Counted": {"count": 41}})),
                new("1.0.0", current.clone()),
            ],
        )
        .await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = tokio::spawn(
        Relay::new(store.clone(), world.client.clone(), world.config.clone()).run(shutdown.clone()),
    );
    assert_eq!(world.wait_for_messages(2).await?, 2);
    let messages = world.messages().await?;
    let log = store.read_all(Position::START, 10).await?;
    assert_eq!(log.len(), 2);
    for ((subject, headers, body), event) in messages.iter().zip(&log) {
        assert_eq!(
            *subject,
            format!("{}._._.Counted", world.config.subject_prefix)
        );
        assert_eq!(
            headers.get(headers::TRACEPARENT).map(|v| v.as_str()),
            Some(traceparent)
        );
        // Upgraded by the codec: the body names the version it now has.
        assert_eq!(body.event_version, "1.0.0");
        // The body is the event as the parsed path reads it, field for field.
        assert_eq!(
            *body,
            PublishedEvent {
                position: event.position.get(),
                event_id: event.event_id,
                stream_type: event.stream_type.clone(),
                stream_id: event.stream_id.clone(),
                stream_version: event.stream_version,
                event_type: event.event_type.clone(),
                event_version: event.event_version.clone(),
                recorded_at: event.recorded_at,
                metadata: event.metadata.clone(),
                payload: event.payload.clone(),
            }
        );
    }
    assert_eq!(
        messages[0].2.payload,
        serde_json::json!({"Counted": {"n": 41}})
    );
    assert_eq!(messages[1].2.payload, current);
    shutdown.cancel();
    relay.await??;
    world.cleanup().await;
    Ok(())
}
