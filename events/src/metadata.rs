//! What is recorded about an event besides its payload: who caused it, which request it
//! belongs to, and the trace context that lets one complaint be followed end to end.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{ActorId, CorrelationId, EventId};

/// Metadata keys, as stored. The store keeps metadata as a flat string map (that is what
/// cqrs-es hands a repository); these are the keys whistle gives meaning to.
pub mod keys {
    /// The account or system that issued the command.
    pub const ACTOR: &str = "actor";
    /// The request chain this event belongs to.
    pub const CORRELATION_ID: &str = "correlation_id";
    /// The event that caused the command that recorded this event.
    pub const CAUSATION_ID: &str = "causation_id";
    /// W3C trace context.
    pub const TRACEPARENT: &str = "traceparent";
    /// W3C trace state.
    pub const TRACESTATE: &str = "tracestate";
}

/// Metadata of one command's events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct EventMetadata {
    /// Who issued the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<ActorId>,
    /// The request chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<CorrelationId>,
    /// The event that caused this one, when a service reacted to an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<EventId>,
    /// W3C `traceparent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// W3C `tracestate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

impl EventMetadata {
    /// Metadata naming only the actor, with a fresh correlation id.
    pub fn by(actor: ActorId) -> Self {
        Self {
            actor: Some(actor),
            correlation_id: Some(CorrelationId::new()),
            ..Self::default()
        }
    }

    /// The flat map cqrs-es carries to the repository.
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::new();
        if let Some(actor) = &self.actor {
            map.insert(keys::ACTOR.to_owned(), actor.to_string());
        }
        if let Some(id) = &self.correlation_id {
            map.insert(keys::CORRELATION_ID.to_owned(), id.to_string());
        }
        if let Some(id) = &self.causation_id {
            map.insert(keys::CAUSATION_ID.to_owned(), id.to_string());
        }
        if let Some(tp) = &self.traceparent {
            map.insert(keys::TRACEPARENT.to_owned(), tp.clone());
        }
        if let Some(ts) = &self.tracestate {
            map.insert(keys::TRACESTATE.to_owned(), ts.clone());
        }
        map
    }

    /// Reads the known keys back from a stored map. A value that does not parse is left
    /// out rather than failing the read: metadata is informative, and one bad header from
    /// an integration must not make a ticket unreadable.
    pub fn from_map(map: &HashMap<String, String>) -> Self {
        Self {
            actor: map
                .get(keys::ACTOR)
                .and_then(|v| ActorId::parse(v.as_str()).ok()),
            correlation_id: map
                .get(keys::CORRELATION_ID)
                .and_then(|v| CorrelationId::parse(v).ok()),
            causation_id: map
                .get(keys::CAUSATION_ID)
                .and_then(|v| EventId::parse(v).ok()),
            traceparent: map.get(keys::TRACEPARENT).cloned(),
            tracestate: map.get(keys::TRACESTATE).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_the_flat_map() {
        let meta = EventMetadata {
            actor: Some(ActorId::parse("hongqili-li").expect("valid")),
            correlation_id: Some(CorrelationId::new()),
            causation_id: Some(EventId::new()),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            tracestate: None,
        };
        assert_eq!(EventMetadata::from_map(&meta.to_map()), meta);
    }

    #[test]
    fn unparseable_metadata_values_are_dropped_not_fatal() {
        let mut map = HashMap::new();
        map.insert(keys::ACTOR.to_owned(), "Not An Id".to_owned());
        map.insert(keys::TRACEPARENT.to_owned(), "x".to_owned());
        let meta = EventMetadata::from_map(&map);
        assert_eq!(meta.actor, None);
        assert_eq!(meta.traceparent.as_deref(), Some("x"));
    }
}
