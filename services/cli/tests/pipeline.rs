//! The whole service (`whistle serve`), started in-process: complaints travel community →
//! street → departments → resolved, through NATS JetStream with PostgreSQL, and embedded
//! on SQLite; incidents from other systems are accepted once or rejected with a reason.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use whistle_community::Workstation;
use whistle_department::Desk;
use whistle_events::incident::{IncidentAnswer, RejectedIncident};
use whistle_events::{ActorId, CommunityId, DepartmentId, LiaisonId, StreetId, Text, TicketId};
use whistle_ticket::Stage;

mod support;

use support::{Whistle, nats_url};

fn id<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().expect("valid id")
}

fn text(s: &str) -> Text {
    Text::note(s).expect("valid text")
}

/// Waits until `check` gives `Some`, for at most 30 s.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
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

/// A GET, with a bearer token when given: the status and the body.
async fn get(address: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    support::http(address, "GET", path, token, None).await
}

async fn in_community_queue(w: &Whistle, community: &str, ticket: TicketId) -> bool {
    whistle_community::queue(&w.store, &id::<CommunityId>(community))
        .await
        .expect("community queue")
        .iter()
        .any(|e| e.ticket == ticket)
}

async fn in_department_queue(w: &Whistle, department: &str, ticket: TicketId) -> bool {
    whistle_department::queue(&w.store, &id::<DepartmentId>(department))
        .await
        .expect("department queue")
        .iter()
        .any(|e| e.ticket == ticket)
}

fn incident(external_id: &str) -> Value {
    let mut message: Value = serde_json::from_str(include_str!(
        "../../../schemas/examples/incident.trigger.json"
    ))
    .expect("the committed example is JSON");
    message["external_id"] = json!(external_id);
    message
}

/// From call-up to resolved: the community acknowledges and calls up, the street's
/// catalogue whistles 住建 (lead) and 环卫, both report in and finish, the street resolves.
async fn whole_path(w: &Whistle, ticket: TicketId) {
    assert!(
        eventually("the complaint in 红旗里's queue", || async {
            in_community_queue(w, "hongqili", ticket)
                .await
                .then_some(true)
        })
        .await
    );
    let community = Workstation::new(w.tickets.clone());
    let worker: ActorId = id("hongqili-zhang");
    community
        .acknowledge(ticket, worker.clone(), text("已收到，马上到场查看"))
        .await
        .expect("acknowledge");
    community
        .call_up(ticket, worker, text("雨水井堵塞需住建、环卫处理"))
        .await
        .expect("call up");

    for department in ["zhujian", "huanwei"] {
        eventually("the summons in each department's queue", || async {
            in_department_queue(w, department, ticket)
                .await
                .then_some(())
        })
        .await;
    }
    // Each stage's consumer goes at its own pace: the community's may still be applying
    // the call-up when the departments already hold their summonses.
    eventually(
        "the called-up ticket gone from the community's queue",
        || async { (!in_community_queue(w, "hongqili", ticket).await).then_some(()) },
    )
    .await;
    let state = w.tickets.load(ticket).await.expect("load");
    assert_eq!(state.lead(), Some(&id::<DepartmentId>("zhujian")));

    let desk = Desk::new(w.tickets.clone());
    for (department, liaison) in [("zhujian", "zhujian-wang"), ("huanwei", "huanwei-li")] {
        desk.claim(ticket, id(department), id::<LiaisonId>(liaison))
            .await
            .expect("report in");
    }
    // A second liaison of 住建 is told who claimed first.
    let lost = desk
        .claim(ticket, id("zhujian"), id::<LiaisonId>("zhujian-zhao"))
        .await
        .expect_err("the summons is claimed already");
    assert!(lost.to_string().contains("zhujian-wang"), "{lost}");
    for (department, liaison, outcome) in [
        ("huanwei", "huanwei-li", "清掏雨水井淤泥两车"),
        ("zhujian", "zhujian-wang", "疏通并更换破损井箅"),
    ] {
        desk.finish(
            ticket,
            id(department),
            id::<LiaisonId>(liaison),
            true,
            text(outcome),
        )
        .await
        .expect("finish");
    }
    eventually("the street resolves the ticket", || async {
        let state = w.tickets.load(ticket).await.expect("load");
        (state.stage() == Stage::Resolved).then_some(())
    })
    .await;
    for department in ["zhujian", "huanwei"] {
        eventually("the finished summons leave the queues", || async {
            (!in_department_queue(w, department, ticket).await).then_some(())
        })
        .await;
    }
    let timeline = w.tickets.timeline(ticket).await.expect("timeline");
    let kinds: Vec<&str> = timeline.iter().map(|e| e.event.kind().name).collect();
    assert_eq!(
        kinds,
        [
            "Received",
            "Acknowledged",
            "CalledUp",
            "WhistleBlown",
            "DepartmentReportedIn",
            "DepartmentReportedIn",
            "DepartmentFinished",
            "DepartmentFinished",
            "Resolved"
        ]
    );
    let whistle = &timeline[3];
    assert_eq!(
        whistle.metadata.actor.as_ref().map(|a| a.as_str()),
        Some("whistle-street")
    );
    let stored = w
        .store
        .read_stream("Ticket", &ticket.to_string(), 0)
        .await
        .expect("stream");
    assert_eq!(
        whistle.metadata.causation_id,
        Some(stored[2].event_id),
        "the whistle names the call-up as its cause"
    );
}

#[tokio::test]
async fn a_complaint_goes_the_whole_path_through_nats() {
    let w = Whistle::start(true, true).await;
    let client = async_nats::connect(nats_url()).await.expect("NATS");
    let mut notices = client
        .subscribe(w.subject("departments.zhujian.summons"))
        .await
        .expect("subscribe to 住建's notices");
    let answer = client
        .request(
            w.subject("incidents.citymgmt-iot"),
            serde_json::to_vec(&incident("INC-PATH-1"))
                .expect("json")
                .into(),
        )
        .await
        .expect("an answer");
    let answer: IncidentAnswer = serde_json::from_slice(&answer.payload).expect("an answer");
    let IncidentAnswer::Accepted { ticket_id } = answer else {
        panic!("rejected: {answer:?}");
    };
    assert_eq!(
        ticket_id,
        TicketId::for_external(
            &id("citymgmt-iot"),
            &whistle_events::ExternalId::parse("INC-PATH-1").expect("valid")
        )
    );
    whole_path(&w, ticket_id).await;
    let notice = tokio::time::timeout(Duration::from_secs(10), notices.next())
        .await
        .expect("住建 is told about its summons")
        .expect("a notice");
    let notice: Value = serde_json::from_slice(&notice.payload).expect("JSON notice");
    assert_eq!(notice["kind"], "summoned");
    assert_eq!(notice["ticket"], ticket_id.to_string());
    w.stop().await;
}

/// Records a hotline complaint at `(district, street, community)`.
async fn receive(
    w: &Whistle,
    (district, street, community): (&str, &str, &str),
    category: whistle_events::Category,
) -> TicketId {
    let ticket = TicketId::new_random();
    let received = whistle_events::ticket::Received {
        channel: whistle_events::Channel::Hotline,
        reporter: whistle_events::ReporterContact::default(),
        sealed_reporter: None,
        location: whistle_events::Location {
            district: id(district),
            street: id(street),
            community: id(community),
            grid: None,
            place: None,
        },
        category,
        urgency: whistle_events::Urgency::Major,
        description: text("居民来电反映问题"),
        source: None,
    };
    w.tickets
        .execute(
            ticket,
            whistle_ticket::TicketCommand::Receive(received),
            &whistle_events::EventMetadata::by(id("hotline-operator-01")),
        )
        .await
        .expect("receive");
    ticket
}

async fn acknowledge_and_call_up(w: &Whistle, ticket: TicketId) {
    let community = Workstation::new(w.tickets.clone());
    let worker: ActorId = id("community-worker");
    community
        .acknowledge(ticket, worker.clone(), text("已收到"))
        .await
        .expect("acknowledge");
    community
        .call_up(ticket, worker, text("社区无法处理"))
        .await
        .expect("call up");
}

async fn dispatch_entry(
    w: &Whistle,
    street: &str,
    ticket: TicketId,
) -> Option<whistle_street::DispatchEntry> {
    whistle_street::queue(&w.store, &id::<StreetId>(street))
        .await
        .expect("dispatch queue")
        .into_iter()
        .find(|e| e.ticket == ticket)
}

#[tokio::test]
async fn a_declined_summons_goes_to_the_next_candidate_then_to_the_dispatcher() {
    let w = Whistle::start(false, false).await;
    let ticket = receive(
        &w,
        ("haigang", "wenhualu", "hongqili"),
        whistle_events::Category::Drains,
    )
    .await;
    acknowledge_and_call_up(&w, ticket).await;
    eventually("the whistle to 环卫", || async {
        in_department_queue(&w, "huanwei", ticket)
            .await
            .then_some(())
    })
    .await;

    // 环卫 declines (退单): the rule has no alternates left, so the district's fallback
    // owner 城管中队 is summoned; 住建 stays the lead.
    let desk = Desk::new(w.tickets.clone());
    desk.decline(
        ticket,
        id("huanwei"),
        id::<LiaisonId>("huanwei-li"),
        text("不属于环卫职责"),
    )
    .await
    .expect("decline");
    eventually("the re-dispatch to 城管中队", || async {
        in_department_queue(&w, "chengguan", ticket)
            .await
            .then_some(())
    })
    .await;
    assert!(!in_department_queue(&w, "huanwei", ticket).await);
    let state = w.tickets.load(ticket).await.expect("load");
    assert_eq!(state.lead(), Some(&id::<DepartmentId>("zhujian")));
    let timeline = w.tickets.timeline(ticket).await.expect("timeline");
    let last = timeline.last().expect("events");
    assert_eq!(last.event.kind().name, "WhistleBlown");
    assert!(
        last.summary().contains("环卫 declined"),
        "{}",
        last.summary()
    );

    // Both others decline too: nobody is left, the dispatcher decides.
    desk.decline(
        ticket,
        id("chengguan"),
        id::<LiaisonId>("chengguan-he"),
        text("非城管职责"),
    )
    .await
    .expect("decline");
    desk.decline(
        ticket,
        id("zhujian"),
        id::<LiaisonId>("zhujian-wang"),
        text("非住建职责"),
    )
    .await
    .expect("decline");
    let entry = eventually("the ticket in 文化路's dispatcher queue", || async {
        dispatch_entry(&w, "wenhualu", ticket).await
    })
    .await;
    assert!(entry.suggestion.is_none(), "{entry:?}");
    assert!(
        matches!(
            entry.waiting,
            whistle_street::Waiting::Declined { .. } | whistle_street::Waiting::NoCandidate
        ),
        "{entry:?}"
    );
    assert_eq!(
        w.tickets.load(ticket).await.expect("load").stage(),
        Stage::CalledUp,
        "every department declined: back with the street"
    );
    w.stop().await;
}

#[tokio::test]
async fn a_confirming_street_waits_for_its_dispatcher() {
    let w = Whistle::start(false, false).await;
    let ticket = receive(
        &w,
        ("yuyao", "yangming", "xinchengshi"),
        whistle_events::Category::WaterPowerPipes,
    )
    .await;
    acknowledge_and_call_up(&w, ticket).await;
    let entry = eventually("the ticket in 阳明街道's dispatcher queue", || async {
        dispatch_entry(&w, "yangming", ticket).await
    })
    .await;
    assert_eq!(entry.waiting, whistle_street::Waiting::Confirm);
    let suggestion = entry.suggestion.expect("the catalogue suggests");
    assert_eq!(
        suggestion.departments,
        [id::<DepartmentId>("shuiwu"), id("gongdian")]
    );
    assert_eq!(suggestion.lead, id::<DepartmentId>("shuiwu"));
    assert_eq!(
        w.tickets.load(ticket).await.expect("load").stage(),
        Stage::CalledUp,
        "no whistle before the dispatcher confirms"
    );

    let dispatcher = whistle_street::Dispatcher::new(w.tickets.clone());
    dispatcher
        .confirm(ticket, &id("yangming"), id("yangming-dispatch"))
        .await
        .expect("confirm");
    for department in ["shuiwu", "gongdian"] {
        eventually("the confirmed summons", || async {
            in_department_queue(&w, department, ticket)
                .await
                .then_some(())
        })
        .await;
    }
    eventually("the ticket leaves the dispatcher queue", || async {
        dispatch_entry(&w, "yangming", ticket)
            .await
            .is_none()
            .then_some(())
    })
    .await;
    let again = dispatcher
        .confirm(ticket, &id("yangming"), id("yangming-dispatch"))
        .await
        .expect_err("nothing left to confirm");
    assert!(again.to_string().contains("not waiting"), "{again}");
    w.stop().await;
}

#[tokio::test]
async fn a_complaint_goes_the_whole_path_embedded() {
    let w = Whistle::start(false, false).await;
    // A liaison console listening to 住建's notices (server-sent events).
    let liaison = w.token("liaison", "department:zhujian", "zhujian-wang");
    let mut sse = tokio::net::TcpStream::connect(w.address())
        .await
        .expect("connect");
    sse.write_all(format!("GET /api/departments/zhujian/notices HTTP/1.1\r\nHost: whistle\r\nAccept: text/event-stream\r\nAuthorization: Bearer {liaison}\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let (first_line, rest) = {
        let mut head = vec![0u8; 512];
        let n = sse.read(&mut head).await.expect("response head");
        let head = String::from_utf8_lossy(&head[..n]).into_owned();
        (head.lines().next().unwrap_or_default().to_owned(), head)
    };
    assert!(first_line.contains("200"), "{first_line}");
    assert!(rest.to_lowercase().contains("text/event-stream"), "{rest}");
    let listening = tokio::spawn(async move {
        let mut seen = String::new();
        let mut buffer = vec![0u8; 4096];
        while !seen.contains("event: summoned") {
            let n = sse.read(&mut buffer).await.expect("read events");
            assert!(n > 0, "the event stream ended");
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
        seen
    });

    let ticket = receive(
        &w,
        ("haigang", "wenhualu", "hongqili"),
        whistle_events::Category::Drains,
    )
    .await;
    whole_path(&w, ticket).await;
    let seen = tokio::time::timeout(Duration::from_secs(10), listening)
        .await
        .expect("住建's console is told about the summons")
        .expect("listener");
    assert!(seen.contains(&ticket.to_string()), "{seen}");

    // The same read models over HTTP.
    let liaison = Some(liaison.as_str());
    let (status, body) = get(w.address(), "/api/departments/zhujian/queue", None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = get(w.address(), "/api/departments/zhujian/queue", liaison).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON"),
        json!([])
    );
    let (status, body) = get(
        w.address(),
        &format!("/api/tickets/{ticket}/timeline"),
        liaison,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let timeline: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(timeline[3]["event_type"], "WhistleBlown");
    assert_eq!(timeline[3]["actor"], "whistle-street");
    let (status, body) = get(w.address(), "/api/departments/nobody/queue", liaison).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no department `nobody`"), "{body}");
    let (status, body) = get(w.address(), "/api/departments/Not.A.Code/queue", liaison).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = get(w.address(), "/metrics", None).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("whistle_consumer_events_total{consumer=\"street\",outcome=\"applied\"}"),
        "{body}"
    );
    let (status, body) = get(w.address(), "/about", None).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("文化路街道") && body.contains("zhujian"),
        "{body}"
    );
    w.stop().await;
}

/// Sends `message` on the source's subject as a request and reads the answer.
async fn ask(client: &async_nats::Client, subject: String, payload: Vec<u8>) -> IncidentAnswer {
    let reply = client
        .request(subject, payload.into())
        .await
        .expect("intake answers");
    serde_json::from_slice(&reply.payload).expect("a JSON answer")
}

/// Waits until intake's durable consumer has decided every message.
async fn intake_drained(w: &Whistle) {
    let js = jetstream::new(async_nats::connect(nats_url()).await.expect("NATS"));
    eventually("intake to decide every message", || {
        let js = js.clone();
        let stream = format!("INCIDENTS_{}", w.namespace);
        async move {
            let mut consumer: jetstream::consumer::PullConsumer = js
                .get_stream(stream)
                .await
                .ok()?
                .get_consumer("intake")
                .await
                .ok()?;
            let info = consumer.info().await.ok()?;
            (info.num_pending == 0
                && info.num_ack_pending == 0
                && info.delivered.stream_sequence > 0)
                .then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn duplicate_incidents_land_on_one_ticket() {
    let w = Whistle::start(true, true).await;
    let client = async_nats::connect(nats_url()).await.expect("NATS");
    let subject = w.subject("incidents.citymgmt-iot");
    let trigger = serde_json::to_vec(&incident("INC-DUP-7")).expect("json");
    let expected = TicketId::for_external(
        &id("citymgmt-iot"),
        &whistle_events::ExternalId::parse("INC-DUP-7").expect("valid"),
    );
    // The same incident: as a request, as plain publishes with distinct message ids
    // (outside JetStream's dedupe), and with a repeated message id (inside it).
    let answer = ask(&client, subject.clone(), trigger.clone()).await;
    assert_eq!(
        answer,
        IncidentAnswer::Accepted {
            ticket_id: expected
        }
    );
    for msg_id in ["a", "b", "b"] {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        client
            .publish_with_headers(subject.clone(), headers, trigger.clone().into())
            .await
            .expect("publish");
    }
    // An update sent twice is recorded once; then the source clears the incident.
    let update = serde_json::to_vec(&json!({
        "source": "citymgmt-iot", "external_id": "INC-DUP-7", "action": "update",
        "note": "液位继续上升至 35 厘米"
    }))
    .expect("json");
    for _ in 0..2 {
        let answer = ask(&client, subject.clone(), update.clone()).await;
        assert_eq!(
            answer,
            IncidentAnswer::Accepted {
                ticket_id: expected
            }
        );
    }
    client.flush().await.expect("flush");
    intake_drained(&w).await;
    let timeline = w.tickets.timeline(expected).await.expect("timeline");
    let kinds: Vec<&str> = timeline.iter().map(|e| e.event.kind().name).collect();
    assert_eq!(kinds, ["Received", "SourceUpdated"]);

    let resolve = serde_json::to_vec(&json!({
        "source": "citymgmt-iot", "external_id": "INC-DUP-7", "action": "resolve",
        "note": "液位恢复正常"
    }))
    .expect("json");
    let answer = ask(&client, subject.clone(), resolve).await;
    assert_eq!(
        answer,
        IncidentAnswer::Accepted {
            ticket_id: expected
        }
    );
    intake_drained(&w).await;
    let timeline = w.tickets.timeline(expected).await.expect("timeline");
    let kinds: Vec<&str> = timeline.iter().map(|e| e.event.kind().name).collect();
    assert_eq!(
        kinds,
        ["Received", "SourceUpdated", "SourceUpdated", "Resolved"]
    );
    // Resolved before anyone acknowledged: it leaves the community's queue.
    eventually("the cleared ticket leaves 红旗里's queue", || async {
        (!in_community_queue(&w, "hongqili", expected).await).then_some(())
    })
    .await;
    w.stop().await;
}

#[tokio::test]
async fn every_kind_of_invalid_incident_is_rejected_with_its_reason() {
    let w = Whistle::start(true, true).await;
    let client = async_nats::connect(nats_url()).await.expect("NATS");
    let subject = w.subject("incidents.citymgmt-iot");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut message = incident("INC-BAD-1");
        change(&mut message);
        serde_json::to_vec(&message).expect("json")
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bad_json", b"{\"source\": \"citymgmt-iot\", ".to_vec(), "line"),
        ("bad_json", vec![0xff, 0xfe, b'{'], "UTF-8"),
        ("schema", with(&|m| m["colour"] = json!("red")), "colour"),
        ("missing_field", with(&|m| { m.as_object_mut().expect("object").remove("category"); }), "category"),
        ("unknown_category", with(&|m| m["category"] = json!("potholes")), "potholes"),
        ("unknown_location", with(&|m| m["location"]["community"] = json!("nowhere")), "nowhere"),
        ("source_mismatch", with(&|m| m["source"] = json!("other-system")), "other-system"),
        ("bad_id", with(&|m| m["location"]["street"] = json!("Wen Hua Lu")), "Wen Hua Lu"),
        (
            "unknown_incident",
            serde_json::to_vec(&json!({
                "source": "citymgmt-iot", "external_id": "NEVER-TRIGGERED", "action": "update", "note": "?"
            }))
            .expect("json"),
            "trigger",
        ),
    ];
    for (code, payload, mentions) in &cases {
        let answer = ask(&client, subject.clone(), payload.clone()).await;
        let IncidentAnswer::Rejected { code: got, reason } = answer else {
            panic!("{code}: accepted");
        };
        assert_eq!(got.as_str(), *code, "{reason}");
        assert!(
            reason.contains(mentions),
            "{code}: the reason does not mention {mentions}: {reason}"
        );
    }
    intake_drained(&w).await;

    // Each rejected message is in REJECTED once, with its code and its original bytes.
    let js = jetstream::new(client.clone());
    let stream = js
        .get_stream(format!("REJECTED_{}", w.namespace))
        .await
        .expect("the rejected stream exists");
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            filter_subject: w.subject("rejected.incidents.citymgmt-iot"),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer
        .fetch()
        .max_messages(100)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .expect("fetch");
    let mut rejected = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.expect("message");
        let record: RejectedIncident =
            serde_json::from_slice(&message.payload).expect("a rejection record");
        rejected.push(record);
    }
    assert_eq!(rejected.len(), cases.len(), "{rejected:#?}");
    for ((code, payload, _), record) in cases.iter().zip(&rejected) {
        assert_eq!(record.code.as_str(), *code);
        assert_eq!(
            record.original_payload().as_deref(),
            Some(payload.as_slice())
        );
        assert_eq!(record.subject, subject);
    }
    // Nothing was recorded for any of them.
    assert_eq!(
        w.store.head().await.expect("head"),
        whistle_store::Position::START
    );
    w.stop().await;
}
