//! The Ticket aggregate and the way commands reach it.
//!
//! - [`Ticket`]: the whole life of one complaint (intake, call-up, whistle, each
//!   department's summons and report-in, results, feedback, reopen, merge, extensions,
//!   supervision, breach markers). Every invariant lives here; nothing else writes ticket
//!   state.
//! - [`TicketCommand`] in, [`TicketEvent`](whistle_events::TicketEvent) out, or a
//!   [`TicketError`] that names the problem.
//! - [`Tickets`]: executes commands on the event store (cqrs-es 0.5, events only, no
//!   snapshots), retrying on concurrency conflicts a bounded number of times. It seals the
//!   reporter's contact with the ticket's own key before it is recorded, reads it back
//!   ([`Tickets::reporter`]) and destroys the key on erasure ([`Vault`], module `privacy`).
//! - [`TimelineEntry`]: a ticket's events as people read them.
//!
//! Consumes and produces: the `Ticket-<uuid>` streams of the event store, and the store's
//! `ticket_keys` table (each ticket's data key, wrapped under the master key).

mod aggregate;
mod codec;
mod command;
mod error;
mod executor;
mod privacy;
mod timeline;

pub use aggregate::{Event, Stage, Summons, SummonsState, Ticket, TicketServices};
pub use codec::TicketCodec;
pub use command::TicketCommand;
pub use error::TicketError;
pub use executor::{CommandError, DEFAULT_ATTEMPTS, DEFAULT_CACHED_TICKETS, Tickets};
pub use privacy::{Reporter, Vault, VaultError};
pub use timeline::TimelineEntry;
