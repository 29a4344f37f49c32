//! startwell: partner extracts in; checked, pseudonymised Delta Lake tables out.
//!
//! - [`cli`]: command-line parsing and dispatch (`demo`, `run`, `generate`, `validate`).
//! - [`config`]: the project's configuration files and the compile step that checks them.
//! - [`seeds`]: reference data (postcode → LSOA → ward, IMD, ethnicity groups, ASQ-3 cut-offs).
//! - [`storage`]: the storage root (local folder or object store).
//! - [`read`]: reading partner files (CSV streamed, xlsx), encodings, sniffing.
//! - [`check`]: header mapping, normalising and checking rows, keys, derived fields.
//! - [`pseudo`]: the pseudonymisation key and child keys.
//! - [`purge`]: retention of identifiable files (`[retention]`, `startwell purge`).
//! - [`keycheck`]: the lake's record of the key it was built with; key rotation.
//! - [`ingest`]: one landing file → quarantine + one atomic Delta commit.
//! - [`lake`]: Delta writes, the ingest ledger, reading tables back.
//! - [`reference`]: seed files → `ref_*` lake tables.
//! - [`runtime`]: what a run stands on: the clock, stop requests, the run lease, the run record.
//! - [`run`]: the run orchestrator (lease, retries, stop requests) and the summary.
//! - [`schedule`]: crontab expressions in a time zone, across clock changes.
//! - [`ops`]: the long-running service: scheduler loop, freshness, alerts, metrics, the HTTP endpoint.
//! - [`indicators`]: the indicator catalogue and SQL, the engine, publishing the scorecard.
//! - [`generate`]: synthetic partner extracts.
//! - [`disclosure`]: primary and secondary suppression, and the attacker that checks it.
//! - [`stats`]: Wilson and Newcombe intervals, benchmark comparison, trend test.
//! - [`error`]: error kinds and exit codes.

pub mod check;
pub mod cli;
pub mod config;
pub mod disclosure;
pub mod docs;
pub mod error;
pub mod generate;
pub mod heap;
pub mod indicators;
pub mod infer;
pub mod ingest;
pub mod keycheck;
pub mod lake;
pub mod ops;
pub mod plan;
pub mod progress;
pub mod pseudo;
pub mod purge;
pub mod read;
pub mod reference;
pub mod run;
pub mod runtime;
pub mod schedule;
pub mod seeds;
pub mod sql;
pub mod stats;
pub mod storage;
