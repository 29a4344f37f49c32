//! The building blocks a run stands on, below [`crate::run`] and [`crate::purge`]
//! (which use them) and [`crate::ops`] (the service that drives and watches runs):
//!
//! - [`clock`]: the wall clock, injectable for tests.
//! - [`shutdown`]: SIGTERM/SIGINT → a stop request honoured between files.
//! - [`lease`]: the run lease in the store (never two runs at once).
//! - [`record`]: the run record, `state/runs/<run_id>.json`.

pub mod clock;
pub mod lease;
pub mod record;
pub mod shutdown;
