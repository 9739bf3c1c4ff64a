//! The HTTP API fuzzed from its own OpenAPI document: whistle serves the demo tickets on port 0,
//! and `load-tests/api-fuzz/run.sh` points schemathesis at it once per role. A 5xx, a dropped
//! connection or a status the document does not list fails the test, and the output holds
//! schemathesis's report: each failure with the curl line that reproduces it.
//!
//! The first run needs Python 3 (with venv) and PyPI: run.sh installs the pinned schemathesis
//! into `target/api-fuzz-venv`. When it cannot, this test fails rather than skips, so a
//! machine without them shows up instead of passing unfuzzed.

use std::time::Duration;

mod support;

use support::Whistle;

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

/// Serves the demo on `database_url` (SQLite when `None`), fuzzes it, and stops it.
async fn fuzz(postgres: bool) {
    // Residents' limits as shipped: 429 is a documented answer, and every pass signs in.
    let w = Whistle::start_with(postgres, false, |args| args.demo = true).await;
    let base_url = format!("http://{}", w.address());
    let tokens: Vec<String> = ROLES
        .iter()
        .map(|(role, scope, subject)| {
            format!("{role}={}", w.token_for(role, scope, subject, TOKEN_TTL))
        })
        .collect();

    let spec_url = format!("{base_url}/openapi.json");
    // The script blocks for minutes; its report holds schemathesis's reports and which pass
    // is which, in the order they were written.
    let mut args = vec![base_url, spec_url];
    args.extend(tokens);
    let (status, report) = support::run_script("load-tests/api-fuzz/run.sh", args).await;

    w.stop().await;

    assert!(
        status.success(),
        "the API fuzz pass failed ({status}); schemathesis's report:\n{report}"
    );
    println!("{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_generated_from_the_openapi_document_gets_a_server_error() {
    fuzz(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_gets_a_server_error_on_postgres() {
    fuzz(true).await;
}
