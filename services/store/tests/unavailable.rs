//! A database that goes away: the error says so clearly, and nothing is half-written.
//!
//! The test puts a TCP proxy of its own between the store and the real PostgreSQL server,
//! then cuts it, so the shared server keeps running for every other test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use whistle_clock::SystemClock;
use whistle_events::EventId;
use whistle_store::test_support::fresh_postgres_url;
use whistle_store::{EventStore, NewEvent, StoreConfig, StoreError};

type Result<T = ()> = anyhow::Result<T>;

/// A loopback proxy to the PostgreSQL server; `cut` drops the listener and every
/// connection through it.
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let registry = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().expect("not poisoned").push(task);
            }
        });
        Ok(Self {
            port,
            tasks,
            accept,
        })
    }

    fn cut(&self) {
        self.accept.abort();
        for task in self.tasks.lock().expect("not poisoned").drain(..) {
            task.abort();
        }
    }
}

fn event() -> NewEvent {
    NewEvent {
        event_id: EventId::new(),
        event_type: "Counted".into(),
        event_version: "1.0.0".into(),
        payload: json!({"Counted": {"n": 1}}),
        metadata: HashMap::new(),
    }
}

fn config(url: String) -> StoreConfig {
    StoreConfig {
        database_url: Some(url),
        acquire_timeout: Duration::from_secs(2),
        ..StoreConfig::default()
    }
}

#[tokio::test]
async fn a_database_that_goes_away_is_a_clear_error_and_nothing_is_half_written() -> Result {
    let direct_url = fresh_postgres_url().await?;
    let (host_part, db) = direct_url.rsplit_once('/').expect("url has a database");
    let upstream = host_part
        .rsplit_once('@')
        .map_or(host_part, |(_, h)| h)
        .trim_start_matches("postgres://");
    let proxy = Proxy::start(upstream.to_owned()).await?;
    let through_proxy = format!("postgres://postgres@127.0.0.1:{}/{db}", proxy.port);

    let store = EventStore::open(&config(through_proxy), Arc::new(SystemClock)).await?;
    store.append("Counter", "a", 0, vec![event()]).await?;

    proxy.cut();
    let err = store
        .append("Counter", "a", 1, vec![event(), event()])
        .await
        .expect_err("the database is gone");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("unreachable") && text.contains("Nothing was written"),
        "{text}"
    );
    assert!(err.is_transient());

    let direct = EventStore::open(&config(direct_url), Arc::new(SystemClock)).await?;
    assert_eq!(
        direct.stream_version("Counter", "a").await?,
        1,
        "the failed append left nothing"
    );
    Ok(())
}

#[tokio::test]
async fn a_database_that_is_not_there_at_start_is_a_clear_error() -> Result {
    // Bind then drop a listener: the port is free and nothing answers on it.
    let port = TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();
    let url = format!("postgres://whistle:secret@127.0.0.1:{port}/whistle");
    let err = EventStore::open(&config(url), Arc::new(SystemClock))
        .await
        .expect_err("nothing listens there");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(
        text.contains(&format!(
            "PostgreSQL at postgres://whistle:***@127.0.0.1:{port}/whistle"
        )),
        "{text}"
    );
    assert!(!text.contains("secret"), "the password leaked: {text}");
    Ok(())
}

#[tokio::test]
async fn a_database_url_of_another_kind_is_refused_with_the_fix() -> Result {
    let err = EventStore::open(
        &config("mysql://root:pw@localhost/x".into()),
        Arc::new(SystemClock),
    )
    .await
    .expect_err("not supported");
    assert_eq!(
        err.to_string(),
        "event store configuration: DATABASE_URL must start with postgres:// or sqlite://, not `mysql://root:***@localhost/x`"
    );
    Ok(())
}

/// Holds `LOCK TABLE events IN EXCLUSIVE MODE` (inserts wait, reads go on) in a
/// transaction of its own until dropped.
async fn block_inserts(url: &str) -> anyhow::Result<sqlx::PgConnection> {
    use sqlx::Connection;
    let mut blocker = sqlx::PgConnection::connect(url).await?;
    sqlx::query("BEGIN").execute(&mut blocker).await?;
    sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await?;
    Ok(blocker)
}

/// An append that is sent but not answered in time is reported as possibly recorded, never
/// as "nothing was written": here the server is still waiting to run it, and commits it
/// once the lock goes.
#[tokio::test]
async fn an_unanswered_append_is_reported_as_possibly_recorded() -> Result {
    let url = fresh_postgres_url().await?;
    let store = EventStore::open(
        &StoreConfig {
            database_url: Some(url.clone()),
            append_timeout: Duration::from_millis(300),
            ..StoreConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await?;
    let blocker = block_inserts(&url).await?;
    let err = store
        .append("Counter", "a", 0, vec![event()])
        .await
        .expect_err("no answer while inserts are blocked");
    assert!(matches!(err, StoreError::OutcomeUnknown { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("Counter-a")
            && text.contains("may or may not have been recorded")
            && text.contains("read the stream before retrying"),
        "{text}"
    );
    assert!(
        !err.is_transient(),
        "an unknown outcome is not blindly retryable"
    );
    drop(blocker);
    // Either outcome is possible, and the stream says which: never half of it.
    let version = store.stream_version("Counter", "a").await?;
    assert!(version == 0 || version == 1, "{version}");
    Ok(())
}
