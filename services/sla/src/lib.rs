//! The SLA engine (see `docs/architecture.md`, "SLA").
//!
//! - [`calendar`]: business calendars: service hours, public holidays, adjusted working
//!   days (调休) and the duty roster, with business-time arithmetic.
//! - [`policy`]: the versioned SLA policy: limits, tiers, warnings, escalation.
//! - [`facts`]: the instants of a ticket's life, folded from its events.
//! - [`clocks`]: a ticket's clocks and pending deadlines, from its facts under a policy.
//! - [`projection`]: the consumer that keeps every ticket's facts and pending deadlines.
//! - [`rebuild`]: the SLA read models rebuilt from the whole log in one pass.
//! - [`timer`]: the deadline timer: warnings, breaches and escalation.
//! - [`metrics`]: tickets by stage, clocks breached now, acknowledge latency.
//! - [`stats`]: the supervisors' statistics and rankings, from facts and clocks.
//! - [`views`]: boards from the stores: live, as of a past instant, and what-if.

pub mod calendar;
pub mod clocks;
pub mod facts;
pub mod metrics;
pub mod policy;
pub mod projection;
pub mod rebuild;
pub mod stats;
pub mod timer;
mod versions;
pub mod views;
