//! The incident contract: what other systems publish on `incidents.<source>`, how each
//! mistake is rejected, what publishers are answered and what is kept of a rejected message.
//!
//! The committed JSON Schemas in `schemas/incidents/` must match the code:
//! `WHISTLE_WRITE_SCHEMAS=1 cargo test -p whistle-events --test incident` rewrites them.

mod common;

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use whistle_events::incident::*;
use whistle_events::ticket::Received;
use whistle_events::*;

const SOURCE: &str = "citymgmt-iot";

fn repo_dir(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

#[test]
fn committed_incident_schemas_match_the_code() {
    common::assert_schemas_match("schemas/incidents", &incident_schemas(), "incident");
}

#[test]
fn the_committed_example_is_a_valid_trigger_on_its_own_ticket() {
    let bytes =
        std::fs::read(repo_dir("schemas/examples/incident.trigger.json")).expect("example exists");
    let raw: Value = serde_json::from_slice(&bytes).expect("example is JSON");
    let source = raw["source"].as_str().expect("example has a source");
    let external_id = raw["external_id"]
        .as_str()
        .expect("example has an external id");
    let subject = format!("incidents.{source}");
    let token = source_token(&subject).expect("the example's subject has a source token");

    let incident = parse_incident(token, &bytes).expect("the example is valid");

    assert_eq!(incident.source().as_str(), source);
    assert_eq!(incident.external_id().as_str(), external_id);
    assert_eq!(
        incident.ticket(),
        TicketId::for_external(
            &SourceSystem::parse(source).expect("valid"),
            &ExternalId::parse(external_id).expect("valid")
        )
    );
    assert_eq!(incident.request().action(), IncidentAction::Trigger);
    assert_eq!(incident_subject(incident.source()), subject);
    let received = incident
        .received()
        .expect("a trigger gives a Received event");
    assert_eq!(received.channel, Channel::ExternalSystem);
    assert_eq!(received.location.street.as_str(), "wenhualu");
    assert_eq!(
        received.source,
        Some(ExternalSource {
            system: incident.source().clone(),
            external_id: incident.external_id().clone(),
        })
    );
}

/// A complete trigger from the city-management IoT platform.
fn trigger() -> Value {
    json!({
        "source": SOURCE,
        "external_id": "INC-2026-000123",
        "action": "trigger",
        "category": "drains",
        "location": {
            "district": "haigang",
            "street": "wenhualu",
            "community": "hongqili",
            "grid": "hongqili-03",
            "place": "  红旗里小区 3号楼东侧 "
        },
        "urgency": "major",
        "description": " 雨水井堵塞，积水漫过人行道 ",
        "reporter": { "name": "王师傅", "phone": " ", "address": " 红旗里小区 3号楼 2单元 301 " },
        "occurred_at": "2026-07-21T07:42:00+08:00"
    })
}

fn with(mut message: Value, field: &str, value: Value) -> Value {
    message[field] = value;
    message
}

fn without(mut message: Value, field: &str) -> Value {
    message.as_object_mut().expect("an object").remove(field);
    message
}

fn update(note: Option<&str>) -> Value {
    let mut message = json!({
        "source": SOURCE,
        "external_id": "INC-2026-000123",
        "action": "update",
    });
    if let Some(note) = note {
        message["note"] = json!(note);
    }
    message
}

fn parse(message: &Value) -> Result<ValidIncident, IncidentRejection> {
    parse_incident(SOURCE, &serde_json::to_vec(message).expect("serializes"))
}

/// Parses `message`, expects `code`, and checks the reason mentions every one of `mentions`.
fn rejected(message: &Value, code: RejectionCode, mentions: &[&str]) {
    rejected_bytes(
        &serde_json::to_vec(message).expect("serializes"),
        code,
        mentions,
    );
}

fn rejected_bytes(payload: &[u8], code: RejectionCode, mentions: &[&str]) {
    let err = parse_incident(SOURCE, payload).expect_err("rejected");
    assert_eq!(err.code, code, "{err}");
    for word in mentions {
        assert!(
            err.reason.contains(word),
            "reason should mention {word:?}: {err}"
        );
    }
}

#[test]
fn a_trigger_becomes_typed_values_and_a_received_event() {
    let incident = parse(&trigger()).expect("valid");
    let source = SourceSystem::parse(SOURCE).expect("valid");
    let external_id = ExternalId::parse("INC-2026-000123").expect("valid");
    assert_eq!(
        incident.ticket(),
        TicketId::for_external(&source, &external_id)
    );
    assert_eq!(
        incident.occurred_at(),
        Utc.with_ymd_and_hms(2026, 7, 20, 23, 42, 0).single()
    );
    let location = Location {
        district: DistrictId::parse("haigang").expect("valid"),
        street: StreetId::parse("wenhualu").expect("valid"),
        community: CommunityId::parse("hongqili").expect("valid"),
        grid: Some(GridId::parse("hongqili-03").expect("valid")),
        place: Some("红旗里小区 3号楼东侧".into()),
    };
    let reporter = ReporterContact {
        name: Some("王师傅".into()),
        phone: None,
        address: Some("红旗里小区 3号楼 2单元 301".into()),
    };
    let description = Text::description("雨水井堵塞，积水漫过人行道").expect("valid");
    assert_eq!(
        incident.received(),
        Some(Received {
            channel: Channel::ExternalSystem,
            reporter: reporter.clone(),
            sealed_reporter: None,
            location: location.clone(),
            category: Category::Drains,
            urgency: Urgency::Major,
            description: description.clone(),
            source: Some(ExternalSource {
                system: source,
                external_id,
            }),
        })
    );
    assert_eq!(
        incident.into_request(),
        IncidentRequest::Trigger {
            location,
            category: Category::Drains,
            urgency: Urgency::Major,
            description,
            reporter,
        }
    );
}

#[test]
fn a_minimal_trigger_is_minor_with_no_reporter_and_no_time() {
    let message = json!({
        "source": SOURCE,
        "external_id": "INC-1",
        "action": "trigger",
        "category": "other",
        "location": { "district": "haigang", "street": "wenhualu", "community": "hongqili" },
        "description": "路面塌陷"
    });
    let incident = parse(&message).expect("valid");
    assert_eq!(incident.occurred_at(), None);
    let received = incident.received().expect("a trigger");
    assert_eq!(received.urgency, Urgency::Minor);
    assert_eq!(received.reporter, ReporterContact::default());
    assert_eq!(received.location.grid, None);
    assert_eq!(received.location.place, None);
}

#[test]
fn an_update_carries_a_note_to_the_same_ticket() {
    let triggered = parse(&trigger()).expect("valid");
    let updated = parse(&update(Some(" 已派人清掏，水位下降 "))).expect("valid");
    assert_eq!(updated.ticket(), triggered.ticket());
    assert_eq!(updated.received(), None);
    assert_eq!(
        updated.request(),
        &IncidentRequest::Update {
            note: Text::note("已派人清掏，水位下降").expect("valid")
        }
    );
}

#[test]
fn a_resolve_may_carry_a_note() {
    let bare = parse(&with(update(None), "action", json!("resolve"))).expect("valid");
    assert_eq!(bare.request(), &IncidentRequest::Resolve { note: None });
    assert_eq!(bare.request().action(), IncidentAction::Resolve);
    assert_eq!(bare.received(), None);

    let noted = parse(&with(
        update(Some("传感器水位恢复正常")),
        "action",
        json!("resolve"),
    ))
    .expect("valid");
    assert_eq!(
        noted.request(),
        &IncidentRequest::Resolve {
            note: Some(Text::note("传感器水位恢复正常").expect("valid"))
        }
    );
}

#[test]
fn bad_json_is_rejected_with_where_it_broke() {
    rejected_bytes(
        b"{\"source\": \"citymgmt-iot\",\n \"action\": trigger}",
        RejectionCode::BadJson,
        &["not valid JSON", "line 2 column"],
    );
    rejected_bytes(b"", RejectionCode::BadJson, &["EOF", "line 1 column 0"]);
    rejected_bytes(
        b"{\"source\": \"citymgmt-iot\",\n \"description\": \"\xff\"}",
        RejectionCode::BadJson,
        &["not UTF-8", "0xff", "line 2 column 18", "offset 44"],
    );
}

#[test]
fn the_wrong_shape_is_a_schema_rejection() {
    rejected(
        &with(without(trigger(), "category"), "catgory", json!("drains")),
        RejectionCode::Schema,
        &["unknown field `catgory`", "IncidentMessage.schema.json"],
    );
    let mut misspelt_location = trigger();
    misspelt_location["location"]["stret"] = json!("wenhualu");
    rejected(
        &misspelt_location,
        RejectionCode::Schema,
        &["unknown field `stret`"],
    );
    rejected(
        &without(trigger(), "action"),
        RejectionCode::Schema,
        &["missing field `action`"],
    );
    rejected(
        &with(trigger(), "action", json!("acknowledge")),
        RejectionCode::Schema,
        &["unknown variant `acknowledge`", "`trigger`"],
    );
    rejected(
        &with(trigger(), "external_id", json!(123)),
        RejectionCode::Schema,
        &["invalid type: integer `123`"],
    );
    rejected_bytes(
        b"\"trigger\"",
        RejectionCode::Schema,
        &["not a JSON object"],
    );
    // Serde alone would take the fields in order as an array.
    let fields = json!([
        SOURCE, "INC-1", "update", null, null, null, null, null, "补充", null
    ]);
    rejected(&fields, RejectionCode::Schema, &["not a JSON object"]);
}

#[test]
fn a_bad_occurred_at_is_a_schema_rejection() {
    rejected(
        &with(trigger(), "occurred_at", json!("2026-07-21 07:42")),
        RejectionCode::Schema,
        &[
            "occurred_at `2026-07-21 07:42` is not an RFC 3339 time",
            "2026-07-21T07:42:00+08:00",
        ],
    );
}

#[test]
fn fields_of_another_action_are_a_schema_rejection() {
    rejected(
        &with(trigger(), "note", json!("补充")),
        RejectionCode::Schema,
        &["`note` is not used with action `trigger`", "`description`"],
    );
    rejected(
        &with(update(Some("补充")), "urgency", json!("urgent")),
        RejectionCode::Schema,
        &["`urgency` is not used with action `update`"],
    );
    rejected(
        &with(
            with(update(None), "action", json!("resolve")),
            "description",
            json!("已处理"),
        ),
        RejectionCode::Schema,
        &["`description` is not used with action `resolve`", "`note`"],
    );
}

#[test]
fn a_source_other_than_the_subjects_is_rejected() {
    rejected(
        &with(trigger(), "source", json!("hotline-12345")),
        RejectionCode::SourceMismatch,
        &[
            "`hotline-12345`",
            "incidents.citymgmt-iot",
            "publish it on `incidents.hotline-12345`",
        ],
    );
}

#[test]
fn bad_ids_are_rejected_with_the_id_error() {
    rejected(
        &with(trigger(), "source", json!("CityMgmt")),
        RejectionCode::BadId,
        &["source system `CityMgmt` has the character 'C'"],
    );
    rejected(
        &with(trigger(), "external_id", json!("  ")),
        RejectionCode::BadId,
        &["external id is empty"],
    );
    let mut bad_street = trigger();
    bad_street["location"]["street"] = json!("文化路");
    rejected(
        &bad_street,
        RejectionCode::BadId,
        &["street id `文化路` has the character '文'"],
    );
    let mut bad_grid = trigger();
    bad_grid["location"]["grid"] = json!("hongqili.03");
    rejected(&bad_grid, RejectionCode::BadId, &["grid id `hongqili.03`"]);
}

#[test]
fn a_trigger_without_its_fields_names_the_missing_one() {
    for field in ["category", "location", "description"] {
        rejected(
            &without(trigger(), field),
            RejectionCode::MissingField,
            &[&format!("`{field}` is missing")],
        );
    }
    rejected(
        &with(trigger(), "category", Value::Null),
        RejectionCode::MissingField,
        &["`category` is missing", "`drains`"],
    );
    rejected(
        &update(None),
        RejectionCode::MissingField,
        &["`note` is missing"],
    );
}

#[test]
fn an_unknown_category_lists_the_valid_ones() {
    rejected(
        &with(trigger(), "category", json!("drain")),
        RejectionCode::UnknownCategory,
        &[
            "category `drain` is not known",
            "`drains`",
            "`water_power_pipes`",
            "`other`",
        ],
    );
}

#[test]
fn an_unknown_urgency_lists_the_valid_ones() {
    rejected(
        &with(trigger(), "urgency", json!("critical")),
        RejectionCode::UnknownUrgency,
        &["urgency `critical` is not known", "`minor`", "`urgent`"],
    );
}

#[test]
fn blank_or_overlong_texts_are_rejected() {
    rejected(
        &with(trigger(), "description", json!(" \n ")),
        RejectionCode::BadText,
        &["description is empty"],
    );
    rejected(
        &with(trigger(), "description", json!("水".repeat(4001))),
        RejectionCode::BadText,
        &["description has 4001 characters", "4000"],
    );
    rejected(
        &update(Some("")),
        RejectionCode::BadText,
        &["note is empty"],
    );
    let mut long_place = trigger();
    long_place["location"]["place"] = json!("楼".repeat(MAX_PLACE_LEN + 1));
    rejected(
        &long_place,
        RejectionCode::BadText,
        &["location.place has 201 characters"],
    );
    let mut long_address = trigger();
    long_address["reporter"]["address"] = json!("楼".repeat(MAX_REPORTER_ADDRESS_LEN + 1));
    rejected(
        &long_address,
        RejectionCode::BadText,
        &["reporter.address has 201 characters"],
    );
}

#[test]
fn rejection_codes_are_stable() {
    let codes: Vec<&str> = RejectionCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        codes,
        [
            "bad_json",
            "schema",
            "source_mismatch",
            "bad_id",
            "missing_field",
            "unknown_category",
            "unknown_urgency",
            "bad_text",
            "unknown_location",
            "unknown_incident",
            "ticket_closed",
            "unprocessable",
        ]
    );
    for code in RejectionCode::ALL {
        assert_eq!(
            serde_json::to_value(code).expect("serializes"),
            json!(code.as_str())
        );
        assert_eq!(code.to_string(), code.as_str());
    }
}

#[test]
fn answers_have_an_exact_json_form() {
    let ticket = TicketId::parse("085d61ca-4f2b-5adb-9ab2-284b0710a61e").expect("valid");
    let accepted = IncidentAnswer::Accepted { ticket_id: ticket };
    let text = r#"{"status":"accepted","ticket_id":"085d61ca-4f2b-5adb-9ab2-284b0710a61e"}"#;
    assert_eq!(serde_json::to_string(&accepted).expect("serializes"), text);
    assert_eq!(
        serde_json::from_str::<IncidentAnswer>(text).expect("deserializes"),
        accepted
    );

    let rejection = parse(&with(trigger(), "urgency", json!("critical"))).expect_err("rejected");
    let answer = IncidentAnswer::from(rejection.clone());
    let text = serde_json::to_string(&answer).expect("serializes");
    assert_eq!(
        text,
        format!(
            r#"{{"status":"rejected","code":"unknown_urgency","reason":{}}}"#,
            serde_json::to_string(&rejection.reason).expect("serializes")
        )
    );
    assert_eq!(
        serde_json::from_str::<IncidentAnswer>(&text).expect("deserializes"),
        answer
    );
}

#[test]
fn a_rejected_incident_keeps_the_original_bytes() {
    let at = Utc
        .with_ymd_and_hms(2026, 7, 21, 0, 0, 0)
        .single()
        .expect("valid");
    let subject = "incidents.citymgmt-iot";
    let utf8 = "{ \"source\":\"citymgmt-iot\",\n  \"description\": \"积水\" ".as_bytes();
    let rejection = parse_incident(SOURCE, utf8).expect_err("truncated JSON");
    let kept = RejectedIncident::new(subject, &rejection, utf8, at);
    assert_eq!(kept.payload.as_deref().map(str::as_bytes), Some(utf8));
    assert_eq!(kept.payload_hex, None);
    assert_eq!(kept.code, RejectionCode::BadJson);
    assert_eq!(kept.original_payload().as_deref(), Some(utf8));

    let binary: &[u8] = &[0x7b, 0xff, 0x00, 0x0a, 0xa0];
    let rejection = parse_incident(SOURCE, binary).expect_err("not UTF-8");
    let kept = RejectedIncident::new(subject, &rejection, binary, at);
    assert_eq!(kept.payload, None);
    assert_eq!(kept.payload_hex.as_deref(), Some("7bff000aa0"));
    assert_eq!(kept.original_payload().as_deref(), Some(binary));

    // Through JSON, as it travels on the REJECTED stream.
    let json = serde_json::to_string(&kept).expect("serializes");
    let back: RejectedIncident = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, kept);
    assert_eq!(back.original_payload().as_deref(), Some(binary));

    let empty = RejectedIncident::new(subject, &rejection, b"", at);
    assert_eq!(empty.payload.as_deref(), Some(""));
    assert_eq!(empty.original_payload(), Some(Vec::new()));

    let tampered = RejectedIncident {
        payload_hex: Some("7g".into()),
        ..kept
    };
    assert_eq!(tampered.original_payload(), None);
}

#[test]
fn subjects_carry_the_source_as_one_token() {
    assert_eq!(source_token("incidents.citymgmt-iot"), Some("citymgmt-iot"));
    assert_eq!(source_token("incidents.Bad Source"), Some("Bad Source"));
    assert_eq!(source_token("incidents"), None);
    assert_eq!(source_token("incidents."), None);
    assert_eq!(source_token("incidents.a.b"), None);
    assert_eq!(source_token("incidentsx.a"), None);
    assert_eq!(source_token("tickets.haigang"), None);

    assert_eq!(
        incident_subject(&SourceSystem::parse("hotline-12345").expect("valid")),
        "incidents.hotline-12345"
    );
    assert_eq!(
        rejected_subject("hotline-12345"),
        "rejected.incidents.hotline-12345"
    );
    assert_eq!(rejected_subject("Bad Source"), "rejected.incidents._");
    assert_eq!(rejected_subject(""), "rejected.incidents._");
}
