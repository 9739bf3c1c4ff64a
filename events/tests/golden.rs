//! Golden fixtures: one stored payload of every ticket event at every version whistle has
//! ever shipped. Each must keep deserializing forever; the current version must also
//! serialize back byte for byte, so the fixture shows the shape being written today.
//!
//! `WHISTLE_WRITE_FIXTURES=1 cargo test -p whistle-events --test golden` writes fixtures
//! that are missing (never overwrites one: a shipped fixture is history).

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use whistle_events::ticket::*;
use whistle_events::*;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn id<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().expect("valid id in fixture source")
}

fn text(s: &str) -> Text {
    Text::note(s).expect("valid text in fixture source")
}

/// One example of every event, as the demo's streets would record them.
fn samples() -> Vec<TicketEvent> {
    let due = Utc
        .with_ymd_and_hms(2026, 7, 21, 12, 0, 0)
        .single()
        .expect("valid");
    vec![
        // As the ticket executor records it: the contact sealed, none of it in plain text.
        // The seal is a sample of its shape, not a real ciphertext.
        TicketEvent::Received(Received {
            channel: Channel::Hotline,
            reporter: ReporterContact::default(),
            sealed_reporter: Some(SealedContact {
                nonce: "3q2+78r+ur7erb7v".into(),
                ciphertext:
                    "x5Jd0nq8XvY1cGzF2mH0b7Q9sWkR4tLe+u3aPi6oNyVhCj8KdTgMf1ZrEwBs5Qx2Ln7AyUe="
                        .into(),
            }),
            location: Location {
                district: id("haigang"),
                street: id("wenhualu"),
                community: id("hongqili"),
                grid: Some(id("hongqili-03")),
                place: Some("红旗里小区 5号楼".into()),
            },
            category: Category::Drains,
            urgency: Urgency::Major,
            description: text("楼前下水道堵塞，污水漫到路面"),
            source: Some(ExternalSource {
                system: id("hotline-12345"),
                external_id: ExternalId::parse("12345-20260720-0001").expect("valid"),
            }),
        }),
        TicketEvent::Acknowledged(Acknowledged {
            reply: text("已受理，社区工作人员马上联系您"),
        }),
        TicketEvent::HandledLocally(HandledLocally {
            plan: text("社区组织物业清掏"),
        }),
        TicketEvent::CalledUp(CalledUp {
            street: id("wenhualu"),
            reason: text("主管网堵塞，社区无法处理"),
        }),
        TicketEvent::WhistleBlown(WhistleBlown {
            departments: vec![id("zhujian"), id("huanwei")],
            lead: id("zhujian"),
            reason: text("下水主管网疏通"),
        }),
        TicketEvent::DepartmentReportedIn(DepartmentReportedIn {
            department: id("zhujian"),
            liaison: id("zhujian-wang"),
        }),
        TicketEvent::DepartmentDeclined(DepartmentDeclined {
            department: id("huanwei"),
            liaison: id("huanwei-zhao"),
            reason: text("非环卫职责，建议转水务"),
        }),
        TicketEvent::ProgressNoted(ProgressNoted {
            department: id("zhujian"),
            liaison: id("zhujian-wang"),
            note: text("已到现场，调疏通车"),
            on_site: true,
        }),
        TicketEvent::DepartmentFinished(DepartmentFinished {
            department: id("zhujian"),
            liaison: id("zhujian-wang"),
            fixed: true,
            outcome: text("主管网已疏通"),
        }),
        TicketEvent::ExtensionRequested(ExtensionRequested {
            department: id("zhujian"),
            liaison: id("zhujian-wang"),
            until: due,
            reason: text("需更换管道，等待材料"),
        }),
        TicketEvent::ExtensionApproved(ExtensionApproved {
            department: id("zhujian"),
            until: due,
            reason: text("材料到货需一天"),
        }),
        TicketEvent::ExtensionDenied(ExtensionDenied {
            department: id("zhujian"),
            reason: text("汛期，必须当日处理"),
        }),
        TicketEvent::Resolved(Resolved {
            summary: text("下水道已疏通，路面已清理"),
        }),
        TicketEvent::FeedbackRecorded(FeedbackRecorded {
            resolved: true,
            satisfied: true,
            score: Some(Score::parse(5).expect("valid")),
            comment: Some(text("处理很快")),
        }),
        TicketEvent::Reopened(Reopened {
            reason: text("雨后再次堵塞"),
            round: 2,
        }),
        TicketEvent::Closed(Closed {
            reason: CloseReason::Feedback,
        }),
        TicketEvent::MergedInto(MergedInto {
            into: TicketId::parse("0190f1c2-7a7b-7cc3-9e1d-3c5d2a1b0f00").expect("valid"),
            reason: text("同一处积水"),
        }),
        TicketEvent::MergedFrom(MergedFrom {
            from: TicketId::parse("0190f1c2-7a7b-7cc3-9e1d-3c5d2a1b0f01").expect("valid"),
        }),
        TicketEvent::SupervisionOpened(SupervisionOpened {
            level: SupervisionLevel::District,
            department: Some(id("zhujian")),
            reason: text("报到超时"),
        }),
        TicketEvent::SlaBreached(SlaBreached {
            clock: SlaClock::ReportIn,
            department: Some(id("zhujian")),
            due_at: due,
            policy_version: "2026.1".into(),
        }),
        TicketEvent::SourceUpdated(SourceUpdated {
            note: Some(Text::note("传感器读数恢复正常，积水已退").expect("valid note")),
            cleared: true,
            message_id: uuid::Uuid::from_u128(0x6f1c_2a0e_8d4b_5e21_9a7c_3b5d_1e2f_4a6b),
        }),
        TicketEvent::SlaWarned(SlaWarned {
            clock: SlaClock::Completion,
            department: None,
            percent: 75,
            due_at: due,
            policy_version: "2026.1".into(),
        }),
        TicketEvent::SlaPaused(SlaPaused {
            reason: text("等待居民开门入户"),
        }),
        TicketEvent::SlaResumed(SlaResumed {
            reason: text("居民已回家"),
        }),
        TicketEvent::PersonalDataErased(PersonalDataErased {
            reason: text("居民申请删除个人信息"),
        }),
    ]
}

fn fixture_path(kind: EventKind) -> PathBuf {
    fixtures_dir().join(format!("{}.v{}.json", kind.name, kind.version))
}

#[test]
fn samples_cover_every_kind_once() {
    let mut names: Vec<&str> = samples().iter().map(|e| e.kind().name).collect();
    names.sort_unstable();
    let mut kinds: Vec<&str> = TicketEvent::KINDS.iter().map(|k| k.name).collect();
    kinds.sort_unstable();
    assert_eq!(names, kinds);
}

#[test]
fn every_current_event_has_a_fixture_that_round_trips() {
    let write = std::env::var_os("WHISTLE_WRITE_FIXTURES").is_some();
    for sample in samples() {
        let path = fixture_path(sample.kind());
        if write && !path.exists() {
            let json = serde_json::to_string_pretty(&sample).expect("serializes") + "\n";
            std::fs::write(&path, json).expect("fixture written");
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with WHISTLE_WRITE_FIXTURES=1 to create it",
                path.display()
            )
        });
        let payload: serde_json::Value = serde_json::from_str(&stored).expect("fixture is JSON");
        let kind = sample.kind();
        let decoded = TicketEvent::decode(kind.name, kind.version, &payload)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            decoded,
            sample,
            "{} decodes to a different event",
            path.display()
        );
        let again = serde_json::to_string_pretty(&decoded).expect("serializes") + "\n";
        assert_eq!(
            again,
            stored,
            "{} no longer round-trips byte for byte",
            path.display()
        );
    }
}

#[test]
fn every_fixture_ever_shipped_still_decodes() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures_dir()).expect("fixtures dir") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let (event_type, version) = stem
            .split_once(".v")
            .expect("fixture named <Type>.v<version>.json");
        let payload: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
        let decoded = TicketEvent::decode(event_type, version, &payload)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.kind().name, event_type, "{name}");
        // From the stored text, as a rebuild reads it, the same event.
        let text = std::fs::read_to_string(&path).expect("readable");
        assert_eq!(
            TicketEvent::decode_json(event_type, version, &text),
            Ok(decoded),
            "{name}"
        );
        seen += 1;
    }
    assert!(
        seen >= TicketEvent::KINDS.len(),
        "only {seen} fixtures found"
    );
}

#[test]
fn unknown_and_malformed_payloads_are_errors_not_panics() {
    let payload = serde_json::json!({"Acknowledged": {"reply": "好"}});
    assert_eq!(
        TicketEvent::decode("Acknowledged", "9.0.0", &payload),
        Err(DecodeError::Unknown {
            event_type: "Acknowledged".into(),
            event_version: "9.0.0".into()
        })
    );
    assert!(matches!(
        TicketEvent::decode("Teleported", "1.0.0", &payload),
        Err(DecodeError::Unknown { .. })
    ));
    let wrong_shape = serde_json::json!({"Acknowledged": {"answer": 3}});
    assert!(matches!(
        TicketEvent::decode("Acknowledged", "1.0.0", &wrong_shape),
        Err(DecodeError::Malformed { .. })
    ));
    // A payload of another type under this type's name is caught too.
    assert!(matches!(
        TicketEvent::decode("Resolved", "1.0.0", &payload),
        Err(DecodeError::Malformed { .. })
    ));
    // From text, the same answers (a reason from text also names where in it), and text
    // that is not JSON is malformed.
    let kind = |decoded: Result<TicketEvent, DecodeError>| match decoded {
        Ok(_) => "decoded",
        Err(DecodeError::Unknown { .. }) => "unknown",
        Err(DecodeError::Malformed { .. }) => "malformed",
    };
    for (event_type, version, value) in [
        ("Acknowledged", "9.0.0", &payload),
        ("Teleported", "1.0.0", &payload),
        ("Acknowledged", "1.0.0", &wrong_shape),
        ("Resolved", "1.0.0", &payload),
    ] {
        assert_eq!(
            kind(TicketEvent::decode_json(
                event_type,
                version,
                &value.to_string()
            )),
            kind(TicketEvent::decode(event_type, version, value)),
            "{event_type} {version}"
        );
    }
    assert!(matches!(
        TicketEvent::decode_json("Acknowledged", "1.0.0", "{\"Acknowledged\": "),
        Err(DecodeError::Malformed { .. })
    ));
}

/// A minor version only adds fields with defaults, so a payload written at an earlier minor
/// of the same major decodes as it is. A later version, even a minor one, is refused: its
/// new fields would be dropped without a word (a sealed contact would read as none).
#[test]
fn earlier_minor_versions_decode_and_later_ones_are_unknown() {
    let stored = std::fs::read_to_string(fixtures_dir().join("Received.v1.0.0.json"))
        .expect("the 1.0.0 fixture is kept");
    let payload: serde_json::Value = serde_json::from_str(&stored).expect("JSON");
    let Ok(TicketEvent::Received(received)) = TicketEvent::decode("Received", "1.0.0", &payload)
    else {
        panic!("Received 1.0.0 no longer decodes");
    };
    assert_eq!(received.reporter.phone.as_deref(), Some("13800001234"));
    assert_eq!(received.reporter.address, None);
    assert_eq!(received.sealed_reporter, None);

    for later in ["1.2.0", "2.0.0", "1.1.1"] {
        assert!(
            matches!(
                TicketEvent::decode("Received", later, &payload),
                Err(DecodeError::Unknown { .. })
            ),
            "Received {later} must be unknown to this build"
        );
    }
    for nonsense in ["1.0", "1.0.0.0", "v1.0.0", ""] {
        assert!(!TicketEvent::is_known("Received", nonsense), "{nonsense:?}");
    }
    assert!(TicketEvent::is_known("Acknowledged", "1.0.0"));
    assert!(!TicketEvent::is_known("Acknowledged", "1.1.0"));
    assert!(!TicketEvent::is_known("PersonalDataErased", "0.9.0"));
}
