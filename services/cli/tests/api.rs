//! The HTTP API against the real service on a random port: every role through its routes,
//! the authorization matrix (every role × every route × a resource inside and outside its
//! scope), residents' personal data (sealed, masked, erased, never logged), and the error
//! answers (400/401/403/404/409/413/415/422/429).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use whistle_events::{DepartmentId, EventMetadata, Location, Text, TicketId};
use whistle_ticket::TicketCommand;

mod support;

use support::Whistle;

/// Everything logged while these tests run, to search for personal data.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();

/// Installs the capturing subscriber once, at the most verbose level.
fn logs() -> Captured {
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let _ = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(captured.clone())
            .try_init();
        captured
    })
    .clone()
}

/// Serves with `intake_burst` anonymous complaints per address at once, one a minute
/// after that, capturing the logs.
async fn serve(postgres: bool, nats: bool, intake_burst: u32) -> Whistle {
    logs();
    Whistle::start_with(postgres, nats, |args| {
        args.intake_burst = intake_burst;
        args.intake_per_minute = 1;
    })
    .await
}

/// Test data of the API tests.
trait Records {
    async fn ticket(&self, place: (&str, &str, &str), departments: &[&str]) -> TicketId;
}

impl Records for Whistle {
    /// Records a complaint at `community` of `street` in `district`, with the resident's
    /// contact, and (optionally) a whistle summoning `departments`.
    async fn ticket(&self, place: (&str, &str, &str), departments: &[&str]) -> TicketId {
        let ticket = TicketId::new_random();
        let received = whistle_events::ticket::Received {
            channel: whistle_events::Channel::Hotline,
            reporter: whistle_events::ReporterContact {
                name: Some("王秀英".to_owned()),
                phone: Some("13912345678".to_owned()),
                address: Some("红旗里小区 3号楼 2单元 501".to_owned()),
            },
            sealed_reporter: None,
            location: Location {
                district: place.0.parse().expect("district"),
                street: place.1.parse().expect("street"),
                community: place.2.parse().expect("community"),
                grid: None,
                place: None,
            },
            category: whistle_events::Category::Drains,
            urgency: whistle_events::Urgency::Major,
            description: Text::description("雨水井堵塞，路面积水").expect("text"),
            source: None,
        };
        let metadata = EventMetadata::by("hotline-operator-01".parse().expect("actor"));
        self.tickets
            .execute(ticket, TicketCommand::Receive(received), &metadata)
            .await
            .expect("receive");
        if !departments.is_empty() {
            let departments: Vec<DepartmentId> = departments
                .iter()
                .map(|d| d.parse().expect("department"))
                .collect();
            self.tickets
                .execute(
                    ticket,
                    TicketCommand::Acknowledge {
                        reply: Text::note("已收到").expect("text"),
                    },
                    &metadata,
                )
                .await
                .expect("acknowledge");
            self.tickets
                .execute(
                    ticket,
                    TicketCommand::CallUp {
                        reason: Text::reason("需要部门处理").expect("text"),
                    },
                    &metadata,
                )
                .await
                .expect("call up");
            // The street stage may whistle on its own; summon whoever is not yet.
            let state = self.tickets.load(ticket).await.expect("load");
            let missing: Vec<DepartmentId> = departments
                .iter()
                .filter(|d| !state.summonses().contains_key(*d))
                .cloned()
                .collect();
            if !missing.is_empty() {
                let lead = state.lead().cloned().unwrap_or_else(|| missing[0].clone());
                let outcome = self
                    .tickets
                    .execute(
                        ticket,
                        TicketCommand::BlowWhistle {
                            departments: missing,
                            lead,
                            reason: Text::reason("测试").expect("text"),
                        },
                        &metadata,
                    )
                    .await;
                // The street stage may have whistled the same departments meanwhile.
                if let Err(e) = outcome {
                    assert!(e.to_string().contains("already summoned"), "{e}");
                }
            }
        }
        ticket
    }
}

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    fn code(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// One HTTP/1.1 request with `Connection: close`. Server-sent event streams are read up
/// to their headers only.
async fn call(
    address: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: whistle\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let payload = match body {
        Some((content_type, bytes)) => {
            if !content_type.is_empty() {
                request.push_str(&format!("Content-Type: {content_type}\r\n"));
            }
            request.push_str(&format!("Content-Length: {}\r\n", bytes.len()));
            bytes
        }
        None => {
            if method == "POST" {
                request.push_str("Content-Length: 0\r\n");
            }
            Vec::new()
        }
    };
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    stream.write_all(&payload).await.expect("send body");
    let mut response = Vec::new();
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buffer))
            .await
            .expect("an answer within 30 s")
            .expect("read");
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&response);
        if text.contains("\r\n\r\n") && text.to_lowercase().contains("text/event-stream") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = if head.to_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers: head.to_owned(),
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

fn json_body(value: Value) -> Option<(&'static str, Vec<u8>)> {
    Some((
        "application/json",
        serde_json::to_vec(&value).expect("JSON"),
    ))
}

/// Where a route's resource lies.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// One ticket: outside the scope it does not exist (404).
    Ticket,
    /// A community's, street's or department's queue: outside the scope, 403.
    Located,
    /// Lists and boards filtered to the scope, and intake: no outside.
    Anywhere,
}

struct Route {
    method: &'static str,
    path: String,
    body: Option<Value>,
    kind: Kind,
    roles: &'static [&'static str],
}

const READERS: &[&str] = &[
    "grid_worker",
    "community",
    "street",
    "liaison",
    "supervisor",
];
const COMMUNITY: &[&str] = &["grid_worker", "community"];

fn routes(ticket: TicketId) -> Vec<Route> {
    let t = |suffix: &str| format!("/api/tickets/{ticket}{suffix}");
    let route = |method, path: String, body: Option<Value>, kind, roles| Route {
        method,
        path,
        body,
        kind,
        roles,
    };
    let reason = || Some(json!({"reason": "测试权限"}));
    vec![
        route("GET", "/api/tickets".into(), None, Kind::Anywhere, READERS),
        route("GET", t(""), None, Kind::Ticket, READERS),
        route("GET", t("/timeline"), None, Kind::Ticket, READERS),
        route("GET", t("/clocks"), None, Kind::Ticket, READERS),
        route(
            "GET",
            "/api/communities/hongqili/queue".into(),
            None,
            Kind::Located,
            COMMUNITY,
        ),
        route(
            "POST",
            t("/acknowledge"),
            Some(json!({"reply": "收到"})),
            Kind::Ticket,
            COMMUNITY,
        ),
        route(
            "POST",
            t("/handle-locally"),
            reason(),
            Kind::Ticket,
            COMMUNITY,
        ),
        route("POST", t("/call-up"), reason(), Kind::Ticket, COMMUNITY),
        route("POST", t("/resolve"), reason(), Kind::Ticket, COMMUNITY),
        route(
            "GET",
            "/api/streets/wenhualu/dispatch-queue".into(),
            None,
            Kind::Located,
            &["street"],
        ),
        route(
            "GET",
            "/api/streets/wenhualu/extension-requests".into(),
            None,
            Kind::Located,
            &["street"],
        ),
        route(
            "POST",
            t("/whistle"),
            Some(json!({"departments": ["zhujian"], "reason": "再次"})),
            Kind::Ticket,
            &["street"],
        ),
        route(
            "POST",
            t("/summons/zhujian/extension/approve"),
            reason(),
            Kind::Ticket,
            &["street"],
        ),
        route(
            "POST",
            t("/summons/zhujian/extension/deny"),
            reason(),
            Kind::Ticket,
            &["street"],
        ),
        route(
            "GET",
            "/api/departments/zhujian/queue".into(),
            None,
            Kind::Located,
            &["liaison"],
        ),
        route(
            "GET",
            "/api/departments/zhujian/notices".into(),
            None,
            Kind::Located,
            &["liaison"],
        ),
        route(
            "POST",
            t("/summons/zhujian/progress"),
            Some(json!({"note": "进展"})),
            Kind::Ticket,
            &["liaison"],
        ),
        route(
            "POST",
            t("/summons/zhujian/extension"),
            Some(json!({"until": "2099-01-01T00:00:00Z", "reason": "需要时间"})),
            Kind::Ticket,
            &["liaison"],
        ),
        route(
            "POST",
            t("/summons/zhujian/claim"),
            None,
            Kind::Ticket,
            &["liaison"],
        ),
        route(
            "POST",
            t("/summons/zhujian/finish"),
            Some(json!({"fixed": true, "outcome": "已修复"})),
            Kind::Ticket,
            &["liaison"],
        ),
        route(
            "GET",
            "/api/sla/board".into(),
            None,
            Kind::Anywhere,
            &["street", "supervisor"],
        ),
        route(
            "GET",
            "/api/sla/at-risk".into(),
            None,
            Kind::Anywhere,
            &["street", "supervisor"],
        ),
        route(
            "GET",
            "/api/sla/breached".into(),
            None,
            Kind::Anywhere,
            &["street", "supervisor"],
        ),
        route(
            "GET",
            "/api/sla/ranking?month=2026-03".into(),
            None,
            Kind::Anywhere,
            &["street", "supervisor"],
        ),
        route(
            "GET",
            "/api/sla/drill?dimension=all&key=all&period=all&figure=numerator:response".into(),
            None,
            Kind::Anywhere,
            &["street", "supervisor"],
        ),
        route(
            "GET",
            "/api/me".into(),
            None,
            Kind::Anywhere,
            &[
                "operator",
                "grid_worker",
                "community",
                "street",
                "liaison",
                "supervisor",
            ],
        ),
        route(
            "GET",
            "/api/sla/what-if".into(),
            None,
            Kind::Anywhere,
            &["street", "supervisor"],
        ),
        route(
            "GET",
            "/api/sla/alerts".into(),
            None,
            Kind::Anywhere,
            &["street", "supervisor"],
        ),
        route(
            "POST",
            t("/supervision"),
            Some(json!({"level": "district", "reason": "督办"})),
            Kind::Ticket,
            &["supervisor"],
        ),
        route(
            "POST",
            "/api/complaints".into(),
            Some(json!({"category": "drains", "community": "hongqili", "description": "井盖缺失"})),
            Kind::Anywhere,
            &["operator", "grid_worker", "community"],
        ),
        route(
            "POST",
            t("/merge"),
            Some(json!({"into": ticket.to_string(), "reason": "重复"})),
            Kind::Ticket,
            &["street"],
        ),
        route(
            "POST",
            t("/erase-personal-data"),
            reason(),
            Kind::Ticket,
            &["supervisor"],
        ),
    ]
}

/// A caller, and whether the matrix's ticket (红旗里, 文化路, 海港区, summoned 住建) is
/// inside its scope.
struct Caller {
    role: &'static str,
    scope: &'static str,
    subject: &'static str,
    inside: bool,
}

const CALLERS: &[Caller] = &[
    Caller {
        role: "operator",
        scope: "intake",
        subject: "hotline-01",
        inside: false,
    },
    Caller {
        role: "grid_worker",
        scope: "community:hongqili",
        subject: "grid-01",
        inside: true,
    },
    Caller {
        role: "grid_worker",
        scope: "community:chafang",
        subject: "grid-02",
        inside: false,
    },
    Caller {
        role: "community",
        scope: "community:hongqili",
        subject: "hongqili-li",
        inside: true,
    },
    Caller {
        role: "community",
        scope: "community:fujie",
        subject: "fujie-li",
        inside: false,
    },
    Caller {
        role: "street",
        scope: "street:wenhualu",
        subject: "wenhualu-chen",
        inside: true,
    },
    Caller {
        role: "street",
        scope: "street:tongjiang",
        subject: "tongjiang-chen",
        inside: false,
    },
    Caller {
        role: "liaison",
        scope: "department:zhujian",
        subject: "zhujian-wang",
        inside: true,
    },
    Caller {
        role: "liaison",
        scope: "department:paichusuo",
        subject: "paichusuo-li",
        inside: false,
    },
    Caller {
        role: "supervisor",
        scope: "district:haigang",
        subject: "haigang-du",
        inside: true,
    },
    Caller {
        role: "supervisor",
        scope: "district:shizhong",
        subject: "shizhong-du",
        inside: false,
    },
    Caller {
        role: "supervisor",
        scope: "city",
        subject: "city-du",
        inside: true,
    },
];

/// What the matrix expects of `caller` on `route`: `None` allowed, else the denial code.
fn expected(caller: &Caller, route: &Route) -> Option<&'static str> {
    let role_may = route.roles.contains(&caller.role);
    // Tickets and queues outside the scope; intake only holds for intake routes.
    let inside = caller.inside || route.kind == Kind::Anywhere;
    let inside = inside && !(caller.scope == "intake" && route.kind != Kind::Anywhere);
    let reads = READERS.contains(&caller.role) && caller.inside;
    match route.kind {
        Kind::Ticket if !role_may && reads => Some("role_not_permitted"),
        Kind::Ticket if !role_may || !inside => Some("ticket_not_found"),
        _ if !role_may => Some("role_not_permitted"),
        _ if !inside => Some("out_of_scope"),
        // A grid worker or community worker of another community types complaints in
        // only for their own community.
        Kind::Anywhere
            if route.path == "/api/complaints"
                && !caller.inside
                && caller.scope.starts_with("community:") =>
        {
            Some("out_of_scope")
        }
        _ => None,
    }
}

const DENIALS: [&str; 4] = [
    "role_not_permitted",
    "ticket_not_found",
    "out_of_scope",
    "missing_credentials",
];

#[tokio::test]
async fn every_role_sees_and_touches_only_its_scope() {
    let w = serve(false, false, 1_000).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for caller in CALLERS {
        // A fresh ticket per caller: what one allowed command changes does not decide
        // another caller's answer.
        let ticket = w
            .ticket(("haigang", "wenhualu", "hongqili"), &["zhujian"])
            .await;
        let token = w.token(caller.role, caller.scope, caller.subject);
        for route in routes(ticket) {
            let body = route.body.clone().and_then(json_body);
            let answer = call(w.address(), route.method, &route.path, Some(&token), body).await;
            let code = answer.code();
            let denied = DENIALS.contains(&code.as_str()) || answer.status == 401;
            checked += 1;
            match expected(caller, &route) {
                None if denied || answer.status >= 500 => failures.push(format!(
                    "{} {} by {} {}: expected allowed, got {} {}",
                    route.method, route.path, caller.role, caller.scope, answer.status, answer.body
                )),
                Some(want) if code != want => failures.push(format!(
                    "{} {} by {} {}: expected {want}, got {} {}",
                    route.method, route.path, caller.role, caller.scope, answer.status, answer.body
                )),
                Some(want) => {
                    let status = if want == "ticket_not_found" { 404 } else { 403 };
                    if answer.status != status {
                        failures.push(format!(
                            "{} {}: {want} with status {}",
                            route.method, route.path, answer.status
                        ));
                    }
                }
                None => {}
            }
        }
    }
    // Without credentials: 401 everywhere but public intake.
    let ticket = w.ticket(("haigang", "wenhualu", "hongqili"), &[]).await;
    for route in routes(ticket) {
        let body = route.body.clone().and_then(json_body);
        let answer = call(w.address(), route.method, &route.path, None, body).await;
        checked += 1;
        let public = route.path == "/api/complaints";
        if public != (answer.status != 401) {
            failures.push(format!(
                "{} {} without credentials: {} {}",
                route.method, route.path, answer.status, answer.body
            ));
        }
        if !public
            && !answer
                .headers
                .to_lowercase()
                .contains("www-authenticate: bearer")
        {
            failures.push(format!(
                "{} {}: 401 without WWW-Authenticate",
                route.method, route.path
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 350, "only {checked} checks");

    // Lists are filtered to the scope: another street's supervisor sees none of 海港区.
    let answer = call(
        w.address(),
        "GET",
        "/api/tickets?per_page=200",
        Some(&w.token("supervisor", "district:shizhong", "shizhong-du")),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["total"], 0, "{}", answer.body);
    let answer = call(
        w.address(),
        "GET",
        "/api/tickets?per_page=200",
        Some(&w.token("liaison", "department:zhujian", "zhujian-wang")),
        None,
    )
    .await;
    assert_eq!(answer.json()["total"], CALLERS.len(), "{}", answer.body);
    w.stop().await;
}

/// A complaint from the form to the resident's rating, over HTTP only, on PostgreSQL and
/// NATS; the resident's contact is masked, erased, and never logged.
#[tokio::test]
async fn a_complaint_goes_through_every_role_over_http() {
    let w = serve(true, true, 1_000).await;
    let a = w.address();
    let phone = "13687654321";
    let name = "赵丽华";
    let address = "红旗里小区 7号楼 1单元 302";

    // A resident submits, anonymously.
    let answer = call(
        a,
        "POST",
        "/api/complaints",
        None,
        json_body(json!({
            "category": "drains",
            "community": "hongqili",
            "place": "红旗里小区 7号楼",
            "description": "楼前雨水井堵塞，下雨就积水",
            "urgency": "major",
            "contact": {"name": name, "phone": phone, "address": address}
        })),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let receipt = answer.json();
    let ticket = receipt["ticket"].as_str().expect("ticket").to_owned();
    let token = receipt["receipt_token"].as_str().expect("token").to_owned();
    let follow = call(a, "GET", &format!("/api/receipts/{token}"), None, None).await;
    assert_eq!(follow.status, 200, "{}", follow.body);
    assert_eq!(follow.json()["stage"], "received");

    // The community sees the contact in full; the supervisor sees it masked.
    let community = w.token("community", "community:hongqili", "hongqili-li");
    let supervisor = w.token("supervisor", "district:haigang", "haigang-du");
    let seen = call(
        a,
        "GET",
        &format!("/api/tickets/{ticket}"),
        Some(&community),
        None,
    )
    .await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.json()["contact"]["phone"], phone);
    assert_eq!(seen.json()["contact"]["shown"], "full");
    let seen = call(
        a,
        "GET",
        &format!("/api/tickets/{ticket}"),
        Some(&supervisor),
        None,
    )
    .await;
    assert_eq!(
        seen.json()["contact"]["phone"],
        "136****4321",
        "{}",
        seen.body
    );
    assert!(!seen.body.contains(name) && !seen.body.contains(address));

    // Acknowledge and call up.
    for (path, body) in [
        ("acknowledge", json!({"reply": "您好，已收到，马上安排"})),
        ("call-up", json!({"reason": "需住建、环卫处理"})),
    ] {
        let answer = call(
            a,
            "POST",
            &format!("/api/tickets/{ticket}/{path}"),
            Some(&community),
            json_body(body),
        )
        .await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    // The street whistles automatically (文化路 is `auto`); wait for 住建's summons.
    let liaison = w.token("liaison", "department:zhujian", "zhujian-wang");
    let rival = w.token("liaison", "department:zhujian", "zhujian-zhao");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let queue = call(
            a,
            "GET",
            "/api/departments/zhujian/queue",
            Some(&liaison),
            None,
        )
        .await;
        if queue.body.contains(&ticket) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no summons: {}",
            queue.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two liaisons race to claim: exactly one wins, the other is told who.
    let claim = format!("/api/tickets/{ticket}/summons/zhujian/claim");
    let (first, second) = tokio::join!(
        call(a, "POST", &claim, Some(&liaison), None),
        call(a, "POST", &claim, Some(&rival), None)
    );
    let mut statuses = [first.status, second.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", first.body, second.body);
    let (winner, loser, winner_token) = if first.status == 200 {
        ("zhujian-wang", &second, &liaison)
    } else {
        ("zhujian-zhao", &first, &rival)
    };
    assert_eq!(loser.code(), "already_claimed");
    assert!(loser.body.contains(winner), "{}", loser.body);
    assert_eq!(
        loser.json()["holder"],
        winner,
        "the problem names the holder for consoles"
    );
    // The liaison holding it sees the contact in full (they call the resident).
    let seen = call(
        a,
        "GET",
        &format!("/api/tickets/{ticket}"),
        Some(winner_token),
        None,
    )
    .await;
    assert_eq!(seen.json()["contact"]["phone"], phone, "{}", seen.body);

    // Every summoned department reports in and finishes.
    let state = w
        .tickets
        .load(TicketId::parse(&ticket).expect("id"))
        .await
        .expect("load");
    for department in state.summonses().keys() {
        let department = department.as_str();
        let token = if department == "zhujian" {
            winner_token.clone()
        } else {
            let t = w.token(
                "liaison",
                &format!("department:{department}"),
                &format!("{department}-li"),
            );
            let answer = call(
                a,
                "POST",
                &format!("/api/tickets/{ticket}/summons/{department}/claim"),
                Some(&t),
                None,
            )
            .await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            t
        };
        let answer = call(
            a,
            "POST",
            &format!("/api/tickets/{ticket}/summons/{department}/finish"),
            Some(&token),
            json_body(json!({"fixed": true, "outcome": "已疏通"})),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    // The street resolves; the resident rates.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let follow = call(a, "GET", &format!("/api/receipts/{token}"), None, None).await;
        if follow.json()["can_rate"] == true {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not resolved: {}",
            follow.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rated = call(
        a,
        "POST",
        &format!("/api/receipts/{token}/rating"),
        None,
        json_body(
            json!({"resolved": true, "satisfied": true, "score": 5, "comment": "很快，谢谢"}),
        ),
    )
    .await;
    assert_eq!(rated.status, 200, "{}", rated.body);
    let again = call(
        a,
        "POST",
        &format!("/api/receipts/{token}/rating"),
        None,
        json_body(json!({"resolved": true, "satisfied": true})),
    )
    .await;
    assert_eq!(
        (again.status, again.code().as_str()),
        (409, "feedback_recorded"),
        "{}",
        again.body
    );
    // The status page now shows the rating and offers no second one; the community's
    // reply is what the resident was told when it acknowledged.
    let follow = call(a, "GET", &format!("/api/receipts/{token}"), None, None).await;
    let follow = follow.json();
    assert_eq!(follow["can_rate"], false, "{follow}");
    assert_eq!(follow["rating"]["score"], 5, "{follow}");
    assert_eq!(follow["rating"]["comment"], "很快，谢谢", "{follow}");
    let acknowledged = follow["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["what"] == "Acknowledged"))
        .cloned()
        .unwrap_or_default();
    assert!(acknowledged["told"].is_string(), "{follow}");

    // The timeline shows every step with actor and time, and no personal data.
    let timeline = call(
        a,
        "GET",
        &format!("/api/tickets/{ticket}/timeline"),
        Some(&supervisor),
        None,
    )
    .await;
    assert_eq!(timeline.status, 200);
    for kind in [
        "Received",
        "Acknowledged",
        "CalledUp",
        "WhistleBlown",
        "DepartmentReportedIn",
        "DepartmentFinished",
        "Resolved",
        "FeedbackRecorded",
    ] {
        assert!(
            timeline.body.contains(kind),
            "{kind} missing: {}",
            timeline.body
        );
    }
    assert!(
        timeline.json()[1]["actor"]
            .as_str()
            .is_some_and(|a| a.contains("hongqili-li"))
    );

    // The supervisor erases the resident's personal data: nobody can read it any more.
    let erased = call(
        a,
        "POST",
        &format!("/api/tickets/{ticket}/erase-personal-data"),
        Some(&supervisor),
        json_body(json!({"reason": "居民申请删除个人信息"})),
    )
    .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    let seen = call(
        a,
        "GET",
        &format!("/api/tickets/{ticket}"),
        Some(&community),
        None,
    )
    .await;
    assert_eq!(seen.json()["contact"]["shown"], "erased", "{}", seen.body);
    assert!(!seen.body.contains(phone));
    let timeline = call(
        a,
        "GET",
        &format!("/api/tickets/{ticket}/timeline"),
        Some(&supervisor),
        None,
    )
    .await;
    assert!(
        timeline.body.contains("PersonalDataErased"),
        "{}",
        timeline.body
    );

    // Metrics and logs never hold the resident's data.
    let metrics = call(a, "GET", "/metrics", None, None).await;
    assert_eq!(metrics.status, 200);
    let logged = String::from_utf8_lossy(
        &logs()
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
    )
    .into_owned();
    assert!(logged.len() > 1_000, "the run logged almost nothing");
    for secret in [phone, name, address, "13912345678", "王秀英"] {
        assert!(!metrics.body.contains(secret), "{secret} in /metrics");
        assert!(!logged.contains(secret), "{secret} in the logs");
    }
    w.stop().await;
}

#[tokio::test]
async fn bad_requests_get_a_problem_saying_what_to_do() {
    let w = serve(false, false, 2).await;
    let a = w.address();
    let ticket = w.ticket(("haigang", "wenhualu", "hongqili"), &[]).await;
    let community = w.token("community", "community:hongqili", "hongqili-li");
    let problem = |answer: &Answer, status: u16, code: &str| {
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{}",
            answer.body
        );
        assert!(
            answer
                .headers
                .to_lowercase()
                .contains("content-type: application/problem+json"),
            "{}",
            answer.headers
        );
        assert!(
            !answer.json()["detail"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
    };
    let ack = format!("/api/tickets/{ticket}/acknowledge");

    problem(
        &call(a, "GET", "/api/tickets/not-a-uuid", Some(&community), None).await,
        404,
        "ticket_not_found",
    );
    problem(
        &call(a, "GET", "/api/tickets?page=0", Some(&community), None).await,
        400,
        "invalid_page",
    );
    problem(
        &call(
            a,
            "GET",
            "/api/tickets?stage=flying",
            Some(&community),
            None,
        )
        .await,
        400,
        "invalid_stage",
    );
    problem(
        &call(
            a,
            "GET",
            "/api/sla/board?as_of=yesterday",
            Some(&w.token("supervisor", "city", "du")),
            None,
        )
        .await,
        400,
        "invalid_instant",
    );
    problem(
        &call(a, "POST", &ack, Some("not-a-token"), None).await,
        401,
        "invalid_token",
    );
    problem(
        &call(
            a,
            "POST",
            &ack,
            Some(&community),
            Some(("application/json", b"{not json".to_vec())),
        )
        .await,
        400,
        "malformed_body",
    );
    problem(
        &call(
            a,
            "POST",
            &ack,
            Some(&community),
            Some(("text/plain", b"hello".to_vec())),
        )
        .await,
        415,
        "unsupported_media_type",
    );
    problem(
        &call(
            a,
            "POST",
            &ack,
            Some(&community),
            json_body(json!({"answer": "wrong field"})),
        )
        .await,
        422,
        "invalid_body",
    );
    problem(
        &call(
            a,
            "POST",
            &ack,
            Some(&community),
            json_body(json!({"reply": "   "})),
        )
        .await,
        422,
        "invalid_text",
    );
    let big = json!({"reply": "长".repeat(40_000)});
    problem(
        &call(a, "POST", &ack, Some(&community), json_body(big)).await,
        413,
        "body_too_large",
    );
    assert_eq!(
        call(
            a,
            "POST",
            &ack,
            Some(&community),
            json_body(json!({"reply": "收到"}))
        )
        .await
        .status,
        200
    );
    problem(
        &call(
            a,
            "POST",
            &ack,
            Some(&community),
            json_body(json!({"reply": "收到"})),
        )
        .await,
        409,
        "already_acknowledged",
    );
    problem(
        &call(a, "GET", "/api/nowhere", None, None).await,
        404,
        "no_such_route",
    );
    problem(
        &call(a, "DELETE", "/api/complaints", None, None).await,
        405,
        "method_not_allowed",
    );
    problem(
        &call(a, "GET", "/api/receipts/forged-token", None, None).await,
        404,
        "unknown_receipt",
    );
    let complaint = || {
        json_body(json!({"category": "drains", "community": "hongqili", "description": "井盖缺失"}))
    };
    problem(
        &call(
            a,
            "POST",
            "/api/complaints",
            None,
            json_body(json!({"category": "drains", "community": "atlantis", "description": "x"})),
        )
        .await,
        422,
        "unknown_location",
    );
    problem(
        &call(
            a,
            "POST",
            "/api/complaints",
            None,
            json_body(json!({
                "category": "drains", "community": "hongqili", "description": "井盖缺失",
                "contact": {"phone": "12"}
            })),
        )
        .await,
        422,
        "invalid_phone",
    );
    problem(
        &call(
            a,
            "POST",
            "/api/complaints",
            None,
            json_body(
                json!({"category": "volcanoes", "community": "hongqili", "description": "x"}),
            ),
        )
        .await,
        422,
        "invalid_body",
    );
    // Anonymous intake is rate-limited per address (a burst of 2 here); staff are not.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(call(a, "POST", "/api/complaints", None, complaint()).await);
    }
    let limited = statuses.last().expect("three answers");
    problem(limited, 429, "rate_limited");
    assert!(
        limited.headers.to_lowercase().contains("retry-after:"),
        "{}",
        limited.headers
    );
    let operator = w.token("operator", "intake", "hotline-01");
    assert_eq!(
        call(a, "POST", "/api/complaints", Some(&operator), complaint())
            .await
            .status,
        201
    );

    // Health and readiness.
    assert_eq!(call(a, "GET", "/healthz", None, None).await.status, 200);
    let ready = call(a, "GET", "/readyz", None, None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["database"], true);
    w.stop().await;
}

/// Reads the server-sent events of `path` until one holds `needle`, for at most 10 s.
async fn until_event(address: SocketAddr, path: &str, token: &str, needle: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: whistle\r\nAccept: text/event-stream\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut seen = String::new();
    let mut buffer = vec![0u8; 16 * 1024];
    tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(needle) {
            let n = stream.read(&mut buffer).await.expect("read events");
            assert!(n > 0, "the event stream ended: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no event with {needle} on {path}: {seen}"));
    seen
}

#[tokio::test]
async fn live_queues_show_new_work_without_a_reload() {
    let w = serve(false, false, 1_000).await;
    let community = w.token("community", "community:hongqili", "hongqili-li");
    let first = until_event(
        w.address(),
        "/api/communities/hongqili/queue/live",
        &community,
        "event: queue",
    );
    let answer = call(
        w.address(),
        "POST",
        "/api/complaints",
        None,
        json_body(
            json!({"category": "drains", "community": "hongqili", "description": "井盖缺失"}),
        ),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let ticket = answer.json()["ticket"].as_str().expect("ticket").to_owned();
    // Whether the first event already held it or a later one does, it arrives.
    let seen = first.await;
    let seen = if seen.contains(&ticket) {
        seen
    } else {
        until_event(
            w.address(),
            "/api/communities/hongqili/queue/live",
            &community,
            &ticket,
        )
        .await
    };
    assert!(
        seen.contains("event: queue") && seen.contains(&ticket),
        "{seen}"
    );
    let supervisor = w.token("supervisor", "city", "city-du");
    let board = until_event(
        w.address(),
        "/api/sla/board/live",
        &supervisor,
        // Sent again once the SLA projection has counted the complaint.
        "\"received\":1",
    )
    .await;
    assert!(board.contains("event: board"), "{board}");
    w.stop().await;
}

/// Polls the street's extension requests until `ticket`'s is there (`listed`) or gone.
async fn extension_listed(
    address: SocketAddr,
    street: &str,
    ticket: &TicketId,
    listed: bool,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = call(
            address,
            "GET",
            "/api/streets/wenhualu/extension-requests",
            Some(street),
            None,
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let found = answer
            .json()
            .as_array()
            .expect("a list")
            .iter()
            .find(|r| r["ticket"] == ticket.to_string())
            .cloned();
        if found.is_some() == listed {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request is {} listed: {}",
            if listed { "not" } else { "still" },
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// 住建's queue entry of `ticket`.
async fn summons_in_queue(address: SocketAddr, liaison: &str, ticket: &TicketId) -> Value {
    let answer = call(
        address,
        "GET",
        "/api/departments/zhujian/queue",
        Some(liaison),
        None,
    )
    .await;
    answer
        .json()
        .as_array()
        .and_then(|q| {
            q.iter()
                .find(|e| e["ticket"] == ticket.to_string())
                .cloned()
        })
        .unwrap_or_else(|| panic!("{ticket} in 住建's queue: {}", answer.body))
}

#[tokio::test]
async fn an_extension_request_waits_on_its_street_until_answered() {
    let w = serve(false, false, 10).await;
    let a = w.address();
    let ticket = w
        .ticket(("haigang", "wenhualu", "hongqili"), &["zhujian"])
        .await;
    let liaison = w.token("liaison", "department:zhujian", "zhujian-wang");
    let street = w.token("street", "street:wenhualu", "wenhualu-dispatch");
    let summons = format!("/api/tickets/{ticket}/summons/zhujian");
    let claimed = call(a, "POST", &format!("{summons}/claim"), Some(&liaison), None).await;
    assert_eq!(claimed.status, 200, "{}", claimed.body);
    let until = (chrono::Utc::now() + chrono::Duration::days(20)).to_rfc3339();
    for answer in ["deny", "approve"] {
        let asked = call(
            a,
            "POST",
            &format!("{summons}/extension"),
            Some(&liaison),
            json_body(json!({"until": until, "reason": "需协调物业停水后施工"})),
        )
        .await;
        assert_eq!(asked.status, 200, "{}", asked.body);
        let waiting = extension_listed(a, &street, &ticket, true)
            .await
            .expect("listed");
        assert_eq!(waiting["department"], "zhujian");
        assert_eq!(waiting["liaison"], "zhujian-wang");
        assert_eq!(waiting["reason"], "需协调物业停水后施工");
        assert_eq!(waiting["category"], "drains");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !summons_in_queue(a, &liaison, &ticket).await["extension_requested"].is_string() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the liaison's queue shows the request waiting"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let answered = call(
            a,
            "POST",
            &format!("{summons}/extension/{answer}"),
            Some(&street),
            json_body(json!({"reason": "同意，请按期完成"})),
        )
        .await;
        assert_eq!(answered.status, 200, "{answer}: {}", answered.body);
        extension_listed(a, &street, &ticket, false).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !summons_in_queue(a, &liaison, &ticket).await["extension_requested"].is_null() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the queue forgets the answered request"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // A department that declines asks for nothing any more.
    let asked = call(
        a,
        "POST",
        &format!("{summons}/extension"),
        Some(&liaison),
        json_body(json!({"until": until, "reason": "等待材料"})),
    )
    .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    extension_listed(a, &street, &ticket, true).await;
    let declined = call(
        a,
        "POST",
        &format!("{summons}/decline"),
        Some(&liaison),
        json_body(json!({"reason": "不属于住建职责"})),
    )
    .await;
    assert_eq!(declined.status, 200, "{}", declined.body);
    extension_listed(a, &street, &ticket, false).await;
    let elsewhere = w.token("street", "street:tongjiang", "tongjiang-dispatch");
    let refused = call(
        a,
        "GET",
        "/api/streets/wenhualu/extension-requests",
        Some(&elsewhere),
        None,
    )
    .await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "out_of_scope")
    );
    w.stop().await;
}
