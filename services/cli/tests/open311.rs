//! whistle's Open311 GeoReport v2 routes (`/open311/v2/`), on the whole service started
//! in-process: every resource in JSON and XML over plain HTTP, the failures the standard
//! names, the same on PostgreSQL, and published client libraries (PyPI's `georeport` and
//! `three`, through `load-tests/open311-client/run.sh`) driving the same server.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use whistle_community::Workstation;
use whistle_events::{ActorId, Text, TicketId};

mod support;

use support::Whistle;

/// An HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts a GeoReport error with `status`, in JSON, and gives its description.
    fn json_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.content_type.starts_with("application/json"),
            "{self:?}"
        );
        let errors = self.json();
        assert_eq!(errors[0]["code"], json!(status), "{errors}");
        errors[0]["description"]
            .as_str()
            .expect("a description")
            .to_owned()
    }

    /// Asserts an XML document (the standard's declaration, UTF-8) and gives its body.
    fn xml(&self) -> &str {
        assert!(self.content_type.starts_with("text/xml"), "{self:?}");
        self.body
            .strip_prefix("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n")
            .unwrap_or_else(|| panic!("no XML declaration: {}", self.body))
    }
}

/// One plain HTTP/1.0 request: the standard's clients are plain HTTP clients too.
async fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) -> Reply {
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: whistle\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, body)) = body {
        request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    if let Some((_, body)) = body {
        request.push_str(body);
    }
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8(response).expect("UTF-8, as the standard requires");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let content_type = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: body.to_owned(),
    }
}

async fn get(address: SocketAddr, path: &str) -> Reply {
    http(address, "GET", path, &[], None).await
}

/// `application/x-www-form-urlencoded`: every byte but the unreserved ones escaped.
fn form(fields: &[(&str, &str)]) -> String {
    fn escape(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", escape(name), escape(value)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn post_form(
    address: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    fields: &[(&str, &str)],
) -> Reply {
    http(
        address,
        "POST",
        path,
        headers,
        Some(("application/x-www-form-urlencoded", &form(fields))),
    )
    .await
}

/// Waits until `check` gives `Some`, for at most 30 s (the SLA read model runs a moment
/// behind the log).
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ids in a JSON list of requests.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|r| r["service_request_id"].as_str().expect("an id").to_owned())
        .collect()
}

/// What a resident gives: none of it may come back from a public read.
const PHONE: &str = "13800001234";
const WORDS: &str = "楼道灯坏了一周 <3号楼> & \"没人修\"";
const PLACE: &str = "红旗里小区 3号楼";

/// Posts a street-lighting complaint at 红旗里 with the resident's details; gives the
/// request id and the token.
async fn post_lighting(address: SocketAddr, key: &str) -> (String, String) {
    let reply = post_form(
        address,
        "/open311/v2/requests.json",
        &[],
        &[
            ("api_key", key),
            ("jurisdiction_id", "qinhuangdao"),
            ("service_code", "street_lighting"),
            ("address_id", "hongqili"),
            ("address_string", PLACE),
            ("description", WORDS),
            ("first_name", "娜"),
            ("last_name", "李"),
            ("phone", PHONE),
            ("email", "li.na@example.org"),
            ("device_id", "phone-1"),
            ("account_id", "acct-1"),
            ("media_url", "https://photos.example.org/lamp.jpg"),
            ("attribute[WHATEVER]", "ignored"),
        ],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let answer = reply.json();
    assert_eq!(answer.as_array().map(Vec::len), Some(1), "{answer}");
    let posted = &answer[0];
    assert_eq!(posted["account_id"], Value::Null);
    assert!(
        posted["service_notice"]
            .as_str()
            .is_some_and(|n| n.contains("红旗里社区")),
        "{posted}"
    );
    (
        posted["service_request_id"]
            .as_str()
            .expect("an id")
            .to_owned(),
        posted["token"].as_str().expect("a token").to_owned(),
    )
}

/// Asserts that nothing the resident gave shows in `body`.
fn shows_nothing_of_the_resident(body: &str) {
    for secret in [
        PHONE,
        "李娜",
        "li.na@example.org",
        "没人修",
        "3号楼",
        "lamp.jpg",
    ] {
        assert!(!body.contains(secret), "`{secret}` shows in {body}");
    }
}

#[tokio::test]
async fn services_and_their_definitions_in_json_and_xml() {
    let w = Whistle::start(false, false).await;
    let address = w.address();

    let reply = get(address, "/open311/v2/services.json").await;
    assert_eq!(reply.status, 200);
    assert!(reply.content_type.starts_with("application/json"));
    let services = reply.json();
    let services = services.as_array().expect("a list");
    assert_eq!(services.len(), whistle_events::Category::ALL.len());
    let lighting = services
        .iter()
        .find(|s| s["service_code"] == "street_lighting")
        .expect("street lighting is a service");
    assert_eq!(lighting["service_name"], "背街小巷路灯");
    assert_eq!(lighting["metadata"], json!(false));
    assert_eq!(lighting["type"], "realtime");
    assert_eq!(lighting["group"], "市容环境");
    assert!(
        lighting["keywords"]
            .as_str()
            .is_some_and(|k| k.contains("路灯"))
    );
    assert!(
        lighting["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );

    let reply = get(address, "/open311/v2/services.xml").await;
    assert_eq!(reply.status, 200);
    let xml = reply.xml();
    assert!(
        xml.starts_with("<services><service><service_code>water_power_pipes</service_code><service_name>水电管网</service_name>"),
        "{xml}"
    );
    assert_eq!(xml.matches("<service>").count(), services.len());
    assert!(xml.contains("<metadata>false</metadata><type>realtime</type>"));

    let reply = get(address, "/open311/v2/services/gas.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"service_code": "gas", "attributes": []})
    );
    let reply = get(address, "/open311/v2/services/gas.xml").await;
    assert_eq!(
        reply.xml().trim_end(),
        "<service_definition><service_code>gas</service_code><attributes/></service_definition>"
    );

    let description = get(address, "/open311/v2/services/potholes.json")
        .await
        .json_error(404);
    assert!(description.contains("potholes"), "{description}");
    let reply = get(address, "/open311/v2/services/potholes.xml").await;
    assert_eq!(reply.status, 404);
    assert!(
        reply
            .xml()
            .starts_with("<errors><error><code>404</code><description>no service `potholes`"),
        "{}",
        reply.body
    );
    // The markup characters of an unknown code come back escaped.
    let reply = get(address, "/open311/v2/services/%3Cx%26%22%3E.xml").await;
    assert_eq!(reply.status, 404);
    assert!(
        reply.xml().contains("no service `&lt;x&amp;&quot;&gt;`"),
        "{}",
        reply.body
    );
    // Without a format, or with one the standard does not have.
    get(address, "/open311/v2/services/gas")
        .await
        .json_error(404);
    get(address, "/open311/v2/services.csv")
        .await
        .json_error(404);
    get(address, "/open311/v2/discovery.json")
        .await
        .json_error(404);
    let reply = http(address, "DELETE", "/open311/v2/services.xml", &[], None).await;
    assert_eq!(reply.status, 405);
    assert!(reply.xml().starts_with("<errors><error><code>405</code>"));
    w.stop().await;
}

#[tokio::test]
async fn requests_are_posted_with_a_key_and_read_back_without_personal_data() {
    let w = Whistle::start(false, false).await;
    let address = w.address();
    let key = w.api_key("city-app").await;

    let (id, token) = post_lighting(address, &key).await;
    let ticket: TicketId = id.parse().expect("the request id is the ticket id");
    let state = w.tickets.load(ticket).await.expect("the ticket");
    let received = state.received().expect("received");
    assert_eq!(received.channel, whistle_events::Channel::ExternalSystem);
    assert_eq!(received.location.community.as_str(), "hongqili");
    assert_eq!(received.location.street.as_str(), "wenhualu");
    assert_eq!(received.location.place.as_deref(), Some(PLACE));
    assert_eq!(
        received.description.as_str(),
        format!("{WORDS}\n照片：https://photos.example.org/lamp.jpg")
    );
    let timeline = w.tickets.timeline(ticket).await.expect("timeline");
    assert_eq!(
        timeline[0].metadata.actor.as_ref().map(|a| a.as_str()),
        Some("integration-city-app")
    );
    match w.tickets.reporter(ticket).await.expect("the contact") {
        whistle_ticket::Reporter::Contact(contact) => {
            assert_eq!(contact.name.as_deref(), Some("李娜"));
            assert_eq!(contact.phone.as_deref(), Some(PHONE));
            assert_eq!(contact.address, None, "the e-mail address goes nowhere");
        }
        other => panic!("the contact is kept: {other:?}"),
    }

    // The same in XML, with the key in the header; and in the query string.
    let reply = post_form(
        address,
        "/open311/v2/requests.xml",
        &[("X-Api-Key", &key)],
        &[
            ("service_code", "noise"),
            ("address_string", "碧海云天社区 5号楼"),
        ],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let xml = reply.xml();
    assert!(
        xml.starts_with("<service_requests><request><service_request_id>"),
        "{xml}"
    );
    assert!(
        xml.contains("<token>") && xml.contains("<account_id/>"),
        "{xml}"
    );
    let noise_id = xml
        .split("<service_request_id>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("an id")
        .to_owned();
    let noise: TicketId = noise_id.parse().expect("a ticket id");
    let noise_state = w.tickets.load(noise).await.expect("the ticket");
    let noise_received = noise_state.received().expect("received");
    assert_eq!(noise_received.location.community.as_str(), "bihaiyuntian");
    assert_eq!(
        noise_received.description.as_str(),
        "噪音扰民（未填写描述）"
    );
    let reply = post_form(
        address,
        &format!("/open311/v2/requests.json?api_key={key}"),
        &[],
        &[("service_code", "gas"), ("address_id", "红旗里社区")],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let gas_id = ids(&reply.json()).remove(0);

    // Refusals.
    let lighting = [
        ("service_code", "street_lighting"),
        ("address_id", "hongqili"),
    ];
    let description = post_form(address, "/open311/v2/requests.json", &[], &lighting)
        .await
        .json_error(403);
    assert!(description.contains("api_key"), "{description}");
    post_form(
        address,
        "/open311/v2/requests.json",
        &[],
        &[
            ("api_key", "wsk_not-a-key"),
            ("service_code", "street_lighting"),
            ("address_id", "hongqili"),
        ],
    )
    .await
    .json_error(403);
    let revoked = w.api_key("old-app").await;
    w.store
        .revoke_api_key("old-app", chrono::Utc::now())
        .await
        .expect("revoke");
    post_form(
        address,
        "/open311/v2/requests.json",
        &[("X-Api-Key", &revoked)],
        &lighting,
    )
    .await
    .json_error(403);
    let reply = post_form(address, "/open311/v2/requests.xml", &[], &lighting).await;
    assert_eq!(reply.status, 403);
    assert!(reply.xml().starts_with("<errors><error><code>403</code>"));
    let with_key = |fields: &[(&'static str, &'static str)]| {
        let mut all = vec![("api_key", key.clone())];
        all.extend(fields.iter().map(|(n, v)| (*n, (*v).to_owned())));
        all
    };
    for (fields, says) in [
        (
            with_key(&[("service_code", "potholes"), ("address_id", "hongqili")]),
            "potholes",
        ),
        (with_key(&[("address_id", "hongqili")]), "service_code"),
        (
            with_key(&[
                ("service_code", "gas"),
                ("lat", "39.93"),
                ("long", "119.60"),
            ]),
            "geocoder",
        ),
        (with_key(&[("service_code", "gas")]), "location"),
        (
            with_key(&[("service_code", "gas"), ("address_id", "atlantis")]),
            "atlantis",
        ),
        (
            with_key(&[
                ("service_code", "gas"),
                ("address_string", "海港区某路 1 号"),
            ]),
            "names no community",
        ),
        (
            with_key(&[
                ("service_code", "gas"),
                ("address_id", "hongqili"),
                ("media_url", "file:///etc/passwd"),
            ]),
            "media_url",
        ),
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let description = post_form(address, "/open311/v2/requests.json", &[], &fields)
            .await
            .json_error(400);
        assert!(description.contains(says), "{says}: {description}");
    }
    let reply = http(
        address,
        "POST",
        "/open311/v2/requests.json",
        &[("X-Api-Key", &key)],
        Some((
            "application/json",
            r#"{"service_code":"gas","address_id":"hongqili"}"#,
        )),
    )
    .await;
    assert_eq!(reply.status, 415, "{}", reply.body);
    assert_eq!(reply.json()[0]["code"], json!(415));

    // One request, by id: right after posting, before the read model has it.
    let reply = get(address, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    shows_nothing_of_the_resident(&reply.body);
    let one = reply.json();
    assert_eq!(one.as_array().map(Vec::len), Some(1), "{one}");
    let request = &one[0];
    assert_eq!(request["service_request_id"], id.as_str());
    assert_eq!(request["status"], "open");
    assert_eq!(request["status_notes"], "待社区受理");
    assert_eq!(request["service_code"], "street_lighting");
    assert_eq!(request["service_name"], "背街小巷路灯");
    assert_eq!(request["address"], "文化路街道红旗里社区");
    assert_eq!(request["address_id"], "hongqili");
    assert_eq!(request["agency_responsible"], "红旗里社区");
    for absent in ["description", "zipcode", "lat", "long", "media_url"] {
        assert_eq!(request[absent], Value::Null, "{absent}: {request}");
    }
    let requested: chrono::DateTime<chrono::Utc> = request["requested_datetime"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("a W3C datetime");
    let expected: chrono::DateTime<chrono::Utc> = request["expected_datetime"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("the completion clock's due time");
    assert!(expected > requested, "{request}");
    assert!(
        request["token"].is_null(),
        "a public read never shows the token"
    );

    let reply = get(address, &format!("/open311/v2/requests/{id}.xml")).await;
    assert_eq!(reply.status, 200);
    shows_nothing_of_the_resident(&reply.body);
    let xml = reply.xml();
    assert!(
        xml.starts_with(&format!(
            "<service_requests><request><service_request_id>{id}</service_request_id><status>open</status><status_notes>待社区受理</status_notes>"
        )),
        "{xml}"
    );
    assert!(
        xml.contains("<description/>") && xml.contains("<lat/><long/>"),
        "{xml}"
    );
    get(
        address,
        &format!("/open311/v2/requests/{}.json", TicketId::new_random()),
    )
    .await
    .json_error(404);
    let reply = get(address, "/open311/v2/requests/not-an-id.xml").await;
    assert_eq!(reply.status, 400);
    assert!(reply.xml().starts_with("<errors><error><code>400</code>"));

    // By token.
    let reply = get(address, &format!("/open311/v2/tokens/{token}.json")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!([{"service_request_id": id, "token": token}])
    );
    let reply = get(address, &format!("/open311/v2/tokens/{token}.xml")).await;
    assert_eq!(
        reply.xml().trim_end(),
        format!(
            "<service_requests><request><service_request_id>{id}</service_request_id><token>{token}</token></request></service_requests>"
        )
    );
    get(
        address,
        "/open311/v2/tokens/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.json",
    )
    .await
    .json_error(404);

    // Lists: the read model catches up.
    let all = eventually("the three requests in the list", || async {
        let list = get(address, "/open311/v2/requests.json").await.json();
        (ids(&list).len() == 3).then_some(list)
    })
    .await;
    assert_eq!(
        ids(&all)[2],
        id,
        "newest first: the first posted comes last"
    );
    shows_nothing_of_the_resident(&all.to_string());
    let both = get(
        address,
        &format!("/open311/v2/requests.json?service_request_id={id},{gas_id}&status=closed"),
    )
    .await
    .json();
    let mut found = ids(&both);
    found.sort();
    let mut wanted = vec![id.clone(), gas_id.clone()];
    wanted.sort();
    assert_eq!(found, wanted, "ids given, every other filter ignored");
    let gas = get(address, "/open311/v2/requests.json?service_code=gas,noise")
        .await
        .json();
    let mut found = ids(&gas);
    found.sort();
    let mut wanted = vec![gas_id.clone(), noise_id.clone()];
    wanted.sort();
    assert_eq!(found, wanted);
    let xml = get(
        address,
        "/open311/v2/requests.xml?service_code=street_lighting",
    )
    .await;
    assert_eq!(xml.xml().matches("<request>").count(), 1, "{}", xml.body);
    assert_eq!(
        ids(&get(address, "/open311/v2/requests.json?status=closed")
            .await
            .json()),
        Vec::<String>::new()
    );
    let reply = get(address, "/open311/v2/requests.xml?status=closed").await;
    assert_eq!(reply.xml().trim_end(), "<service_requests/>");
    let window = format!(
        "/open311/v2/requests.json?start_date={}&end_date={}",
        (requested - chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        (requested + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S%%2B00:00"),
    );
    assert_eq!(
        ids(&get(address, &window).await.json()).len(),
        3,
        "{window}"
    );
    let later = get(
        address,
        "/open311/v2/requests.json?start_date=2099-01-01T00:00:00Z",
    )
    .await
    .json();
    assert_eq!(ids(&later), Vec::<String>::new());

    for (query, says) in [
        ("start_date=yesterday", "start_date"),
        ("start_date=2026-01-01", "start_date"),
        (
            "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
            "90 days",
        ),
        (
            "start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
            "before",
        ),
        ("status=pending", "pending"),
        ("service_code=potholes", "potholes"),
        ("service_request_id=42", "42"),
    ] {
        let description = get(address, &format!("/open311/v2/requests.json?{query}"))
            .await
            .json_error(400);
        assert!(description.contains(says), "{query}: {description}");
    }

    // Resolved by the community itself: closed, and the community is responsible.
    let community = Workstation::new(w.tickets.clone());
    let worker: ActorId = "hongqili-zhang".parse().expect("an actor");
    let note = |t: &str| Text::note(t).expect("a note");
    community
        .acknowledge(ticket, worker.clone(), note("已收到，今天下午上门"))
        .await
        .expect("acknowledge");
    community
        .handle_locally(ticket, worker.clone(), note("社区电工更换灯泡"))
        .await
        .expect("handle locally");
    community
        .resolve(ticket, worker, note("已更换"))
        .await
        .expect("resolve");
    let closed = eventually("the request closed in the list", || async {
        let list = get(address, "/open311/v2/requests.json?status=closed")
            .await
            .json();
        (ids(&list) == [id.clone()]).then_some(list)
    })
    .await;
    assert_eq!(closed[0]["status_notes"], "已办结，待评价");
    assert_eq!(closed[0]["agency_responsible"], "红旗里社区");
    let updated: chrono::DateTime<chrono::Utc> = closed[0]["updated_datetime"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("a W3C datetime");
    assert!(updated >= requested);
    let open = get(address, "/open311/v2/requests.json?status=open")
        .await
        .json();
    assert!(!ids(&open).contains(&id));
    w.stop().await;
}

#[tokio::test]
async fn a_whistled_request_names_its_departments_on_postgres() {
    let w = Whistle::start(true, false).await;
    let address = w.address();
    let key = w.api_key("city-app").await;
    let (id, token) = post_lighting(address, &key).await;
    let ticket: TicketId = id.parse().expect("a ticket id");

    // The community calls the street up; the street's catalogue whistles the departments.
    let community = Workstation::new(w.tickets.clone());
    let worker: ActorId = "hongqili-zhang".parse().expect("an actor");
    community
        .acknowledge(
            ticket,
            worker.clone(),
            Text::note("已收到").expect("a note"),
        )
        .await
        .expect("acknowledge");
    community
        .call_up(ticket, worker, Text::note("需街道协调").expect("a note"))
        .await
        .expect("call up");
    let request = eventually("the request whistled", || async {
        let one = get(address, &format!("/open311/v2/requests/{id}.json"))
            .await
            .json();
        (one[0]["status_notes"] == "部门办理中").then(|| one[0].clone())
    })
    .await;
    assert_eq!(request["status"], "open");
    // 文化路's catalogue sends street lighting to 城管中队.
    assert_eq!(request["agency_responsible"], "城管中队");
    // The list reads the SLA read model, which can still stand before the whistle when the
    // single request, folded from the ticket's own events, already shows it.
    let listed = eventually("the request whistled in the list", || async {
        let list = get(address, "/open311/v2/requests.json").await.json();
        (ids(&list) == [id.clone()] && list[0]["status_notes"] == "部门办理中").then_some(list)
    })
    .await;
    assert_eq!(
        listed[0]["agency_responsible"],
        request["agency_responsible"]
    );
    assert_eq!(
        get(address, &format!("/open311/v2/tokens/{token}.json"))
            .await
            .json()[0]["service_request_id"],
        id.as_str()
    );
    w.stop().await;
}

#[tokio::test]
async fn published_client_libraries_speak_to_whistle() {
    let w = Whistle::start(false, false).await;
    let key = w.api_key("open311-client-check").await;
    let endpoint = format!("http://{}/open311/v2", w.address());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../load-tests/open311-client/run.sh"
    );
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_owned();
    // The server runs on this test's runtime: the script runs beside it, not on it.
    let started = std::time::Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .arg(&endpoint)
            .arg(&key)
            .env("CARGO_TARGET_DIR", target)
            .output()
    })
    .await
    .expect("the script's thread")
    .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() != Some(3),
        "the Open311 client libraries could not be installed (PyPI and python3 -m venv are needed):\n{stderr}"
    );
    assert!(
        output.status.success(),
        "the client libraries' checks failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("every check passed"), "{stdout}\n{stderr}");
    println!(
        "open311 client check took {:.1} s\n{stdout}{stderr}",
        started.elapsed().as_secs_f64()
    );
    w.stop().await;
}
