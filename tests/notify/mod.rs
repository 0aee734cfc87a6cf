//! Notifications against real HTTP receivers on loopback (wiremock), through the real binary
//! on both databases, one file per concern:
//! - `events`: the exact seed payloads, opted-in events, decisions;
//! - `retries`: what is retried, for how long, and when a delivery is given up;
//! - `outbox`: nothing lost when the receiver is down or stdout closes;
//! - `secrets`: signatures checked with the documented recipe, and redaction;
//! - `commands`: `orch notify test` and the validation of `notify` blocks.
//!
//! Receivers and what they got: `crate::support::http`.

mod commands;
mod events;
mod outbox;
mod retries;
mod secrets;

use sea_orm::ConnectionTrait;
use wiremock::MockServer;

use crate::support::{Cmd, TestDb};

/// Two gates: one with a result URI (`seo.validate`), one without (`dx.integrate`).
const GATES: &str = r#"
name: gates
tasks:
  - task: seo.validate
    shell: "echo 'opened https://github.com/user/repo/pull/123'"
    approval: on_output_uri
  - task: dx.integrate
    shell: "echo integrated"
    approval: always
"#;

/// `orch ARGS` in the test's scratch folder, with quick retries and timeouts.
fn orch(db: &TestDb, args: &[&str]) -> Cmd {
    db.orch()
        .args(args)
        .env("ORCH_NOTIFY_BACKOFF_MS", "50")
        .env("ORCH_NOTIFY_TIMEOUT_MS", "3000")
}

/// `orch run` of [`GATES`] with `extra` arguments, notifying Slack at `slack`.
fn run_gates(db: &TestDb, extra: &[&str], slack: &str) -> Cmd {
    orch(db, &["run", db.plan(GATES)])
        .args(extra)
        .env("SLACK_WEBHOOK", slack)
}

/// The Slack address of a receiver.
fn slack_of(server: &MockServer) -> String {
    format!("{}/slack", server.uri())
}

/// Runs one SQL statement against the test's database (to age or break a row).
async fn execute(db: &TestDb, sql: &str) {
    db.store().await.db.execute_unprepared(sql).await.unwrap();
}
