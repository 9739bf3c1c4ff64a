//! The one harness of the binary's integration tests: `whistle serve` on a free port, with
//! a database (SQLite file or PostgreSQL database) and NATS namespace of its own, and the
//! credentials it accepts.

// Each test file uses part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use whistle::StoreArgs;
use whistle::serve::{Running, ServeArgs, start};
use whistle_store::EventStore;
use whistle_store::test_support::{fresh_postgres_url, fresh_sqlite_path};
use whistle_ticket::Tickets;

/// The NATS server the tests use: `NATS_URL`, else `WHISTLE_TEST_NATS_URL`, else the
/// local one.
pub fn nats_url() -> String {
    std::env::var("NATS_URL")
        .or_else(|_| std::env::var("WHISTLE_TEST_NATS_URL"))
        .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// A running whistle, its store and the ticket executor its services use.
pub struct Whistle {
    running: Option<Running>,
    shutdown: CancellationToken,
    /// The executor the services use: commands sent through it wake them at once.
    pub tickets: Arc<Tickets>,
    /// Its event store.
    pub store: EventStore,
    /// Where the store (and the keys beside it) are.
    pub store_args: StoreArgs,
    /// Its NATS namespace (streams `TICKETS_<ns>`, subjects `<ns>.…`).
    pub namespace: String,
}

impl Whistle {
    /// Serves on PostgreSQL or SQLite, with or without NATS, with the shipped defaults.
    pub async fn start(postgres: bool, nats: bool) -> Self {
        Self::start_with(postgres, nats, |_| {}).await
    }

    /// Like [`Whistle::start`], with `configure` changing the options first.
    pub async fn start_with(
        postgres: bool,
        nats: bool,
        configure: impl FnOnce(&mut ServeArgs),
    ) -> Self {
        let database_url = if postgres {
            Some(
                fresh_postgres_url()
                    .await
                    .expect("a fresh PostgreSQL database"),
            )
        } else {
            None
        };
        let store_args = StoreArgs {
            database_url,
            sqlite: fresh_sqlite_path(),
        };
        let namespace = format!("t{}", uuid::Uuid::new_v4().simple());
        let mut args = ServeArgs {
            listen: "127.0.0.1:0".parse().expect("address"),
            nats_url: nats.then(nats_url),
            demo: false,
            catalogue: None,
            nats_namespace: Some(namespace.clone()),
            sla_policy: None,
            calendar: None,
            keys: Default::default(),
            intake_burst: 10,
            intake_per_minute: 6,
            web_dir: None,
        };
        configure(&mut args);
        let shutdown = CancellationToken::new();
        let running = start(&store_args, &args, shutdown.clone())
            .await
            .expect("whistle starts");
        let tickets = running.tickets();
        let store = tickets.store().clone();
        Self {
            running: Some(running),
            shutdown,
            tickets,
            store,
            store_args,
            namespace,
        }
    }

    /// Where HTTP listens.
    pub fn address(&self) -> SocketAddr {
        self.running.as_ref().expect("running").address
    }

    /// `name` under this whistle's NATS namespace.
    pub fn subject(&self, name: &str) -> String {
        format!("{}.{name}", self.namespace)
    }

    /// A bearer token this whistle accepts, for `role` in `scope`, valid for `ttl`.
    pub fn token_for(&self, role: &str, scope: &str, subject: &str, ttl: Duration) -> String {
        whistle::credentials::sign_token(
            &self.store_args,
            &whistle::keys::KeyArgs::default(),
            subject,
            role.parse().expect("a role"),
            scope.parse().expect("a scope"),
            ttl,
        )
        .expect("a token")
    }

    /// A bearer token this whistle accepts for ten minutes.
    pub fn token(&self, role: &str, scope: &str, subject: &str) -> String {
        self.token_for(role, scope, subject, Duration::from_secs(600))
    }

    /// A new integration key, stored as `whistle api-key create` stores it.
    pub async fn api_key(&self, name: &str) -> String {
        let key = whistle_api::auth::new_api_key().expect("a key");
        let stored = self
            .store
            .put_api_key(
                name,
                &whistle_api::auth::api_key_hash(&key),
                chrono::Utc::now(),
            )
            .await
            .expect("store the key");
        assert!(stored, "the key name {name} is new");
        key
    }

    /// Stops every service and waits for them.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(20), running.wait())
                .await
                .expect("every service stops within 20 s")
                .expect("no service failed");
        }
    }
}

/// One HTTP/1.0 request to `address`: the status and the body. `token` goes in as a bearer
/// token; `body` as JSON.
pub async fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let payload = body.map(|b| serde_json::to_vec(b).expect("JSON"));
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: whistle\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(payload) = &payload {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            payload.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("send");
    if let Some(payload) = &payload {
        stream.write_all(payload).await.expect("send the body");
    }
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Runs the repository's script `script` (a path from the repository's root) with `args`,
/// off the runtime (which keeps serving the requests it makes), and returns how it exited
/// and everything it printed. Its stdout and stderr share one pipe, so the output reads in
/// the order it was written.
pub async fn run_script(script: &str, args: Vec<String>) -> (std::process::ExitStatus, String) {
    use std::io::Read as _;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join(script);
    let shown = script.display().to_string();
    tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let (mut reader, writer) = std::io::pipe()?;
        let mut child = std::process::Command::new("bash")
            .arg(&script)
            .args(&args)
            .current_dir(&root)
            .stdout(writer.try_clone()?)
            .stderr(writer)
            .spawn()?;
        // The Command, and with it this process's writing ends, is gone: EOF comes when the
        // script and everything it started have exited.
        let mut output = Vec::new();
        reader.read_to_end(&mut output)?;
        Ok((child.wait()?, String::from_utf8_lossy(&output).into_owned()))
    })
    .await
    .expect("the script's thread")
    .unwrap_or_else(|e| panic!("bash runs {shown}: {e}"))
}
