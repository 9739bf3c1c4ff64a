//! The `whistle` binary, run as a user would: the demo on the embedded default and on
//! PostgreSQL, then reading a ticket back, and the errors a user sees.

use std::path::Path;
use std::process::{Command, Output};

use whistle_store::test_support::{fresh_postgres_url, fresh_sqlite_path};

fn whistle(args: &[&str], database_url: Option<&str>, sqlite: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_whistle"));
    command
        .args(args)
        .arg("--sqlite")
        .arg(sqlite)
        .env_remove("DATABASE_URL");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command.output().expect("the whistle binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn check_demo(database_url: Option<&str>) {
    let sqlite = fresh_sqlite_path();
    let demo = whistle(&["demo"], database_url, &sqlite);
    let text = stdout(&demo);
    assert!(
        demo.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert_eq!(text.matches("工单 ticket ").count(), 8, "{text}");
    for step in [
        "受理",
        "回应",
        "社区呼叫",
        "街道吹哨",
        "部门报到",
        "退单",
        "办结",
        "解决",
        "评价",
        "重办",
        "合并",
        "督办",
        "超时",
        "延期批准",
        "关闭",
    ] {
        assert!(text.contains(step), "the demo never shows {step}:\n{text}");
    }
    // The reporter's phone number never appears in a timeline.
    assert!(!text.contains("13800001234"), "{text}");

    // Read the first ticket back with `timeline`: the same lines the demo printed.
    let first = text
        .lines()
        .find(|l| l.starts_with("工单 ticket "))
        .expect("a ticket header");
    let id = first.split_whitespace().nth(2).expect("an id");
    let again = whistle(&["timeline", id], database_url, &sqlite);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != first)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(stdout(&again).lines().collect::<Vec<_>>(), block);

    // The log holds every event: 12 + 3 + 6 + 19 + 12 finished, 1 + 3 + 3 open.
    let log = whistle(&["log"], database_url, &sqlite);
    assert!(log.status.success());
    assert_eq!(stdout(&log).lines().count(), 59);
}

#[test]
fn the_demo_runs_on_the_embedded_default() {
    check_demo(None);
}

#[tokio::test]
async fn the_demo_runs_on_postgres() {
    let url = fresh_postgres_url().await.expect("a fresh database");
    tokio::task::spawn_blocking(move || check_demo(Some(&url)))
        .await
        .expect("demo thread");
}

#[test]
fn bad_input_gets_a_clear_error_and_a_failing_exit_code() {
    let sqlite = fresh_sqlite_path();
    let bad_id = whistle(&["timeline", "not-a-ticket"], None, &sqlite);
    assert_eq!(bad_id.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&bad_id.stderr).trim(),
        "whistle: reading the ticket id: ticket id `not-a-ticket` is not a UUID (such as `0190f1c2-7a7b-7cc3-9e1d-3c5d2a1b0f00`)"
    );
    let missing = whistle(
        &["timeline", "0190f1c2-7a7b-7cc3-9e1d-3c5d2a1b0f00"],
        None,
        &sqlite,
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("no ticket 0190f1c2-7a7b-7cc3-9e1d-3c5d2a1b0f00")
    );
    let wrong_url = whistle(
        &["migrate"],
        Some("mysql://root:hunter2@db/whistle"),
        &sqlite,
    );
    assert_eq!(wrong_url.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wrong_url.stderr);
    assert!(
        err.contains("DATABASE_URL must start with postgres:// or sqlite://")
            && !err.contains("hunter2"),
        "{err}"
    );
}

#[tokio::test]
async fn parked_messages_are_listed_with_their_reason() {
    let sqlite = fresh_sqlite_path();
    let empty = whistle(&["parked"], None, &sqlite);
    assert!(empty.status.success());
    assert!(
        stdout(&empty).contains("no parked messages"),
        "{}",
        stdout(&empty)
    );

    let store = whistle_store::EventStore::open(
        &whistle_store::StoreConfig {
            sqlite_path: sqlite.clone(),
            ..whistle_store::StoreConfig::default()
        },
        std::sync::Arc::new(whistle_clock::SystemClock),
    )
    .await
    .expect("store");
    store
        .commit_effect(
            "department",
            whistle_store::Position::new(42),
            &whistle_store::Effect::Park {
                event_id: "0197b3c2-0000-7000-8000-000000000042".into(),
                reason: "row `zhujian/x` of department_queue is unreadable".into(),
                attempts: 5,
                message: serde_json::json!({}),
            },
        )
        .await
        .expect("park");
    let listed = stdout(&whistle(&["parked"], None, &sqlite));
    assert!(listed.contains("department"), "{listed}");
    assert!(listed.contains("position                   42"), "{listed}");
    assert!(
        listed.contains("after 5 attempts: row `zhujian/x`"),
        "{listed}"
    );
}
