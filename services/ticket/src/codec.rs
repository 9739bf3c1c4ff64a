//! How the event store checks and upgrades stored ticket events.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::Value;
use whistle_events::{DecodeError, TicketEvent};
use whistle_store::{CodecError, EventCodec, EventStore};

use crate::Ticket;

/// Runs the upcasters of ticket events, then checks that the result decodes into a
/// [`TicketEvent`] this build knows. Registered on the store for the `Ticket` stream type,
/// so a bad event is reported with its stream and position.
pub struct TicketCodec {
    upcasters: Vec<Box<dyn EventUpcaster>>,
}

impl std::fmt::Debug for TicketCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketCodec")
            .field("upcasters", &self.upcasters.len())
            .finish()
    }
}

impl TicketCodec {
    /// The codec with every upcaster whistle ships. There are none yet: the only change so
    /// far (`Received` 1.0.0 → 1.1.0) is a minor version, which needs none, since
    /// [`TicketEvent::decode`] reads an earlier minor of the same major as it is. When an
    /// event gets a new major version, its upcaster goes here (a
    /// `cqrs_es::persist::SemanticVersionEventUpcaster`), with a golden fixture of the old
    /// version in `events/tests/fixtures/`.
    pub fn current() -> Self {
        Self::with_upcasters(Vec::new())
    }

    /// A codec with the given upcasters (applied in order).
    pub fn with_upcasters(upcasters: Vec<Box<dyn EventUpcaster>>) -> Self {
        Self { upcasters }
    }

    /// `store` reading ticket streams through the current codec, as the executor does: for
    /// readers of the log that do not execute commands (a rebuild, an as-of board).
    pub fn register(store: EventStore) -> EventStore {
        store.with_codec(
            <Ticket as cqrs_es::Aggregate>::TYPE,
            std::sync::Arc::new(Self::current()),
        )
    }
}

impl EventCodec for TicketCodec {
    fn reads_as_stored(&self, event_type: &str, event_version: &str) -> bool {
        TicketEvent::is_known(event_type, event_version)
            && !self
                .upcasters
                .iter()
                .any(|upcaster| upcaster.can_upcast(event_type, event_version))
    }

    fn upgrade(
        &self,
        event_type: &str,
        event_version: &str,
        payload: &Value,
    ) -> Result<Option<(String, Value)>, CodecError> {
        let mut upgraded: Option<SerializedEvent> = None;
        for upcaster in &self.upcasters {
            let version = upgraded
                .as_ref()
                .map_or(event_version, |e| e.event_version.as_str());
            if upcaster.can_upcast(event_type, version) {
                let event = upgraded.take().unwrap_or_else(|| SerializedEvent {
                    aggregate_id: String::new(),
                    sequence: 0,
                    aggregate_type: <Ticket as cqrs_es::Aggregate>::TYPE.to_owned(),
                    event_type: event_type.to_owned(),
                    event_version: event_version.to_owned(),
                    payload: payload.clone(),
                    metadata: Value::Null,
                });
                upgraded = Some(upcaster.upcast(event));
            }
        }
        let (version, payload_now) = match &upgraded {
            Some(e) => (e.event_version.as_str(), &e.payload),
            None => (event_version, payload),
        };
        match TicketEvent::decode(event_type, version, payload_now) {
            Ok(_) => Ok(upgraded.map(|e| (e.event_version, e.payload))),
            Err(DecodeError::Unknown { .. }) => Err(CodecError::Unknown),
            Err(DecodeError::Malformed { reason, .. }) => Err(CodecError::Malformed(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::persist::SemanticVersionEventUpcaster;

    use super::*;

    #[test]
    fn events_read_as_stored_unless_unknown_or_an_upcaster_applies() {
        let current = TicketCodec::current();
        // The current version, and an earlier minor of the same major.
        assert!(current.reads_as_stored("Received", "1.1.0"));
        assert!(current.reads_as_stored("Received", "1.0.0"));
        // A later version, and a type this build does not have, go through `upgrade`, which
        // refuses them.
        assert!(!current.reads_as_stored("Received", "2.0.0"));
        assert!(!current.reads_as_stored("Teleported", "1.0.0"));
        let upcasting = TicketCodec::with_upcasters(vec![Box::new(
            SemanticVersionEventUpcaster::new("Acknowledged", "1.1.0", Box::new(|payload| payload)),
        )]);
        assert!(!upcasting.reads_as_stored("Acknowledged", "1.0.0"));
        assert!(upcasting.reads_as_stored("Received", "1.1.0"));
    }
}
