//! The routes, by who uses them.

pub mod live;
pub mod ops;
pub mod session;
pub mod supervise;
pub mod tickets;
pub mod work;
