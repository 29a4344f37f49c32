//! Integration tests: one binary (each test binary links DataFusion).

mod common;
mod identifiers;
mod ingest;
mod kill;
mod memory_store;
mod scorecard;
