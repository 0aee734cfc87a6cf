//! The one integration-test binary: drives the real `orch` binary and the library against
//! real SQLite files and real PostgreSQL databases (one per test, created and dropped).
//!
//! # How to add a test
//!
//! Put it in the file of the behaviour it proves (`run.rs`, `approvals.rs`, `notify/…`), named
//! after that behaviour. A test that touches the database runs on both backends:
//!
//! ```ignore
//! #[rstest]
//! #[case::sqlite(Backend::Sqlite)]
//! #[case::postgres(Backend::Postgres)]
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn a_rejected_gate_skips_its_dependents(#[case] backend: Backend) {
//!     let Some(db) = TestDb::new(backend).await else {
//!         return; // PostgreSQL is not configured: the test says it skipped
//!     };
//!     db.run(PLAN).success();
//!     let gate = by_task(&db.rows().await, "gate").id.to_string();
//!     db.orch().args(["reject", &gate]).success().stdout_has("rejected by tester");
//!     db.orch().args(["reject", &gate]).code(5).stderr_has("already rejected");
//! }
//! ```
//!
//! - `TestDb` (`support/db.rs`): a fresh database and scratch folder; `db.plan(yaml)` writes
//!   `plan.yaml`, `db.rows()` and `db.deliveries()` read back, `db.store()` opens it through
//!   the library. A test that needs no database or one backend only uses `#[test]`, or
//!   `#[tokio::test]` with `TestDb::sqlite()`.
//! - `Cmd` (`support/process.rs`): `db.orch()` is orch run in the scratch folder against the
//!   database, with nothing of your machine leaking in (`Cmd::orch_in(dir)` without a
//!   database, `Cmd::new("sh")` any program; `db.run(yaml)` is `orch run plan.yaml`). Chain
//!   `.arg`/`.args`/`.env`, then `.success()`, `.code(n)` or `.output()` (no check) to run
//!   it, then `.stdout_has`, `.stderr_has`, `.stdout_lacks`, `.stdout_is`, `.stdout_json()`….
//!   A failed check prints the command, the exit code expected and got, and both streams.
//!   `.spawn()` starts it in the background (`signal`, `kill`, `wait()` then `.exited(n)`).
//! - Webhook receivers, the API in this process and `orch serve`: `support/http.rs`. Waiting
//!   for another process: `support/wait.rs` (`wait_for_status`, `eventually`).
//!
//! A browser test (in `browser/`) drives Debian's headless Chromium against `orch serve`:
//!
//! ```ignore
//! let Some(browser) = Browser::start(Options::phone()).await else {
//!     return; // no /usr/bin/chromium or /usr/bin/chromedriver: the test says it skipped
//! };
//! let gated = Gated::start(&db).await; // a run whose gate waits, served by `orch serve`
//! browser.open(&gated.server.url("/")).await;
//! browser.click_and_wait(&format!("a[href='/tasks/{}']", gated.gate)).await;
//! browser.fill("#note", "looks good").await; // then click_and_wait on the button
//! assert!(browser.text("#log").await.contains("review https://"));
//! browser.close().await;
//! ```
//!
//! - `Browser` (`support/browser.rs`): `Options::desktop()` / `phone()`, with
//!   `.without_javascript()`; `open`, `find`/`count`/`text` by CSS selector, `fill`,
//!   `click_and_wait` (follows a link or submits a form, with or without JavaScript),
//!   `wait_for_text` (bounded polling), `eval`, `assert_no_dialog`, `scroll_width`,
//!   `screenshot`; `client()` for anything else fantoccini does. Dropped, it kills chromedriver
//!   and Chromium. `node_module(path)` reads what `.ci/run` installed in `browser/node_modules`.
//! - Without the browser the test prints that it skipped; `ORCH_TEST_REQUIRE_BROWSER=1` (as in
//!   CI) makes that a failure. Assert on what the page shows, never on how long it took.
//!
//! PostgreSQL tests need `ORCH_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`); without it they print that they skipped, and
//! with `ORCH_TEST_REQUIRE_POSTGRES=1` a skip is a failure, as in CI.
//!
//! Run one test, or every test whose name contains a word, with its output:
//! `cargo test --test integration a_rejected_gate -- --nocapture`; one backend only:
//! `cargo test --test integration sqlite` (names end in `case_1_sqlite` / `case_2_postgres`).

// Test code: a panic is a failed test with a line number.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tests read their own knobs (`ORCH_TEST_POSTGRES_URL`, `ORCH_BLESS`) from the environment;
// the ban in clippy.toml is for orch itself, whose settings are read once in `config.rs`.
#![allow(clippy::disallowed_methods)]

mod support;

mod api;
mod approvals;
mod batch;
mod browser;
mod cli_basics;
mod control;
mod deploy;
mod docs_examples;
mod docs_reference;
mod flow;
mod github;
mod hosts;
mod identity;
mod leases;
mod links;
mod listing;
mod login;
mod metrics;
mod migrations;
mod notify;
mod outage;
mod page_decisions;
mod plans;
mod policy;
mod prune;
mod redaction;
mod resume;
mod run;
mod schema;
mod summaries;
mod sweeper;
mod transitions;
mod web;
mod workers;
