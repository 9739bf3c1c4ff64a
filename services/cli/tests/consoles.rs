//! The consoles as the binary serves them, without a browser: every page and every file a
//! page loads, the demo accounts (only with demo data), who-am-I, and the drill-down behind
//! the dashboard's figures.

mod support;

use serde_json::Value;
use support::{Whistle, http};

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON ({e}): {body}"))
}

/// The values of `attribute="…"` in `page`.
fn attributes<'a>(page: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!("{attribute}=\"");
    page.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &page[at + needle.len()..];
            rest.split_once('"').map(|(value, _)| value)
        })
        .collect()
}

#[tokio::test]
async fn every_console_and_every_file_it_loads_is_served_by_the_binary() {
    let w = Whistle::start(false, false).await;
    for &(address, _) in whistle_web::PAGES {
        let (status, page) = http(w.address(), "GET", address, None, None).await;
        assert_eq!(status, 200, "{address}: {page}");
        let loads: Vec<&str> = attributes(&page, "src")
            .into_iter()
            .chain(attributes(&page, "href"))
            .filter(|l| !l.starts_with("data:"))
            .collect();
        assert!(
            loads.iter().any(|l| l.ends_with(".js")),
            "{address} loads its script"
        );
        for load in loads {
            assert!(load.starts_with("/assets/"), "{address} loads {load}");
            let (status, body) = http(w.address(), "GET", load, None, None).await;
            assert_eq!(status, 200, "{address} loads {load}");
            assert!(!body.is_empty(), "{load} is not empty");
        }
    }
    // The API's own pages still answer beside the consoles.
    let (status, about) = http(w.address(), "GET", "/about", None, None).await;
    assert_eq!(status, 200);
    assert!(about.contains("文化路街道"), "{about}");
    let (status, missing) = http(w.address(), "GET", "/assets/js/nothing.js", None, None).await;
    assert_eq!(status, 404, "{missing}");
    w.stop().await;
}

#[tokio::test]
async fn demo_accounts_exist_only_with_demo_data_and_sign_in_as_who_they_say() {
    let plain = Whistle::start(false, false).await;
    let (status, body) = http(plain.address(), "GET", "/api/demo/accounts", None, None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(json(&body)["code"], "demo_off");
    let (status, body) = http(
        plain.address(),
        "POST",
        "/api/demo/accounts/supervisor-city/sign-in",
        None,
        None,
    )
    .await;
    assert_eq!(status, 404, "no token without demo data: {body}");
    plain.stop().await;

    // With demo data, but reachable from other machines: no one-click accounts either.
    let open = Whistle::start_with(false, false, |args| {
        args.demo = true;
        args.listen = "0.0.0.0:0".parse().expect("an address");
    })
    .await;
    let (status, body) = http(open.address(), "GET", "/api/demo/accounts", None, None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(json(&body)["code"], "demo_off");
    open.stop().await;

    let w = Whistle::start_with(false, false, |args| args.demo = true).await;
    let (status, body) = http(w.address(), "GET", "/api/demo/accounts", None, None).await;
    assert_eq!(status, 200, "{body}");
    let accounts = json(&body);
    let accounts = accounts.as_array().expect("a list");
    let roles: std::collections::BTreeSet<&str> =
        accounts.iter().filter_map(|a| a["role"].as_str()).collect();
    for role in [
        "operator",
        "grid_worker",
        "community",
        "street",
        "liaison",
        "supervisor",
    ] {
        assert!(roles.contains(role), "a demo {role}: {roles:?}");
    }
    for account in accounts {
        let name = account["name"].as_str().expect("a name");
        let (status, body) = http(
            w.address(),
            "POST",
            &format!("/api/demo/accounts/{name}/sign-in"),
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let token = json(&body)["token"].as_str().expect("a token").to_owned();
        let (status, body) = http(w.address(), "GET", "/api/me", Some(&token), None).await;
        assert_eq!(status, 200, "{name}: {body}");
        let me = json(&body);
        assert_eq!(me["subject"], account["subject"], "{name}");
        assert_eq!(me["role"], account["role"], "{name}");
        assert_eq!(me["scope"], account["scope"], "{name}");
    }
    let (_, body) = http(
        w.address(),
        "POST",
        "/api/demo/accounts/liaison-zhujian-wang/sign-in",
        None,
        None,
    )
    .await;
    let token = json(&body)["token"].as_str().expect("a token").to_owned();
    let (_, body) = http(w.address(), "GET", "/api/me", Some(&token), None).await;
    assert_eq!(json(&body)["scope_name"], "住建");
    let (status, body) = http(
        w.address(),
        "POST",
        "/api/demo/accounts/nobody/sign-in",
        None,
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(json(&body)["code"], "no_such_account");
    let (status, _) = http(w.address(), "GET", "/api/me", None, None).await;
    assert_eq!(status, 401);
    w.stop().await;
}

#[tokio::test]
async fn the_tickets_behind_a_figure_add_up_to_it() {
    let w = Whistle::start_with(true, false, |args| args.demo = true).await;
    let city = w.token("supervisor", "city", "city-duban");
    // The SLA projection catches up with the demo tickets after `serve` answers.
    let mut board = Value::Null;
    for _ in 0..100 {
        let (status, body) = http(w.address(), "GET", "/api/sla/board", Some(&city), None).await;
        assert_eq!(status, 200, "{body}");
        board = json(&body);
        if board["stages"]["received"].as_u64() == Some(1) && board["totals"] != Value::Null {
            let counted = board["groups"]
                .as_array()
                .and_then(|g| g.first())
                .and_then(|g| g["figures"]["tickets"].as_u64());
            if counted == Some(7) {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let groups = board["groups"].as_array().expect("groups");
    let figures_of = |dimension: &str, key: &str| {
        groups
            .iter()
            .find(|g| {
                g["dimension"] == dimension && g["key"] == key && g["period"]["kind"] == "all"
            })
            .map(|g| g["figures"].clone())
            .unwrap_or_else(|| panic!("a group {dimension}/{key}"))
    };
    let drilled = |query: String| {
        let token = city.clone();
        let address = w.address();
        async move {
            let (status, body) = http(
                address,
                "GET",
                &format!("/api/sla/drill?{query}&per_page=200"),
                Some(&token),
                None,
            )
            .await;
            assert_eq!(status, 200, "{query}: {body}");
            let page = json(&body);
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["count"].as_u64().expect("a count"))
                .sum::<u64>()
        }
    };
    let all = figures_of("all", "all");
    // Eight demo tickets, one of them merged into another.
    assert_eq!(all["tickets"].as_u64(), Some(7), "{all}");
    assert_eq!(
        drilled("dimension=all&key=all&period=all&figure=tickets".into()).await,
        all["tickets"].as_u64().expect("a count")
    );
    for (figure, rate) in [
        ("numerator:response", "response"),
        ("denominator:response", "response"),
        ("numerator:satisfaction", "satisfaction"),
        ("denominator:report_in_on_time", "report_in_on_time"),
    ] {
        let (part, field) = figure.split_once(':').expect("a part");
        assert_eq!(
            drilled(format!("dimension=all&key=all&period=all&figure={figure}")).await,
            all[rate][part]
                .as_u64()
                .unwrap_or_else(|| panic!("{field}: {all}")),
            "{figure}"
        );
    }
    let street = figures_of("street", "wenhualu");
    assert_eq!(
        drilled("dimension=street&key=wenhualu&period=all&figure=tickets".into()).await,
        street["tickets"].as_u64().expect("a count")
    );

    // Outside the scope, nothing: a 市中区 supervisor drills into 文化路 and finds no ticket.
    let shizhong = w.token("supervisor", "district:shizhong", "shizhong-duban");
    let (status, body) = http(
        w.address(),
        "GET",
        "/api/sla/drill?dimension=street&key=wenhualu&period=all&figure=tickets",
        Some(&shizhong),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["total"], 0, "{body}");

    for (query, needle) in [
        (
            "dimension=all&key=all&period=all&figure=bogus",
            "write tickets",
        ),
        (
            "dimension=all&key=all&period=all&figure=numerator:nope",
            "response",
        ),
        ("dimension=ward&key=all&period=all&figure=tickets", "street"),
        (
            "dimension=all&key=all&period=2026-13&figure=tickets",
            "YYYY-MM",
        ),
    ] {
        let (status, body) = http(
            w.address(),
            "GET",
            &format!("/api/sla/drill?{query}"),
            Some(&city),
            None,
        )
        .await;
        assert_eq!(status, 400, "{query}: {body}");
        let problem = json(&body);
        assert_eq!(problem["code"], "invalid_drill", "{query}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(needle)),
            "{query}: {body}"
        );
    }
    let liaison = w.token("liaison", "department:zhujian", "zhujian-wang");
    let (status, _) = http(
        w.address(),
        "GET",
        "/api/sla/drill?dimension=all&key=all&period=all&figure=tickets",
        Some(&liaison),
        None,
    )
    .await;
    assert_eq!(status, 403);
    w.stop().await;
}
