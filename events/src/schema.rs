//! JSON Schema of every event, generated from the types themselves.
//!
//! The committed copies live in `schemas/events/`; a test in this crate fails when they
//! drift from the code (run it with `WHISTLE_WRITE_SCHEMAS=1` to rewrite them).

use schemars::{JsonSchema, schema_for};
use serde_json::Value;

use crate::metadata::EventMetadata;
use crate::ticket::{self, TicketEvent};

fn schema_of<T: JsonSchema>() -> Value {
    serde_json::to_value(schema_for!(T)).unwrap_or(Value::Null)
}

/// Every generated schema as `(file name, schema)`, in a stable order.
///
/// Per event type, `<Type>.v<version>.schema.json` describes the body; the stored payload
/// is `{"<Type>": body}`, which `TicketEvent.schema.json` describes as a whole.
pub fn event_schemas() -> Vec<(String, Value)> {
    let per_event: Vec<(&str, Value)> = vec![
        ("Received", schema_of::<ticket::Received>()),
        ("Acknowledged", schema_of::<ticket::Acknowledged>()),
        ("HandledLocally", schema_of::<ticket::HandledLocally>()),
        ("CalledUp", schema_of::<ticket::CalledUp>()),
        ("WhistleBlown", schema_of::<ticket::WhistleBlown>()),
        (
            "DepartmentReportedIn",
            schema_of::<ticket::DepartmentReportedIn>(),
        ),
        (
            "DepartmentDeclined",
            schema_of::<ticket::DepartmentDeclined>(),
        ),
        ("ProgressNoted", schema_of::<ticket::ProgressNoted>()),
        (
            "DepartmentFinished",
            schema_of::<ticket::DepartmentFinished>(),
        ),
        (
            "ExtensionRequested",
            schema_of::<ticket::ExtensionRequested>(),
        ),
        (
            "ExtensionApproved",
            schema_of::<ticket::ExtensionApproved>(),
        ),
        ("ExtensionDenied", schema_of::<ticket::ExtensionDenied>()),
        ("Resolved", schema_of::<ticket::Resolved>()),
        ("FeedbackRecorded", schema_of::<ticket::FeedbackRecorded>()),
        ("Reopened", schema_of::<ticket::Reopened>()),
        ("Closed", schema_of::<ticket::Closed>()),
        ("MergedInto", schema_of::<ticket::MergedInto>()),
        ("MergedFrom", schema_of::<ticket::MergedFrom>()),
        (
            "SupervisionOpened",
            schema_of::<ticket::SupervisionOpened>(),
        ),
        ("SlaBreached", schema_of::<ticket::SlaBreached>()),
        ("SourceUpdated", schema_of::<ticket::SourceUpdated>()),
        ("SlaWarned", schema_of::<ticket::SlaWarned>()),
        ("SlaPaused", schema_of::<ticket::SlaPaused>()),
        ("SlaResumed", schema_of::<ticket::SlaResumed>()),
        (
            "PersonalDataErased",
            schema_of::<ticket::PersonalDataErased>(),
        ),
    ];
    let mut out: Vec<(String, Value)> = per_event
        .into_iter()
        .map(|(name, schema)| {
            // Each kind at its own current version; the schema of an earlier version is in
            // the repository's history, and its payloads still fit the current one (a minor
            // version only adds fields with defaults).
            let version = TicketEvent::KINDS
                .iter()
                .find(|k| k.name == name)
                .map_or("unknown", |k| k.version);
            (format!("{name}.v{version}.schema.json"), schema)
        })
        .collect();
    out.push((
        "TicketEvent.schema.json".to_owned(),
        schema_of::<TicketEvent>(),
    ));
    out.push((
        "EventMetadata.schema.json".to_owned(),
        schema_of::<EventMetadata>(),
    ));
    out.push((
        "PublishedEvent.schema.json".to_owned(),
        schema_of::<crate::subjects::PublishedEvent>(),
    ));
    out
}
