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

    // The SLA read models rebuilt from that log: every ticket timed, none left out; then
    // the board reads them.
    let rebuilt = whistle(&["sla", "rebuild"], database_url, &sqlite);
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let rebuilt: serde_json::Value = serde_json::from_str(&stdout(&rebuilt)).expect("JSON");
    assert_eq!(rebuilt["events"], 59, "{rebuilt}");
    assert_eq!(rebuilt["tickets"], 8, "{rebuilt}");
    assert_eq!(rebuilt["orphan_events"], 0, "{rebuilt}");
    assert!(
        rebuilt["deadlines"].as_u64().is_some_and(|d| d > 0),
        "{rebuilt}"
    );
    let board = whistle(&["sla", "board"], database_url, &sqlite);
    assert!(board.status.success());
    let board: serde_json::Value = serde_json::from_str(&stdout(&board)).expect("JSON");
    assert_eq!(board["totals"]["tickets"], 8, "{board}");
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

#[test]
fn calendar_computes_due_instants_and_checks_files() {
    let sqlite = fresh_sqlite_path();
    let run = |args: &[&str]| {
        let output = whistle(args, None, &sqlite);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout(&output)
    };
    // The five-minute rule on the built-in calendar: an evening, the Saturday worked before
    // the Spring Festival, and the festival itself.
    for (from, minutes, due) in [
        (
            "2026-03-10T19:58:00+08:00",
            "5",
            "2026-03-11T08:03:00+08:00",
        ),
        (
            "2026-02-13T19:58:00+08:00",
            "5",
            "2026-02-14T08:03:00+08:00",
        ),
        (
            "2026-02-14T19:58:00+08:00",
            "5",
            "2026-02-24T08:03:00+08:00",
        ),
        ("2026-03-10T11:58:00Z", "2", "2026-03-10T20:00:00+08:00"),
        (
            "2026-03-10T19:58:00+08:00",
            "0",
            "2026-03-10T19:58:00+08:00",
        ),
    ] {
        let printed = run(&[
            "calendar",
            "due",
            "--from",
            from,
            "--working-minutes",
            minutes,
        ]);
        assert_eq!(printed, format!("{due}\n"), "{from} + {minutes}");
    }
    // Someone is on duty every hour: the clock runs through the night.
    assert_eq!(
        run(&[
            "calendar",
            "due",
            "--from",
            "2026-02-14T19:58:00+08:00",
            "--working-minutes",
            "5",
            "--hours",
            "service-and-duty",
        ]),
        "2026-02-14T20:03:00+08:00\n"
    );
    assert_eq!(
        run(&[
            "calendar",
            "elapsed",
            "--from",
            "2026-03-10T19:58:00+08:00",
            "--to",
            "2026-03-11T08:05:00+08:00",
        ]),
        "7\n"
    );
    assert_eq!(
        run(&[
            "calendar",
            "elapsed",
            "--from",
            "2026-02-13T19:00:00+08:00",
            "--to",
            "2026-02-24T09:00:00+08:00",
        ]),
        "840\n"
    );

    // A calendar file: the repository's, then a copy with fewer service hours.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/calendar.toml");
    let file = file.to_str().expect("a UTF-8 path");
    let checked = run(&["calendar", "check", file]);
    assert!(checked.contains(", time zone Asia/Shanghai"), "{checked}");
    assert!(checked.contains("covers 2025, 2026"), "{checked}");
    let short = sqlite.with_extension("calendar.toml");
    let text = std::fs::read_to_string(file).expect("the calendar file");
    std::fs::write(&short, text.replace("end = \"20:00\"", "end = \"17:00\"")).expect("write");
    let short_path = short.to_str().expect("a UTF-8 path");
    assert_eq!(
        run(&[
            "calendar",
            "due",
            "--from",
            "2026-03-10T16:58:00+08:00",
            "--working-minutes",
            "5",
            "--calendar",
            short_path,
        ]),
        "2026-03-11T08:03:00+08:00\n"
    );

    // Mistakes: each a one-line `whistle: ...` and exit code 1.
    let broken = sqlite.with_extension("broken.toml");
    std::fs::write(
        &broken,
        text.replace("\"2026-02-14\", # Saturday", "\"2026-02-13\", # Friday"),
    )
    .expect("write");
    let broken_path = broken.to_str().expect("a UTF-8 path");
    for (args, says) in [
        (
            vec![
                "calendar",
                "due",
                "--from",
                "yesterday",
                "--working-minutes",
                "5",
            ],
            "whistle: --from `yesterday` is not an RFC 3339 instant",
        ),
        (
            vec![
                "calendar",
                "due",
                "--from",
                "2026-03-10T19:58:00+08:00",
                "--working-minutes",
                "-5",
            ],
            "whistle: --working-minutes is -5: give a number of minutes of 0 or more",
        ),
        (
            vec![
                "calendar",
                "due",
                "--from",
                "2026-03-10T19:58:00+08:00",
                "--working-minutes",
                "5",
                "--calendar",
                "/nonexistent/calendar.toml",
            ],
            "whistle: cannot read the calendar file /nonexistent/calendar.toml",
        ),
        (
            vec!["calendar", "check", broken_path],
            "2026-02-13 is a Friday, not a Saturday or Sunday",
        ),
    ] {
        let output = whistle(&args, None, &sqlite);
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with("whistle: "), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    let _ = std::fs::remove_file(short);
    let _ = std::fs::remove_file(broken);
}
