//! How ticket events travel on NATS: the subjects, the headers and the message body.
//!
//! Subjects: `<prefix>.<district>.<street>.<EventType>` (prefix `tickets` in production),
//! so a consumer filters by district (`tickets.haigang.>`), by street
//! (`tickets.*.wenhualu.>`) or by kind (`tickets.*.*.WhistleBlown`). Every id in a subject is
//! a code without `.`, so it is exactly one token.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::EventId;

/// The subject prefix of the `TICKETS` stream in production.
pub const TICKETS_PREFIX: &str = "tickets";

/// The subject token used when a ticket's district or street is not known (an event of a
/// stream that is not a ticket).
pub const UNKNOWN_TOKEN: &str = "_";

/// Header names. Only what JetStream, the consumers and other subscribers need before they
/// read the body (deduplication, ordering, the origin, filtering by kind, trace context):
/// every header costs the client and the server work on every message (see
/// `docs/benchmarks.md`, relay). The rest of the event (its stream, its payload's version)
/// is in the body.
pub mod headers {
    /// JetStream's deduplication key: the event id.
    pub const MSG_ID: &str = "Nats-Msg-Id";
    /// The event type, e.g. `WhistleBlown`.
    pub const EVENT_TYPE: &str = "Event-Type";
    /// The event's position in whistle's global log.
    pub const POSITION: &str = "Whistle-Position";
    /// The identity of the event store the event comes from.
    pub const STORE: &str = "Whistle-Store";
    /// W3C trace context, carried from the event's metadata.
    pub const TRACEPARENT: &str = "traceparent";
}

/// The subject a ticket event is published on.
pub fn ticket_event_subject(
    prefix: &str,
    district: &str,
    street: &str,
    event_type: &str,
) -> String {
    format!("{prefix}.{district}.{street}.{event_type}")
}

/// A recorded event as published on NATS: the event and where it stands in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PublishedEvent {
    /// Position in whistle's global log; strictly increasing in publication order.
    pub position: u64,
    /// Unique across the log (also the `Nats-Msg-Id` header).
    pub event_id: EventId,
    /// The stream's type, `Ticket`.
    pub stream_type: String,
    /// The stream's id (for tickets, the ticket id).
    pub stream_id: String,
    /// Place in the stream, 1 first.
    pub stream_version: u64,
    /// The event type.
    pub event_type: String,
    /// The payload's version.
    pub event_version: String,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Actor, correlation and causation ids, trace context.
    pub metadata: HashMap<String, String>,
    /// The event itself, as stored: `{"<EventType>": {...}}`.
    pub payload: serde_json::Value,
}
