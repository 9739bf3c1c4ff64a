//! The committed JSON Schemas in `schemas/events/` must match the code.
//!
//! `WHISTLE_WRITE_SCHEMAS=1 cargo test -p whistle-events --test schemas` rewrites them.

mod common;

use whistle_events::TicketEvent;
use whistle_events::schema::event_schemas;

#[test]
fn committed_event_schemas_match_the_code() {
    common::assert_schemas_match("schemas/events", &event_schemas(), "schemas");
}

#[test]
fn every_event_kind_has_a_schema() {
    let files: Vec<String> = event_schemas().into_iter().map(|(f, _)| f).collect();
    for kind in TicketEvent::KINDS {
        let want = format!("{}.v{}.schema.json", kind.name, kind.version);
        assert!(files.contains(&want), "no schema generated for {want}");
    }
}
