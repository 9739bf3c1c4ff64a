//! One conformance suite, run against both backends: every case below runs once on a fresh
//! SQLite file and once on a fresh PostgreSQL database of the local server.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use whistle_clock::{Clock, ManualClock};
use whistle_events::{ActorId, CorrelationId, EventId, EventMetadata, TicketId};
use whistle_store::test_support::{fresh_postgres_url, fresh_sqlite_path};
use whistle_store::{
    CodecError, Committed, Effect, EventCodec, EventStore, NewEvent, Position, RowChange,
    StoreConfig, StoreError, TicketKey,
};

type Result<T = ()> = anyhow::Result<T>;

fn clock() -> ManualClock {
    ManualClock::new(
        Utc.with_ymd_and_hms(2026, 7, 20, 9, 30, 0)
            .single()
            .expect("valid"),
    )
}

async fn open_sqlite(clock: ManualClock) -> Result<EventStore> {
    let config = StoreConfig {
        sqlite_path: fresh_sqlite_path(),
        ..StoreConfig::default()
    };
    Ok(EventStore::open(&config, Arc::new(clock)).await?)
}

async fn open_postgres(clock: ManualClock) -> Result<EventStore> {
    let config = StoreConfig {
        database_url: Some(fresh_postgres_url().await?),
        ..StoreConfig::default()
    };
    Ok(EventStore::open(&config, Arc::new(clock)).await?)
}

/// Reads the global log after `after` until `done` holds (at most 60 s). On PostgreSQL the
/// log's readable end waits for every older transaction in the cluster, including other
/// tests', so a test that wants to see its own last write must wait for it to settle.
async fn read_all_until(
    store: &EventStore,
    after: Position,
    done: impl Fn(&std::result::Result<Vec<whistle_store::RecordedEvent>, StoreError>) -> bool,
) -> std::result::Result<Vec<whistle_store::RecordedEvent>, StoreError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let result = store.read_all(after, 1_000).await;
        if done(&result) || std::time::Instant::now() > deadline {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn event(n: u64) -> NewEvent {
    NewEvent {
        event_id: EventId::new(),
        event_type: "Counted".into(),
        event_version: "1.0.0".into(),
        payload: json!({"Counted": {"n": n, "note": "红旗里 5号楼"}}),
        metadata: HashMap::new(),
    }
}

fn events(range: std::ops::Range<u64>) -> Vec<NewEvent> {
    range.map(event).collect()
}

async fn append_then_read_a_stream(store: EventStore, clock: ManualClock) -> Result {
    let meta = EventMetadata {
        actor: Some(ActorId::parse("hongqili-li")?),
        correlation_id: Some(CorrelationId::new()),
        causation_id: Some(EventId::new()),
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        tracestate: None,
    };
    let mut batch = events(0..3);
    for e in &mut batch {
        e.metadata = meta.to_map();
    }
    let ids: Vec<EventId> = batch.iter().map(|e| e.event_id).collect();
    let written = store.append("Counter", "a", 0, batch).await?;
    assert_eq!(
        written.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    clock.advance(chrono::Duration::minutes(5));
    store.append("Counter", "a", 3, events(3..4)).await?;

    let read = store.read_stream("Counter", "a", 0).await?;
    assert_eq!(read.len(), 4);
    assert_eq!(
        &read[..3],
        &written[..],
        "append returns exactly what is stored"
    );
    assert_eq!(
        read.iter().map(|e| e.event_id).take(3).collect::<Vec<_>>(),
        ids
    );
    assert_eq!(read[0].metadata(), meta);
    assert_eq!(read[0].stream(), "Counter-a");
    assert_eq!(
        read[0].payload,
        json!({"Counted": {"n": 0, "note": "红旗里 5号楼"}})
    );
    assert_eq!(
        read[0].recorded_at,
        Utc.with_ymd_and_hms(2026, 7, 20, 9, 30, 0)
            .single()
            .expect("valid")
    );
    assert_eq!(
        read[3].recorded_at - read[0].recorded_at,
        chrono::Duration::minutes(5)
    );
    assert!(read.windows(2).all(|w| w[0].position < w[1].position));

    assert_eq!(store.head().await?, read[3].position);
    let tail = store.read_stream("Counter", "a", 2).await?;
    assert_eq!(
        tail.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert!(store.read_stream("Counter", "missing", 0).await?.is_empty());
    assert_eq!(store.stream_version("Counter", "a").await?, 4);
    assert_eq!(store.stream_version("Counter", "missing").await?, 0);
    // Same id under another stream type is another stream.
    assert!(store.read_stream("Other", "a", 0).await?.is_empty());
    Ok(())
}

async fn stale_and_gapped_expected_versions_are_refused(
    store: EventStore,
    _clock: ManualClock,
) -> Result {
    store.append("Counter", "a", 0, events(0..2)).await?;
    for expected in [0, 1, 5] {
        match store.append("Counter", "a", expected, events(9..10)).await {
            Err(StoreError::WrongExpectedVersion {
                stream,
                expected: e,
                actual,
            }) => {
                assert_eq!((stream.as_str(), e, actual), ("Counter-a", expected, 2));
            }
            other => panic!("expected version {expected}: wanted a conflict, got {other:?}"),
        }
    }
    assert_eq!(
        store.stream_version("Counter", "a").await?,
        2,
        "nothing was written"
    );
    let err = store
        .append("Counter", "a", 0, events(0..1))
        .await
        .expect_err("conflict");
    assert!(
        err.to_string().contains("reload the stream and retry"),
        "{err}"
    );
    Ok(())
}

async fn racing_writers_of_one_version_have_one_winner(
    store: EventStore,
    _clock: ManualClock,
) -> Result {
    store.append("Counter", "race", 0, events(0..1)).await?;
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.append("Counter", "race", 1, events(n..n + 2)).await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await? {
            Ok(_) => winners += 1,
            Err(StoreError::WrongExpectedVersion { .. }) => {}
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(store.stream_version("Counter", "race").await?, 3);
    Ok(())
}

async fn a_failing_append_writes_nothing(store: EventStore, _clock: ManualClock) -> Result {
    // The second event reuses the first one's id: the database refuses it mid-batch.
    let mut batch = events(0..3);
    batch[1].event_id = batch[0].event_id;
    let err = store
        .append("Counter", "atomic", 0, batch)
        .await
        .expect_err("duplicate id");
    assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
    assert_eq!(store.stream_version("Counter", "atomic").await?, 0);
    // A null payload is refused before anything is sent, naming the event.
    let mut batch = events(0..3);
    batch[2].payload = serde_json::Value::Null;
    let named = batch[2].event_id.to_string();
    let err = store
        .append("Counter", "atomic", 0, batch)
        .await
        .expect_err("null payload");
    assert!(
        matches!(&err, StoreError::InvalidAppend { reason, .. } if reason.contains(&named)),
        "{err:?}"
    );
    assert_eq!(store.stream_version("Counter", "atomic").await?, 0);
    // Not "the readable log is empty", which a lagging horizon would also explain.
    assert_eq!(store.head().await?, Position::START);
    Ok(())
}

/// Concurrent appends share database writes (group commit); each must still get its own
/// answer: the good ones succeed, a stale one conflicts, a broken one fails alone.
async fn appends_that_share_a_write_keep_their_own_answers(
    store: EventStore,
    _clock: ManualClock,
) -> Result {
    store.append("Counter", "stale", 0, events(0..2)).await?;
    let mut tasks = Vec::new();
    for n in 0..24u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            match n {
                0 => store.append("Counter", "stale", 1, events(5..6)).await,
                1 => {
                    let mut batch = events(0..2);
                    batch[1].event_id = batch[0].event_id;
                    store.append("Counter", "broken", 0, batch).await
                }
                _ => {
                    store
                        .append("Counter", &format!("good-{n}"), 0, events(0..3))
                        .await
                }
            }
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await?);
    }
    assert!(
        matches!(
            &results[0],
            Err(StoreError::WrongExpectedVersion {
                expected: 1,
                actual: 2,
                ..
            })
        ),
        "{:?}",
        results[0]
    );
    assert!(
        matches!(&results[1], Err(StoreError::Database { .. })),
        "{:?}",
        results[1]
    );
    for (n, result) in results.iter().enumerate().skip(2) {
        let written = result
            .as_ref()
            .map_err(|e| anyhow::anyhow!("append {n}: {e}"))?;
        assert_eq!(
            written.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(
            store
                .read_stream("Counter", &format!("good-{n}"), 0)
                .await?,
            *written
        );
    }
    assert_eq!(store.stream_version("Counter", "stale").await?, 2);
    assert_eq!(store.stream_version("Counter", "broken").await?, 0);
    let all = read_all_until(&store, Position::START, |r| {
        r.as_ref().is_ok_and(|v| v.len() >= 2 + 22 * 3)
    })
    .await?;
    assert_eq!(all.len(), 2 + 22 * 3);
    Ok(())
}

async fn the_global_log_orders_every_stream(store: EventStore, _clock: ManualClock) -> Result {
    store.append("Counter", "a", 0, events(0..2)).await?;
    store.append("Counter", "b", 0, events(0..3)).await?;
    store.append("Counter", "a", 2, events(2..3)).await?;
    let all = read_all_until(&store, Position::START, |r| {
        r.as_ref().is_ok_and(|v| v.len() >= 6)
    })
    .await?;
    let order: Vec<(String, u64)> = all
        .iter()
        .map(|e| (e.stream_id.clone(), e.stream_version))
        .collect();
    let expected = [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("b", 3), ("a", 3)];
    assert_eq!(order, expected.map(|(s, v)| (s.to_owned(), v)).to_vec());
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    let rest = store.read_all(all[2].position, 100).await?;
    assert_eq!(rest, all[3..].to_vec());
    let page = store.read_all(Position::START, 2).await?;
    assert_eq!(page, all[..2].to_vec());
    assert!(store.read_all(all[5].position, 100).await?.is_empty());
    Ok(())
}

async fn a_subscription_catches_up_then_follows_live(
    store: EventStore,
    _clock: ManualClock,
) -> Result {
    store.append("Counter", "a", 0, events(0..3)).await?;
    let all = read_all_until(&store, Position::START, |r| {
        r.as_ref().is_ok_and(|v| v.len() >= 3)
    })
    .await?;
    let mut from_start = store.subscribe(Position::START).with_batch_size(2);
    let mut from_middle = store.subscribe(all[1].position);
    for expected in &all {
        assert_eq!(&from_start.next().await?, expected);
    }
    assert_eq!(from_start.position(), all[2].position);
    assert_eq!(from_middle.next().await?, all[2]);
    // At the head, nothing arrives…
    assert!(
        from_start
            .next_within(Duration::from_millis(150))
            .await
            .is_none()
    );
    // …until another writer appends.
    let writer = store.clone();
    let live = tokio::spawn(async move { writer.append("Counter", "b", 0, events(7..8)).await });
    let next = from_start
        .next_within(Duration::from_secs(10))
        .await
        .expect("live event arrives")?;
    assert_eq!((next.stream_id.as_str(), next.stream_version), ("b", 1));
    live.await??;
    Ok(())
}

async fn checkpoints_and_leases(store: EventStore, _clock: ManualClock) -> Result {
    assert_eq!(store.identity().len(), 32, "{}", store.identity());
    assert!(store.identity().chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(store.checkpoint("relay").await?, Position::START);
    store.save_checkpoint("relay", Position::new(42)).await?;
    store.save_checkpoint("relay", Position::new(4242)).await?;
    store.save_checkpoint("other", Position::new(7)).await?;
    assert_eq!(store.checkpoint("relay").await?, Position::new(4242));
    assert_eq!(store.checkpoint("other").await?, Position::new(7));

    let name = format!("lease-{}", uuid::Uuid::new_v4().simple());
    let mut first = store.try_lease(&name).await?.expect("nobody holds it yet");
    assert!(first.is_held().await);
    assert!(
        store.try_lease(&name).await?.is_none(),
        "a second holder while the first holds it"
    );
    let other = store.try_lease(&format!("{name}-b")).await?;
    assert!(other.is_some(), "another name is another lease");
    drop(first);
    // On PostgreSQL the lock goes with the first holder's connection, which closes when the
    // lease drops; give the server a moment to notice.
    let mut second = None;
    for _ in 0..500 {
        second = store.try_lease(&name).await?;
        if second.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(second.is_some(), "the lease is free once its holder let go");
    Ok(())
}

async fn a_subscription_hands_out_batches(store: EventStore, _clock: ManualClock) -> Result {
    store.append("Counter", "a", 0, events(0..5)).await?;
    read_all_until(&store, Position::START, |r| {
        r.as_ref().is_ok_and(|v| v.len() >= 5)
    })
    .await?;
    let mut sub = store.subscribe(Position::START);
    let first = sub.next_batch(3).await?;
    assert_eq!(
        first.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let rest = sub.next_batch(10).await?;
    assert_eq!(
        rest.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert_eq!(sub.position(), rest[1].position);
    Ok(())
}

/// A codec that knows `Counted` 1.0.0 and upcasts 0.9.0 (which had `count` for `n`).
#[derive(Debug)]
struct CounterCodec;

impl EventCodec for CounterCodec {
    fn upgrade(
        &self,
        event_type: &str,
        event_version: &str,
        payload: &Value,
    ) -> std::result::Result<Option<(String, Value)>, CodecError> {
        let check = |p: &Value| match p.pointer("/Counted/n") {
            Some(n) if n.is_u64() => Ok(()),
            _ => Err(CodecError::Malformed(
                "`Counted.n` must be a whole number".into(),
            )),
        };
        match (event_type, event_version) {
            ("Counted", "1.0.0") => check(payload).map(|()| None),
            ("Counted", "0.9.0") => {
                let count = payload
                    .pointer("/Counted/count")
                    .cloned()
                    .unwrap_or(Value::Null);
                let upcast = json!({"Counted": {"n": count}});
                check(&upcast)?;
                Ok(Some(("1.0.0".into(), upcast)))
            }
            _ => Err(CodecError::Unknown),
        }
    }
}

async fn unknown_and_malformed_events_are_named_errors(
    store: EventStore,
    _clock: ManualClock,
) -> Result {
    let store = store.with_codec("Counter", Arc::new(CounterCodec));
    let mut old = event(0);
    old.event_version = "0.9.0".into();
    old.payload = json!({"Counted": {"count": 41}});
    store.append("Counter", "a", 0, vec![old]).await?;
    let read = store.read_stream("Counter", "a", 0).await?;
    assert_eq!(
        (read[0].event_version.as_str(), &read[0].payload),
        ("1.0.0", &json!({"Counted": {"n": 41}}))
    );

    let mut future = event(1);
    future.event_type = "Teleported".into();
    future.event_version = "3.1.0".into();
    let written = store.append("Counter", "b", 0, vec![future]).await?;
    let position = written[0].position.get();
    match store.read_stream("Counter", "b", 0).await {
        Err(StoreError::UnknownEvent {
            stream,
            position: p,
            event_type,
            event_version,
        }) => {
            assert_eq!(
                (
                    stream.as_str(),
                    p,
                    event_type.as_str(),
                    event_version.as_str()
                ),
                ("Counter-b", position, "Teleported", "3.1.0")
            );
        }
        other => panic!("wanted UnknownEvent, got {other:?}"),
    }
    // Reading the log hands out the good event before it, then stops at it with the error.
    let first = read_all_until(&store, Position::START, |r| {
        r.as_ref().is_ok_and(|v| !v.is_empty())
    })
    .await?;
    assert_eq!(first, read[..1].to_vec());
    let err = read_all_until(&store, read[0].position, |r| r.is_err())
        .await
        .expect_err("the global log names it too");
    let text = err.to_string();
    assert!(
        text.contains("Counter-b")
            && text.contains(&position.to_string())
            && text.contains("upcaster is missing"),
        "{text}"
    );

    let mut bad = event(2);
    bad.payload = json!({"Counted": {"n": "many"}});
    let written = store.append("Counter", "c", 0, vec![bad]).await?;
    match store.read_stream("Counter", "c", 0).await {
        Err(StoreError::MalformedEvent {
            stream,
            position,
            reason,
            ..
        }) => {
            assert_eq!(
                (stream.as_str(), position),
                ("Counter-c", written[0].position.get())
            );
            assert!(reason.contains("whole number"), "{reason}");
        }
        other => panic!("wanted MalformedEvent, got {other:?}"),
    }
    // A subscription stops at the bad event and stays there: it is not skipped.
    let mut sub = store.subscribe(Position::START);
    assert_eq!(sub.next().await?.stream_id, "a");
    assert!(matches!(
        sub.next().await,
        Err(StoreError::UnknownEvent { .. })
    ));
    assert!(matches!(
        sub.next().await,
        Err(StoreError::UnknownEvent { .. })
    ));
    assert_eq!(sub.position(), read[0].position);
    Ok(())
}

async fn many_writers_one_subscriber(store: EventStore, writers: u64, per_writer: u64) -> Result {
    many_writers_one_subscriber_on(store, writers, per_writer).await
}

/// `writers` tasks append `per_writer` events each, in batches of 1–4, to streams shared
/// between them (so they also conflict and retry), while one subscriber reads from the
/// start. The subscriber must see every event exactly once, in an order consistent with
/// every stream, and nothing else.
async fn many_writers_one_subscriber_on(
    store: EventStore,
    writers: u64,
    per_writer: u64,
) -> Result {
    let total = writers * per_writer;
    let subscriber = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut sub = store.subscribe(Position::START);
            let mut seen = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
            while (seen.len() as u64) < total {
                match sub.next_within(Duration::from_secs(60)).await {
                    Some(event) => seen.push(event?),
                    None => anyhow::bail!("no event for 60 s after {} of {total}", seen.len()),
                }
            }
            // Nothing more may arrive.
            if let Some(extra) = sub.next_within(Duration::from_millis(300)).await {
                anyhow::bail!("an event beyond the {total} written: {extra:?}");
            }
            Ok(seen)
        })
    };
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut written = 0;
            let mut step = w;
            while written < per_writer {
                step = step
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let stream = format!("s{}", (step >> 33) % 40);
                let size = ((step >> 20) % 4 + 1).min(per_writer - written);
                loop {
                    let version = store.stream_version("Counter", &stream).await?;
                    let batch = (0..size)
                        .map(|i| event(w * 1_000_000 + written + i))
                        .collect();
                    match store.append("Counter", &stream, version, batch).await {
                        Ok(_) => break,
                        Err(StoreError::WrongExpectedVersion { .. }) => continue,
                        Err(e) => return Err(anyhow::Error::from(e)),
                    }
                }
                written += size;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seen = subscriber.await??;
    assert_eq!(seen.len() as u64, total);
    let ids: HashSet<EventId> = seen.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len() as u64, total, "an event was delivered twice");
    assert!(
        seen.windows(2).all(|w| w[0].position < w[1].position),
        "positions go backwards"
    );
    let mut next_version: HashMap<&str, u64> = HashMap::new();
    for e in &seen {
        let want = next_version.entry(&e.stream_id).or_insert(1);
        assert_eq!(
            e.stream_version, *want,
            "stream {} out of order at position {}",
            e.stream_id, e.position
        );
        *want += 1;
    }
    // The whole log, page by page, is exactly what the subscriber saw.
    let mut logged = Vec::new();
    while (logged.len() as u64) < total {
        let after = logged
            .last()
            .map_or(Position::START, |e: &whistle_store::RecordedEvent| {
                e.position
            });
        let page =
            read_all_until(&store, after, |r| r.as_ref().is_ok_and(|v| !v.is_empty())).await?;
        anyhow::ensure!(
            !page.is_empty(),
            "the log ended after {} of {total} events",
            logged.len()
        );
        logged.extend(page);
    }
    assert_eq!(logged, seen);
    assert!(
        store
            .read_all(logged[logged.len() - 1].position, 10)
            .await?
            .is_empty()
    );
    Ok(())
}

async fn concurrent_writers_small(store: EventStore, _clock: ManualClock) -> Result {
    many_writers_one_subscriber(store, 8, 250).await
}

async fn read_models_move_with_their_checkpoint(store: EventStore, _clock: ManualClock) -> Result {
    let put = |key: &str, n: i64| {
        RowChange::put("queue", key, serde_json::json!({ "n": n, "名": "红旗里" }))
    };
    let first = Effect::Apply(vec![
        put("hongqili/a", 1),
        put("hongqili/b", 2),
        put("fujie/c", 3),
    ]);
    assert_eq!(
        store
            .commit_effect("stage", Position::new(10), &first)
            .await?,
        Committed::Applied
    );
    assert_eq!(store.checkpoint("stage").await?, Position::new(10));

    // The same position again (a redelivery), or an earlier one, writes nothing.
    let again = Effect::Apply(vec![
        put("hongqili/a", 99),
        RowChange::delete("queue", "fujie/c"),
    ]);
    for position in [10, 9] {
        assert_eq!(
            store
                .commit_effect("stage", Position::new(position), &again)
                .await?,
            Committed::AlreadyApplied
        );
    }
    let row = store.row("queue", "hongqili/a").await?.expect("row a");
    assert_eq!(row.value["n"], 1, "a redelivery changed a row");
    assert!(store.row("queue", "fujie/c").await?.is_some());

    // A later position applies: update, delete, and rows are listed by prefix in key order.
    let later = Effect::Apply(vec![
        put("hongqili/a", 11),
        RowChange::delete("queue", "fujie/c"),
    ]);
    assert_eq!(
        store
            .commit_effect("stage", Position::new(12), &later)
            .await?,
        Committed::Applied
    );
    let keys: Vec<String> = store
        .rows("queue", "hongqili/")
        .await?
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["hongqili/a", "hongqili/b"]);
    assert_eq!(
        store.row("queue", "hongqili/a").await?.expect("a").value["名"],
        "红旗里"
    );
    assert!(store.row("queue", "fujie/c").await?.is_none());
    assert!(
        store.rows("queue", "hongqili/a/").await?.is_empty(),
        "a prefix is not a key"
    );
    assert!(
        store.rows("other", "").await?.is_empty(),
        "tables are separate"
    );

    // Another consumer has its own checkpoint.
    assert_eq!(
        store
            .commit_effect("other-stage", Position::new(5), &Effect::Apply(vec![]))
            .await?,
        Committed::Applied
    );
    assert_eq!(store.checkpoint("stage").await?, Position::new(12));

    // Parking records the message and moves the checkpoint, once.
    let park = Effect::Park {
        event_id: "e-1".into(),
        reason: "cannot read it".into(),
        attempts: 5,
        message: serde_json::json!({ "payload": "坏" }),
    };
    assert_eq!(
        store
            .commit_effect("stage", Position::new(13), &park)
            .await?,
        Committed::Applied
    );
    assert_eq!(
        store
            .commit_effect("stage", Position::new(13), &park)
            .await?,
        Committed::AlreadyApplied
    );
    assert_eq!(store.checkpoint("stage").await?, Position::new(13));
    let parked = store.parked_messages().await?;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].consumer, "stage");
    assert_eq!(parked[0].position, Position::new(13));
    assert_eq!(parked[0].attempts, 5);
    assert_eq!(parked[0].reason, "cannot read it");
    assert_eq!(parked[0].message["payload"], "坏");
    Ok(())
}

async fn a_batch_changing_a_row_many_times_leaves_its_last_change(
    store: EventStore,
    _clock: ManualClock,
) -> Result {
    let put = |key: &str, n: i64| RowChange::put("queue", key, serde_json::json!({ "n": n }));
    store
        .commit_effect(
            "stage",
            Position::new(1),
            &Effect::Apply(vec![put("kept", 0)]),
        )
        .await?;
    let batch = Effect::Apply(vec![
        put("a", 1),
        put("b", 1),
        RowChange::delete("a", "not a row"),
        put("a", 2),
        RowChange::delete("b", "b"),
        RowChange::delete("queue", "b"),
        RowChange::delete("queue", "kept"),
        put("kept", 3),
        RowChange::delete("queue", "gone"),
        put("gone", 4),
        RowChange::delete("queue", "gone"),
    ]);
    assert_eq!(
        store
            .commit_effect("stage", Position::new(2), &batch)
            .await?,
        Committed::Applied
    );
    let rows: Vec<(String, serde_json::Value)> = store
        .rows("queue", "")
        .await?
        .into_iter()
        .map(|r| (r.key, r.value))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("a".to_owned(), serde_json::json!({ "n": 2 })),
            ("kept".to_owned(), serde_json::json!({ "n": 3 })),
        ]
    );
    Ok(())
}

async fn a_read_model_is_replaced_whole(store: EventStore, _clock: ManualClock) -> Result {
    let put = |table: &str, key: &str, value: serde_json::Value| RowChange::put(table, key, value);
    store
        .commit_effect(
            "stage",
            Position::new(5),
            &Effect::Apply(vec![
                put("queue", "old", serde_json::json!(1)),
                put("facts", "old", serde_json::json!(1)),
                put("other", "kept", serde_json::json!("其他")),
            ]),
        )
        .await?;
    // Text that COPY's text format would misread unescaped, in keys and values.
    let awkward = "tab\there, line\nbreak, return\r, back\\slash, \\N, 红旗里";
    let rows = vec![
        put("queue", awkward, serde_json::json!({ "text": awkward })),
        put("queue", "b", serde_json::json!([1, 2, 3])),
        put("facts", "c", serde_json::json!(null)),
    ];
    store
        .replace_rows("stage", &["queue", "facts"], &rows, Position::new(9))
        .await?;
    assert_eq!(store.checkpoint("stage").await?, Position::new(9));
    let queue: Vec<(String, serde_json::Value)> = store
        .rows("queue", "")
        .await?
        .into_iter()
        .map(|r| (r.key, r.value))
        .collect();
    assert_eq!(
        queue,
        vec![
            ("b".to_owned(), serde_json::json!([1, 2, 3])),
            (awkward.to_owned(), serde_json::json!({ "text": awkward })),
        ]
    );
    let facts: Vec<String> = store
        .rows("facts", "")
        .await?
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(facts, ["c"]);
    assert_eq!(
        store.row("other", "kept").await?.map(|r| r.value),
        Some(serde_json::json!("其他")),
        "a table not named is left alone"
    );

    // A consumer past the rebuilt position is not moved back, and nothing changes.
    let refused = store
        .replace_rows("stage", &["queue"], &[], Position::new(8))
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Overtaken {
                checkpoint: 9,
                position: 8,
                ..
            })
        ),
        "{refused:?}"
    );
    // Rows that do not belong in the replacement are refused before anything is written.
    for stray in [
        RowChange::delete("queue", "b"),
        put("other", "x", serde_json::json!(1)),
    ] {
        let refused = store
            .replace_rows("stage", &["queue"], &[stray], Position::new(10))
            .await;
        assert!(
            matches!(refused, Err(StoreError::InvalidRows(_))),
            "{refused:?}"
        );
    }
    assert_eq!(store.rows("queue", "").await?.len(), 2);
    assert_eq!(store.checkpoint("stage").await?, Position::new(9));
    Ok(())
}

async fn due_rows_are_claimed_once_and_hold_back_no_reader(
    store: EventStore,
    _clock: ManualClock,
) -> Result {
    let rows: Vec<RowChange> = (1..=6)
        .map(|n| RowChange::put("due", format!("{n:03}"), json!({ "n": n })))
        .chain([RowChange::put("due", "900", json!("later"))])
        .collect();
    store
        .commit_effect("projection", Position::new(1), &Effect::Apply(rows))
        .await?;
    store.append("Counter", "a", 0, events(0..1)).await?;
    let seen = store.head().await?;

    // Two workers claim at once: each row due by "500" goes to one of them.
    let first = store.claim_due("due", "500", 4).await?;
    let second = store.claim_due("due", "500", 4).await?;
    let keys = |due: &whistle_store::DueRows| -> Vec<String> {
        due.rows().iter().map(|r| r.key.clone()).collect()
    };
    assert_eq!(keys(&first), ["001", "002", "003", "004"]);
    assert_eq!(keys(&second), ["005", "006"]);

    // While the claims are open, what is appended reaches readers of the log.
    store.append("Counter", "a", 1, events(1..2)).await?;
    let read = store.read_all(seen, 10).await?;
    assert_eq!(read.len(), 1, "an open claim held back the log");

    // Finished, the rows fired are gone; a row left out of `done` is due again.
    let fired = keys(&first);
    first.finish("due", &fired).await?;
    second.finish("due", &["005".to_owned()]).await?;
    let again = store.claim_due("due", "500", 10).await?;
    assert_eq!(keys(&again), ["006"]);
    again.finish("due", &[]).await?;
    Ok(())
}

async fn racing_commits_of_one_consumer_apply_once(
    store: EventStore,
    _clock: ManualClock,
) -> Result {
    // Two instances of one consumer commit the same positions at once: each position is
    // applied by exactly one of them.
    let mut tasks = Vec::new();
    for instance in 0..2 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut applied = Vec::new();
            for position in 1..=40u64 {
                let effect = Effect::Apply(vec![RowChange::put(
                    "race",
                    format!("{position:03}"),
                    serde_json::json!({ "by": instance }),
                )]);
                if store
                    .commit_effect("racer", Position::new(position), &effect)
                    .await?
                    == Committed::Applied
                {
                    applied.push(position);
                }
            }
            Ok::<_, whistle_store::StoreError>(applied)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task")?);
    }
    all.sort_unstable();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "a position was applied twice");
    assert_eq!(store.checkpoint("racer").await?, Position::new(40));
    Ok(())
}

/// A ticket's key is stored once (the first writer's stays), read back as stored, and
/// erased for good: erasing is idempotent, keeps the first time, and no key is stored
/// again afterwards, not even for a ticket that never had one.
async fn ticket_keys_are_kept_once_and_erased_for_good(
    store: EventStore,
    clock: ManualClock,
) -> Result {
    let t = TicketId::new_random();
    assert_eq!(store.ticket_key(t).await?, TicketKey::Missing);
    let first = vec![1u8; 60];
    assert_eq!(
        store.put_ticket_key(t, &first).await?,
        TicketKey::Present(first.clone())
    );
    // A racing second writer gets the first key back.
    assert_eq!(
        store.put_ticket_key(t, &[2u8; 60]).await?,
        TicketKey::Present(first.clone())
    );
    assert_eq!(
        store.ticket_key(t).await?,
        TicketKey::Present(first.clone())
    );
    // Many writers at once agree on one key.
    let other = TicketId::new_random();
    let racers = (0..8u8).map(|n| {
        let store = store.clone();
        async move { store.put_ticket_key(other, &[n; 60]).await }
    });
    let answers = futures::future::try_join_all(racers).await?;
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert_eq!(store.ticket_key(other).await?, answers[0]);

    let at = clock.now();
    store.erase_ticket_key(t, at).await?;
    assert_eq!(store.ticket_key(t).await?, TicketKey::Erased { at });
    clock.advance(chrono::Duration::minutes(5));
    store.erase_ticket_key(t, clock.now()).await?;
    assert_eq!(
        store.ticket_key(t).await?,
        TicketKey::Erased { at },
        "the first erasure's time stands"
    );
    assert_eq!(
        store.put_ticket_key(t, &first).await?,
        TicketKey::Erased { at },
        "an erased key is never stored again"
    );
    // A ticket erased before it had a key never gets one.
    let never = TicketId::new_random();
    store.erase_ticket_key(never, at).await?;
    assert_eq!(
        store.put_ticket_key(never, &first).await?,
        TicketKey::Erased { at }
    );
    // The key's bytes are not printed.
    assert_eq!(
        format!("{:?}", TicketKey::Present(first)),
        "Present(60 bytes)"
    );
    Ok(())
}

macro_rules! conformance {
    ($backend:ident, $open:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() -> Result {
                    let clock = clock();
                    let store = $open(clock.clone()).await?;
                    super::$case(store, clock).await
                }
            )*
        }
    };
}

conformance!(sqlite, open_sqlite:
    checkpoints_and_leases,
    read_models_move_with_their_checkpoint,
    a_batch_changing_a_row_many_times_leaves_its_last_change,
    a_read_model_is_replaced_whole,
    racing_commits_of_one_consumer_apply_once,
    a_subscription_hands_out_batches,
    append_then_read_a_stream,
    stale_and_gapped_expected_versions_are_refused,
    racing_writers_of_one_version_have_one_winner,
    a_failing_append_writes_nothing,
    appends_that_share_a_write_keep_their_own_answers,
    the_global_log_orders_every_stream,
    a_subscription_catches_up_then_follows_live,
    unknown_and_malformed_events_are_named_errors,
    concurrent_writers_small,
    ticket_keys_are_kept_once_and_erased_for_good,
);

conformance!(postgres, open_postgres:
    due_rows_are_claimed_once_and_hold_back_no_reader,
    checkpoints_and_leases,
    read_models_move_with_their_checkpoint,
    a_batch_changing_a_row_many_times_leaves_its_last_change,
    a_read_model_is_replaced_whole,
    racing_commits_of_one_consumer_apply_once,
    a_subscription_hands_out_batches,
    append_then_read_a_stream,
    stale_and_gapped_expected_versions_are_refused,
    racing_writers_of_one_version_have_one_winner,
    a_failing_append_writes_nothing,
    appends_that_share_a_write_keep_their_own_answers,
    the_global_log_orders_every_stream,
    a_subscription_catches_up_then_follows_live,
    unknown_and_malformed_events_are_named_errors,
    concurrent_writers_small,
    ticket_keys_are_kept_once_and_erased_for_good,
);

/// The proof the issue asks for: 8 concurrent writers, 20,000 events, on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_8_writers_20000_events_seen_exactly_once_in_order() -> Result {
    let store = open_postgres(clock()).await?;
    many_writers_one_subscriber_on(store, 8, 2_500).await
}

/// The same on the embedded default.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_8_writers_20000_events_seen_exactly_once_in_order() -> Result {
    let store = open_sqlite(clock()).await?;
    many_writers_one_subscriber_on(store, 8, 2_500).await
}
