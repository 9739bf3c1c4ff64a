//! The consoles in a real browser: whistle serves the demo tickets on PostgreSQL and NATS,
//! and `services/web/tests/run.sh` drives headless Chromium through them with
//! playwright-core (`services/web/tests/*.test.mjs`): each console renders, a complaint from
//! the form reaches the supervisor's board and the department's queue live, two liaisons
//! race to claim one summons, and the time slider changes the board. The run saves a
//! screenshot of each console in `docs/screenshots/`.
//!
//! The first run needs Chromium (Debian's package) and npm: run.sh installs what is
//! missing. When it cannot, this test fails rather than skips.

mod support;

use std::time::Duration;

use support::{Whistle, http};

/// Waits until the demo tickets reached the read models through NATS: the consoles are
/// screenshotted with their work in them. (`serve` answers before its consumers caught up.)
async fn demo_projected(w: &Whistle) {
    let views = [
        (
            "community",
            "community:hejianli",
            "/api/communities/hejianli/queue",
        ),
        (
            "street",
            "street:yangming",
            "/api/streets/yangming/dispatch-queue",
        ),
        (
            "liaison",
            "department:chengguan",
            "/api/departments/chengguan/queue",
        ),
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    for (role, scope, path) in views {
        let token = w.token(role, scope, "browser-test");
        loop {
            let (status, body) = http(w.address(), "GET", path, Some(&token), None).await;
            if status == 200 && body.contains("\"ticket\"") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the demo ticket never reached {path}: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consoles_work_in_a_real_browser() {
    let w = Whistle::start_with(true, true, |args| args.demo = true).await;
    demo_projected(&w).await;
    let base_url = format!("http://{}", w.address());
    let (status, report) = support::run_script("services/web/tests/run.sh", vec![base_url]).await;
    w.stop().await;
    assert!(
        status.success(),
        "the browser tests failed ({status}):\n{report}"
    );
    // node's summary: "ℹ pass 20", "ℹ fail 0". A run that found no test is no pass.
    let summary = |what: &str| {
        report
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("ℹ {what} ")))
            .and_then(|n| n.trim().parse::<u32>().ok())
    };
    assert_eq!(summary("fail"), Some(0), "{report}");
    assert!(summary("pass").is_some_and(|n| n >= 4), "{report}");
    println!("{report}");
}
