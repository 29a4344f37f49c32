//! Integration tests: one binary (each test binary links DataFusion).

mod common;
mod deploy;
mod emulators;
mod hostile;
mod identifiers;
mod ingest;
mod key;
mod kill;
mod layering;
mod memory_store;
mod ops;
mod outputs;
mod retention;
mod scorecard;
mod tools;
