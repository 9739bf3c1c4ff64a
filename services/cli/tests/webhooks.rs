//! Webhooks for other systems, against the whole service (`whistle serve`) started
//! in-process: incident messages over HTTP (`POST /api/incidents`) and Prometheus
//! Alertmanager's notifications (`POST /api/alertmanager`), on PostgreSQL with NATS
//! JetStream and embedded on SQLite; and the offline API documentation page (`/docs`).

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use whistle_events::incident::RejectedIncident;
use whistle_events::{ExternalId, SourceSystem, TicketId};
use whistle_ticket::Stage;

mod support;

use support::{Whistle, nats_url};

/// The shared harness, and whether NATS is in use.
struct Served {
    w: Whistle,
    nats: bool,
}

impl std::ops::Deref for Served {
    type Target = Whistle;
    fn deref(&self) -> &Whistle {
        &self.w
    }
}

impl Served {
    async fn start(postgres: bool, nats: bool) -> Self {
        let served = Self {
            w: Whistle::start(postgres, nats).await,
            nats,
        };
        served.rejected_stream_ready().await;
        served
    }

    /// The NATS namespace, when NATS is in use.
    fn nats_namespace(&self) -> Option<&String> {
        self.nats.then_some(&self.w.namespace)
    }

    /// The stages' view of the log: each ticket's events.
    async fn kinds(&self, ticket: TicketId) -> Vec<String> {
        self.tickets
            .timeline(ticket)
            .await
            .expect("timeline")
            .iter()
            .map(|e| e.event.kind().name.to_owned())
            .collect()
    }

    /// Intake's service creates the REJECTED stream as it starts; a webhook's rejection
    /// is kept there, so the tests wait for it.
    async fn rejected_stream_ready(&self) {
        let Some(namespace) = self.nats_namespace() else {
            return;
        };
        let js = jetstream::new(async_nats::connect(nats_url()).await.expect("NATS"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while js
            .get_stream(format!("REJECTED_{namespace}"))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the REJECTED stream was never created"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every rejection kept for `source`, oldest first; `None` when NATS is not in use.
    async fn rejected(&self, source: &str) -> Option<Vec<RejectedIncident>> {
        let namespace = self.nats_namespace()?;
        let js = jetstream::new(async_nats::connect(nats_url()).await.expect("NATS"));
        let stream = js
            .get_stream(format!("REJECTED_{namespace}"))
            .await
            .expect("the REJECTED stream");
        let consumer: jetstream::consumer::PullConsumer = stream
            .create_consumer(jetstream::consumer::pull::Config {
                filter_subject: format!("{namespace}.rejected.incidents.{source}"),
                ..Default::default()
            })
            .await
            .expect("a consumer");
        let mut messages = consumer
            .fetch()
            .max_messages(100)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .expect("fetch");
        let mut records = Vec::new();
        while let Some(message) = messages.next().await {
            let message = message.expect("a message");
            records.push(serde_json::from_slice(&message.payload).expect("a rejection record"));
        }
        Some(records)
    }

    /// The subject an incident of `source` would have come on.
    fn incident_subject(&self, source: &str) -> String {
        self.w.subject(&format!("incidents.{source}"))
    }

    async fn stop(self) {
        self.w.stop().await;
    }
}

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The problem's `code`, checking the answer is a problem document.
    fn problem(&self) -> String {
        assert!(
            self.head
                .to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{self:?}"
        );
        let body = self.json();
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
        body["code"].as_str().expect("a code").to_owned()
    }
}

/// One HTTP/1.0 request.
async fn send(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: whistle\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if method != "GET" {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    stream.write_all(body).await.expect("send the body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8(response).expect("a UTF-8 answer");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

async fn post_incident(w: &Served, auth: (&str, &str), message: &[u8]) -> Answer {
    send(w.address(), "POST", "/api/incidents", &[auth], message).await
}

fn with_key(key: &str) -> (&'static str, &str) {
    ("X-Api-Key", key)
}

/// The committed example trigger, with another external id.
fn trigger(external_id: &str) -> Value {
    let mut message: Value = serde_json::from_str(include_str!(
        "../../../schemas/examples/incident.trigger.json"
    ))
    .expect("the committed example is JSON");
    message["external_id"] = json!(external_id);
    message
}

fn bytes(message: &Value) -> Vec<u8> {
    serde_json::to_vec(message).expect("JSON")
}

fn ticket_of(source: &str, external_id: &str) -> TicketId {
    TicketId::for_external(
        &SourceSystem::parse(source).expect("a source"),
        &ExternalId::parse(external_id).expect("an external id"),
    )
}

fn accepted_ticket(answer: &Answer) -> TicketId {
    assert_eq!(answer.status, 200, "{answer:?}");
    let body = answer.json();
    assert_eq!(body["status"], "accepted", "{body}");
    body["ticket_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a ticket id")
}

/// Trigger (twice), update (twice), resolve: one ticket, one `Received`, one note.
async fn an_incident_lives_and_resolves(w: &Served) {
    let key = w.api_key("citymgmt-iot").await;
    let expected = ticket_of("citymgmt-iot", "INC-HTTP-1");
    let message = bytes(&trigger("INC-HTTP-1"));
    for _ in 0..2 {
        let answer = post_incident(w, with_key(&key), &message).await;
        assert_eq!(accepted_ticket(&answer), expected);
    }
    assert_eq!(w.kinds(expected).await, ["Received"]);

    let supervisor = w.token("supervisor", "city", "du-ban");
    let seen = send(
        w.address(),
        "GET",
        &format!("/api/tickets/{expected}"),
        &[("Authorization", &format!("Bearer {supervisor}"))],
        b"",
    )
    .await;
    assert_eq!(seen.status, 200, "{seen:?}");
    let ticket = seen.json();
    assert_eq!(ticket["category"], "drains");
    assert_eq!(ticket["urgency"], "major");
    assert_eq!(ticket["location"]["community"], "hongqili");

    let update = bytes(&json!({
        "source": "citymgmt-iot", "external_id": "INC-HTTP-1", "action": "update",
        "note": "液位继续上升至 35 厘米"
    }));
    for _ in 0..2 {
        let answer = post_incident(w, with_key(&key), &update).await;
        assert_eq!(accepted_ticket(&answer), expected);
    }
    assert_eq!(w.kinds(expected).await, ["Received", "SourceUpdated"]);

    let resolve = bytes(&json!({
        "source": "citymgmt-iot", "external_id": "INC-HTTP-1", "action": "resolve",
        "note": "液位恢复正常"
    }));
    let answer = post_incident(w, with_key(&key), &resolve).await;
    assert_eq!(accepted_ticket(&answer), expected);
    let state = w.tickets.load(expected).await.expect("load");
    assert_eq!(state.stage(), Stage::Resolved);
    assert_eq!(
        w.kinds(expected).await,
        ["Received", "SourceUpdated", "SourceUpdated", "Resolved"]
    );
}

/// Each kind of rejection: its status and code, and, with NATS, kept once in REJECTED
/// with the original bytes.
async fn every_rejection_is_answered_and_kept(w: &Served) {
    let key = w.api_key("pump-station-7").await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut message = trigger("INC-HTTP-BAD");
        message["source"] = json!("pump-station-7");
        change(&mut message);
        bytes(&message)
    };
    let cases: Vec<(u16, &str, Vec<u8>, &str)> = vec![
        (
            400,
            "bad_json",
            b"{\"source\": \"pump-station-7\", ".to_vec(),
            "JSON",
        ),
        (400, "bad_json", vec![0xff, 0xfe, b'{'], "UTF-8"),
        (
            422,
            "schema",
            with(&|m| m["colour"] = json!("red")),
            "colour",
        ),
        (
            422,
            "unknown_category",
            with(&|m| m["category"] = json!("potholes")),
            "potholes",
        ),
        (
            422,
            "unknown_location",
            with(&|m| m["location"]["community"] = json!("nowhere")),
            "nowhere",
        ),
        (
            422,
            "source_mismatch",
            with(&|m| m["source"] = json!("citymgmt-iot")),
            "API key",
        ),
    ];
    for (status, code, payload, mentions) in &cases {
        let answer = post_incident(w, with_key(&key), payload).await;
        assert_eq!(answer.status, *status, "{code}: {answer:?}");
        assert_eq!(answer.problem(), *code);
        let detail = answer.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains(mentions), "{code}: {detail}");
    }
    let untouched = w
        .tickets
        .load(ticket_of("pump-station-7", "INC-HTTP-BAD"))
        .await
        .expect("load");
    assert_eq!(
        untouched.stage(),
        Stage::New,
        "a rejected trigger opened a ticket"
    );

    if let Some(kept) = w.rejected("pump-station-7").await {
        assert_eq!(kept.len(), cases.len(), "{kept:#?}");
        for ((_, code, payload, _), record) in cases.iter().zip(&kept) {
            assert_eq!(record.code.as_str(), *code);
            assert_eq!(
                record.original_payload().as_deref(),
                Some(payload.as_slice())
            );
            assert_eq!(record.subject, w.incident_subject("pump-station-7"));
        }
    }
}

#[tokio::test]
async fn incidents_over_http_with_postgres_and_nats() {
    let w = Served::start(true, true).await;
    an_incident_lives_and_resolves(&w).await;
    every_rejection_is_answered_and_kept(&w).await;
    w.stop().await;
}

#[tokio::test]
async fn incidents_over_http_embedded() {
    let w = Served::start(false, false).await;
    an_incident_lives_and_resolves(&w).await;
    every_rejection_is_answered_and_kept(&w).await;
    w.stop().await;
}

#[tokio::test]
async fn only_integrations_and_operators_publish_incidents() {
    let w = Served::start(false, false).await;
    let message = bytes(&trigger("INC-WHO-1"));

    let none = send(w.address(), "POST", "/api/incidents", &[], &message).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.problem(), "missing_credentials");
    let unknown = post_incident(&w, with_key("wsk_not-a-key-anyone-was-given"), &message).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.problem(), "invalid_api_key");

    let old = w.api_key("citymgmt-iot").await;
    assert!(
        w.store
            .revoke_api_key("citymgmt-iot", chrono::Utc::now())
            .await
            .expect("revoke")
    );
    let revoked = post_incident(&w, with_key(&old), &message).await;
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.problem(), "revoked_api_key");

    // A liaison works a department's summons; publishing incidents is not theirs.
    let liaison = w.token("liaison", "department:zhujian", "zhujian-wang");
    let refused = post_incident(
        &w,
        ("Authorization", &format!("Bearer {liaison}")),
        &message,
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.problem(), "role_not_permitted");

    // An operator relays an incident for any source, named by the message.
    let operator = w.token("operator", "intake", "hotline-desk-3");
    let mut relayed = trigger("12345-20260721-000042");
    relayed["source"] = json!("hotline-12345");
    let answer = post_incident(
        &w,
        ("Authorization", &format!("Bearer {operator}")),
        &bytes(&relayed),
    )
    .await;
    assert_eq!(
        accepted_ticket(&answer),
        ticket_of("hotline-12345", "12345-20260721-000042")
    );

    // A key also goes in `Authorization`, for senders that can set only that header.
    let key = w.api_key("pump-station-7").await;
    let mut own = trigger("PS7-1");
    own["source"] = json!("pump-station-7");
    for header in [format!("ApiKey {key}"), format!("Bearer {key}")] {
        let answer = post_incident(&w, ("Authorization", &header), &bytes(&own)).await;
        assert_eq!(
            accepted_ticket(&answer),
            ticket_of("pump-station-7", "PS7-1")
        );
    }
    w.stop().await;
}

/// The committed example notification, with `change` applied to each alert.
fn notification(change: impl Fn(&mut Value)) -> Vec<u8> {
    let mut payload: Value = serde_json::from_str(include_str!(
        "../../../deploy/alertmanager/example-payload.json"
    ))
    .expect("the committed example is JSON");
    for alert in payload["alerts"].as_array_mut().expect("alerts") {
        change(alert);
    }
    bytes(&payload)
}

fn outcomes(answer: &Answer) -> Vec<Value> {
    assert_eq!(answer.status, 200, "{answer:?}");
    answer
        .json()
        .as_array()
        .expect("one outcome per alert")
        .clone()
}

/// Two firing alerts → two tickets; sent again → the same tickets; resolved → resolved;
/// an alert missing whistle's labels is rejected on its own, and kept.
async fn alertmanager_alerts_become_tickets(w: &Served) {
    let key = w.api_key("prometheus").await;
    let auth = format!("ApiKey {key}");
    let firing = notification(|_| {});
    let answer = send(
        w.address(),
        "POST",
        "/api/alertmanager",
        &[("Authorization", &auth)],
        &firing,
    )
    .await;
    let first = outcomes(&answer);
    assert_eq!(first.len(), 2);
    let expected = [
        ticket_of("prometheus", "5f8e1c2a9b3d4e6f@2026-07-20T23:42:00Z"),
        ticket_of("prometheus", "0a7d3c91e4b25f68@2026-07-20T23:55:30Z"),
    ];
    for (outcome, ticket) in first.iter().zip(expected) {
        assert_eq!(outcome["status"], "accepted", "{outcome}");
        assert_eq!(outcome["ticket_id"], json!(ticket.to_string()));
    }
    assert_eq!(first[0]["fingerprint"], "5f8e1c2a9b3d4e6f");

    // Alertmanager repeats a firing alert every repeat_interval: nothing new.
    let again = send(
        w.address(),
        "POST",
        "/api/alertmanager",
        &[("X-Api-Key", &key)],
        &firing,
    )
    .await;
    assert_eq!(outcomes(&again), first);
    for ticket in expected {
        assert_eq!(w.kinds(ticket).await, ["Received"]);
    }
    let hongqili = w.tickets.load(expected[0]).await.expect("load");
    let received = hongqili.received().expect("received");
    assert_eq!(received.location.street.as_str(), "wenhualu");
    assert_eq!(
        received.location.place.as_deref(),
        Some("红旗里小区 3号楼东侧")
    );
    assert_eq!(received.urgency, whistle_events::Urgency::Urgent);
    assert!(
        received
            .description
            .as_str()
            .starts_with("雨水井液位过高 WL-0317\n")
    );
    let chafang = w.tickets.load(expected[1]).await.expect("load");
    let received = chafang.received().expect("received");
    assert_eq!(received.location.street.as_str(), "tongjiang");
    assert_eq!(received.urgency, whistle_events::Urgency::Major);

    let resolved = notification(|alert| {
        alert["status"] = json!("resolved");
        alert["endsAt"] = json!("2026-07-21T09:10:00+08:00");
    });
    let answer = send(
        w.address(),
        "POST",
        "/api/alertmanager",
        &[("Authorization", &format!("Bearer {key}"))],
        &resolved,
    )
    .await;
    for (outcome, ticket) in outcomes(&answer).iter().zip(expected) {
        assert_eq!(outcome["status"], "accepted", "{outcome}");
        assert_eq!(outcome["ticket_id"], json!(ticket.to_string()));
        let state = w.tickets.load(ticket).await.expect("load");
        assert_eq!(state.stage(), Stage::Resolved);
    }

    // One alert lacks whistle's labels: it alone is rejected, with the label named.
    let mixed = notification(|alert| {
        if alert["fingerprint"] == "0a7d3c91e4b25f68" {
            alert["labels"]
                .as_object_mut()
                .expect("labels")
                .remove("whistle_category");
            alert["startsAt"] = json!("2026-07-22T07:00:00+08:00");
        } else {
            alert["startsAt"] = json!("2026-07-22T08:00:00+08:00");
        }
    });
    let answer = send(
        w.address(),
        "POST",
        "/api/alertmanager",
        &[("Authorization", &auth)],
        &mixed,
    )
    .await;
    let mixed = outcomes(&answer);
    assert_eq!(mixed[0]["status"], "accepted", "{}", mixed[0]);
    assert_ne!(
        mixed[0]["ticket_id"], first[0]["ticket_id"],
        "firing again after it was resolved is a new problem"
    );
    assert_eq!(mixed[1]["status"], "rejected");
    assert_eq!(mixed[1]["code"], "missing_field");
    assert!(
        mixed[1]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("whistle_category")),
        "{}",
        mixed[1]
    );
    if let Some(kept) = w.rejected("prometheus").await {
        assert_eq!(kept.len(), 1, "{kept:#?}");
        assert_eq!(kept[0].code.as_str(), "missing_field");
        let alert: Value = serde_json::from_slice(&kept[0].original_payload().expect("the alert"))
            .expect("the alert, as JSON");
        assert_eq!(alert["fingerprint"], "0a7d3c91e4b25f68");
    }

    // People do not post Alertmanager's notifications: their tokens have no source.
    let operator = w.token("operator", "intake", "hotline-desk-3");
    let refused = send(
        w.address(),
        "POST",
        "/api/alertmanager",
        &[("Authorization", &format!("Bearer {operator}"))],
        &firing,
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.problem(), "api_key_required");
    let malformed = send(
        w.address(),
        "POST",
        "/api/alertmanager",
        &[("Authorization", &auth)],
        b"{\"alerts\": [",
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.problem(), "malformed_body");
}

#[tokio::test]
async fn alertmanager_with_postgres_and_nats() {
    let w = Served::start(true, true).await;
    alertmanager_alerts_become_tickets(&w).await;
    w.stop().await;
}

#[tokio::test]
async fn alertmanager_embedded() {
    let w = Served::start(false, false).await;
    alertmanager_alerts_become_tickets(&w).await;
    w.stop().await;
}

#[tokio::test]
async fn the_docs_page_works_offline() {
    let w = Served::start(false, false).await;
    let page = send(w.address(), "GET", "/docs", &[], b"").await;
    assert_eq!(page.status, 200);
    let head = page.head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(page.body.contains("/openapi.json"));
    assert!(page.body.contains("文档"), "Chinese text survives");
    for outside in ["http://", "https://", "src=", "<link"] {
        assert!(!page.body.contains(outside), "the page loads `{outside}`");
    }
    let document = send(w.address(), "GET", "/openapi.json", &[], b"").await;
    let paths = document.json()["paths"].clone();
    for path in ["/api/incidents", "/api/alertmanager"] {
        assert!(paths.get(path).is_some(), "{path} is not documented");
    }
    w.stop().await;
}
