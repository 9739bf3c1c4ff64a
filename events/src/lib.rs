//! whistle's event and message types.
//!
//! This crate is the contract between every part of whistle and every system that reads
//! its log: typed ids ([`ids`]), the vocabulary of a complaint ([`values`]), the events of a
//! ticket's life ([`ticket`]), event metadata ([`metadata`]), how events travel on NATS
//! ([`subjects`]) and their JSON Schemas ([`schema`], committed under `schemas/events/`).
//!
//! It has no runtime dependencies (no tokio, no database, no HTTP): anything that needs to
//! read whistle's events can depend on it.

pub mod ids;
pub mod incident;
pub mod metadata;
pub mod schema;
pub mod subjects;
pub mod ticket;
pub mod values;

pub use ids::{
    ActorId, CommunityId, CorrelationId, DepartmentId, DistrictId, EventId, ExternalId, GridId,
    IdError, LiaisonId, SourceSystem, StreetId, TicketId,
};
pub use metadata::EventMetadata;
pub use ticket::{DecodeError, EventKind, TICKET_EVENT_VERSION, TicketEvent};
pub use values::{
    Category, Channel, ExternalSource, Location, ReporterContact, Score, ScoreError, SealedContact,
    Text, TextError, Urgency,
};
