//! The HTTP API fuzzed from its own OpenAPI document: whistle serves the demo tickets on port 0,
//! and `load-tests/api-fuzz/run.sh` points schemathesis at it once per role. A 5xx, a dropped
//! connection or a status the document does not list fails the test, and the output holds
//! schemathesis's report: each failure with the curl line that reproduces it.
//!
//! The first run needs Python 3 (with venv) and PyPI: run.sh installs the pinned schemathesis
//! into `target/api-fuzz-venv`. When it cannot, this test fails rather than skips, so a
//! machine without them shows up instead of passing unfuzzed.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use whistle::StoreArgs;
use whistle::serve::{ServeArgs, start};
use whistle_store::test_support::{fresh_postgres_url, fresh_sqlite_path};

/// Who the passes run as: (role, scope, subject), in the order a ticket meets them, so each
/// role finds the work the earlier ones left (complaints taken in, then called up, whistled,
/// claimed, and supervised last, since supervisors also erase personal data).
const ROLES: [(&str, &str, &str); 5] = [
    ("operator", "intake", "fuzz-operator"),
    ("community", "community:hongqili", "fuzz-community"),
    ("street", "street:wenhualu", "fuzz-street"),
    ("liaison", "department:zhujian", "zhujian-wang"),
    ("supervisor", "city", "fuzz-supervisor"),
];

/// Long enough for the whole pass, with room for a slow first install.
const TOKEN_TTL: Duration = Duration::from_secs(60 * 60);

/// A bearer token `whistle serve` accepts, signed with the secrets it made next to the store.
fn token(store_args: &StoreArgs, role: &str, scope: &str, subject: &str) -> String {
    whistle::credentials::sign_token(
        store_args,
        &whistle::keys::KeyArgs::default(),
        subject,
        role.parse().expect("a role"),
        scope.parse().expect("a scope"),
        TOKEN_TTL,
    )
    .expect("a token")
}

/// Serves the demo on `database_url` (SQLite when `None`), fuzzes it, and stops it.
async fn fuzz(database_url: Option<String>) {
    let store_args = StoreArgs {
        database_url,
        sqlite: fresh_sqlite_path(),
    };
    let args = ServeArgs {
        listen: "127.0.0.1:0".parse().expect("address"),
        nats_url: None,
        demo: true,
        catalogue: None,
        nats_namespace: None,
        sla_policy: None,
        calendar: None,
        keys: Default::default(),
        // Residents' limits as shipped: 429 is a documented answer, and every pass signs in.
        intake_burst: 10,
        intake_per_minute: 6,
    };
    let shutdown = CancellationToken::new();
    let running = start(&store_args, &args, shutdown.clone())
        .await
        .expect("whistle starts");
    let base_url = format!("http://{}", running.address);
    let tokens: Vec<String> = ROLES
        .iter()
        .map(|(role, scope, subject)| {
            format!("{role}={}", token(&store_args, role, scope, subject))
        })
        .collect();

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("load-tests/api-fuzz/run.sh");
    let spec_url = format!("{base_url}/openapi.json");
    // The script blocks for minutes: off the runtime, which keeps serving the requests. Its
    // stdout (schemathesis's reports) and stderr (which pass is which) share one pipe, so the
    // report reads in the order it was written.
    let (status, report) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let (mut reader, writer) = std::io::pipe()?;
        let mut child = Command::new("bash")
            .arg(&script)
            .arg(&base_url)
            .arg(&spec_url)
            .args(&tokens)
            .current_dir(&root)
            .stdout(writer.try_clone()?)
            .stderr(writer)
            .spawn()?;
        // The Command, and with it this process's writing ends, is gone: EOF comes when the
        // script and everything it started have exited.
        let mut report = Vec::new();
        reader.read_to_end(&mut report)?;
        Ok((child.wait()?, String::from_utf8_lossy(&report).into_owned()))
    })
    .await
    .expect("the fuzz pass's thread")
    .expect("bash runs load-tests/api-fuzz/run.sh");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(20), running.wait())
        .await
        .expect("whistle stops within 20 s")
        .expect("no service failed under fuzzing");

    assert!(
        status.success(),
        "the API fuzz pass failed ({status}); schemathesis's report:\n{report}"
    );
    println!("{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_generated_from_the_openapi_document_gets_a_server_error() {
    fuzz(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_gets_a_server_error_on_postgres() {
    let url = fresh_postgres_url()
        .await
        .expect("a fresh PostgreSQL database");
    fuzz(Some(url)).await;
}
