//! The hook through which a stream type's own code checks and upgrades stored events.
//!
//! The store is generic: it stores JSON. But a reader must learn *where* a bad event is
//! (stream and position), and only the store knows that. So each stream type registers a
//! codec; the store runs every event it reads through it and turns a refusal into an error
//! naming the stream, position, type and version.

use serde_json::Value;

/// Why a codec refused a stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// No code for this type at this version, and no upcaster to a known one.
    Unknown,
    /// The payload does not deserialize into its type.
    Malformed(String),
}

/// Checks and upgrades the stored events of one stream type.
pub trait EventCodec: Send + Sync + std::fmt::Debug {
    /// Upcasts the event to the current version if needed and checks that it decodes.
    /// Returns the new version and payload when it upcast, `None` when the event is current.
    fn upgrade(
        &self,
        event_type: &str,
        event_version: &str,
        payload: &Value,
    ) -> Result<Option<(String, Value)>, CodecError>;

    /// Whether events of this type at this version read as stored: known to this build,
    /// no upcaster applies. Readers that hand payloads on as text, or decode them
    /// themselves, then skip the parse [`EventCodec::upgrade`] makes to check them (see
    /// [`crate::EventStore::read_all_raw`]). The default, `false`, checks every event.
    fn reads_as_stored(&self, _event_type: &str, _event_version: &str) -> bool {
        false
    }
}
