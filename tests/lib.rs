//! The one integration-test binary: drives the real `orch` binary and the library against
//! real SQLite files and real PostgreSQL databases (one per test, created and dropped).

// Test code: a panic is a failed test with a line number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod api;
mod approvals;
mod batch;
mod cli_basics;
mod deploy;
mod docs_reference;
mod flow;
mod github;
mod leases;
mod listing;
mod migrations;
mod notify;
mod outage;
mod plans;
mod prune;
mod redaction;
mod resume;
mod run;
mod schema;
