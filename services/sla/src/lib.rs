//! The SLA engine (see `docs/architecture.md`, "SLA").
//!
//! - [`calendar`]: business calendars: service hours, public holidays, adjusted working
//!   days (调休) and the duty roster, with business-time arithmetic.

pub mod calendar;
