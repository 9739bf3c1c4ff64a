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

use support::Whistle;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consoles_work_in_a_real_browser() {
    let w = Whistle::start_with(true, true, |args| args.demo = true).await;
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
