//! The approvals sweeper (`orch serve`'s background passes, `orch approvals sweep`): reminders
//! and escalations sent once each however many sweepers run, one of them killed mid-way;
//! none for a gate decided first; `approval_timeout` enforced without any other command.
//!
//! Time is shortened by the plan itself (ages of seconds), `--sweep-every 1s` and
//! `ORCH_STALE_AFTER_MS` (how soon a killed sweeper's lease lapses). Nothing is asserted about
//! timing but the issue's bound: each reminder arrives within 60 s of its due time.

use std::time::Duration;

use orch::store::approval_reminder::ReminderKind;
use orch::store::reminders::of_task;
use orch::store::{ApprovalState, TaskStatus};
use rstest::rstest;
use wiremock::MockServer;

use crate::support::http::{Served, bodies, ok_receiver};
use crate::support::wait::eventually;
use crate::support::{Backend, TestDb, by_task};

/// A gate reminded at 3 s and 10 s and escalated to `oncall` at 14 s; another reminded at 8 s,
/// which the test decides at once. The reminders are far enough apart that, even on a loaded
/// machine with one sweeper killed, some pass falls between them (a pass that finds both due
/// sends only the latest, by design).
const NUDGED: &str = r#"
name: nudged
notify:
  slack:
  oncall:
    url: ${ONCALL_URL}
    on: [failed]
tasks:
  - task: gate
    shell: "echo 'review https://github.com/user/repo/pull/7'"
    approval: {remind: [3s, 10s], escalate: {after: 14s, notify: [oncall]}}
  - task: decided
    shell: "echo done"
    approval: {when: always, remind: [8s]}
"#;

/// `orch serve` sweeping every second, sending to `server`.
fn sweeper(db: &TestDb, server: &MockServer) -> Served {
    let orch = db
        .orch()
        .env("SLACK_WEBHOOK", format!("{}/slack", server.uri()))
        .env("ONCALL_URL", format!("{}/oncall", server.uri()))
        .env("ORCH_STALE_AFTER_MS", "2000");
    Served::start_with(orch, &["--sweep-every", "1s"])
}

/// The Slack texts received, in arrival order.
async fn slack_texts(server: &MockServer) -> Vec<String> {
    bodies(server, "/slack")
        .await
        .iter()
        .map(|b| b["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sweepers_send_each_reminder_once_though_one_is_killed(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = ok_receiver().await;
    db.run(NUDGED)
        .env("SLACK_WEBHOOK", format!("{}/slack", server.uri()))
        .env("ONCALL_URL", format!("{}/oncall", server.uri()))
        .success();
    let rows = db.rows().await;
    let gate = by_task(&rows, "gate").clone();
    let decided = by_task(&rows, "decided").clone();
    db.orch()
        .args(["approve", &decided.id.to_string()])
        .success();

    let mut sweepers: Vec<Served> = (0..3).map(|_| sweeper(&db, &server)).collect();
    // Kill whichever holds the sweeper's lease the first time one is seen: mid-pass.
    let holder = eventually(
        400,
        Duration::from_millis(25),
        || async {
            db.leases()
                .await
                .into_iter()
                .find(|l| l.lock_key == "sweeper")
        },
        Option::is_some,
    )
    .await
    .expect("a sweeper took its lease");
    let pid: u32 = holder.owner.split(':').nth(1).unwrap().parse().unwrap();
    let killed = sweepers.iter().position(|s| s.pid() == pid).unwrap();
    drop(sweepers.remove(killed)); // SIGKILL

    // Up to 60 s past the last due time (the escalation's, 14 s after the gate opened).
    let opened = gate.finished_at.unwrap();
    let bound = (opened + chrono::Duration::seconds(14 + 60) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let reminder = |age: &str| {
        format!(
            "Reminder: task gate has awaited approval for {age}: \
             https://github.com/user/repo/pull/7"
        )
    };
    let (r3, r6) = (reminder("3s"), reminder("10s"));
    let texts = eventually(
        (bound.as_millis() / 100) as u32,
        Duration::from_millis(100),
        || slack_texts(&server),
        |t| t.contains(&r3) && t.contains(&r6),
    )
    .await;
    let escalations = eventually(
        (bound.as_millis() / 100) as u32,
        Duration::from_millis(100),
        || bodies(&server, "/oncall"),
        |b| !b.is_empty(),
    )
    .await;
    // A few more passes of the two left, which must send nothing again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let texts_after = slack_texts(&server).await;
    assert_eq!(texts_after.len(), texts.len(), "{texts_after:#?}");
    assert_eq!(texts.iter().filter(|t| **t == r3).count(), 1, "{texts:#?}");
    assert_eq!(texts.iter().filter(|t| **t == r6).count(), 1, "{texts:#?}");
    // The escalation went to `oncall` only, once, and not to Slack.
    let escalations_after = bodies(&server, "/oncall").await;
    assert_eq!(escalations_after.len(), 1, "{escalations_after:#?}");
    assert_eq!(escalations[0]["event"], "awaiting_approval");
    assert_eq!(escalations[0]["task"]["id"], gate.id);
    assert_eq!(
        escalations[0]["reminder"],
        serde_json::json!({"kind": "escalate", "after": "14s"})
    );
    assert!(
        !texts.iter().any(|t| t.starts_with("Escalation")),
        "{texts:#?}"
    );
    // The decided gate got nothing: no reminder row, no text.
    assert!(
        !texts.iter().any(|t| t.contains("task decided")),
        "{texts:#?}"
    );
    let store = db.store().await;
    assert!(of_task(&store.db, decided.id).await.unwrap().is_empty());
    // One row per reminder, for this opening of the gate.
    let sent = of_task(&store.db, gate.id).await.unwrap();
    let kinds: Vec<(ReminderKind, i64)> = sent.iter().map(|r| (r.kind, r.after_ms)).collect();
    assert_eq!(
        kinds,
        [
            (ReminderKind::Remind, 3000),
            (ReminderKind::Remind, 10000),
            (ReminderKind::Escalate, 14000)
        ]
    );
    assert!(sent.iter().all(|r| r.opened_at == opened));
    // The gate still waits: reminders decide nothing.
    let now = db.rows().await;
    assert_eq!(by_task(&now, "gate").status, TaskStatus::AwaitingApproval);
    for s in sweepers {
        s.stop();
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_rejects_a_gate_at_its_timeout_without_any_command(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = ok_receiver().await;
    let plan = r#"
name: timed
notify:
  slack:
    on: [awaiting_approval, rejected]
tasks:
  - task: gate
    shell: "echo waiting"
    approval_timeout: 2s
    approval: always
"#;
    db.run(plan)
        .env("SLACK_WEBHOOK", format!("{}/slack", server.uri()))
        .success();
    let served = sweeper(&db, &server);
    let row = eventually(
        620,
        Duration::from_millis(100),
        || async { db.rows().await.remove(0) },
        |r| r.status == TaskStatus::Failed,
    )
    .await;
    assert_eq!(row.status, TaskStatus::Failed);
    assert_eq!(row.approval_state, Some(ApprovalState::Rejected));
    assert_eq!(row.approver.as_deref(), Some("orch"));
    assert_eq!(row.approval_note.as_deref(), Some("approval timed out"));
    // The same notification every command's recovery sends.
    let texts = eventually(
        100,
        Duration::from_millis(100),
        || slack_texts(&server),
        |t| t.len() == 2,
    )
    .await;
    assert_eq!(
        texts[1],
        format!(
            "Task gate rejected by orch (run {}, id {}): approval timed out",
            row.run_id, row.id
        )
    );
    let log = served.stop_and_log();
    assert!(
        log.contains("got no decision within its `approval_timeout`"),
        "{log}"
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sweep_pass_says_what_it_did(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = ok_receiver().await;
    let plan = r#"
name: once
tasks:
  - task: gate
    shell: "echo waiting"
    approval: {remind: [1s]}
"#;
    let slack = format!("{}/slack", server.uri());
    db.run(plan).env("SLACK_WEBHOOK", &slack).success();
    let gate = db.rows().await.remove(0);
    let sweep = |json: bool| {
        let mut cmd = db
            .orch()
            .env("SLACK_WEBHOOK", &slack)
            .args(["approvals", "sweep"]);
        if json {
            cmd = cmd.arg("--json");
        }
        cmd
    };
    // Due a second after the gate opened: poll until it is (a pass before says nothing due).
    let out = eventually(
        100,
        Duration::from_millis(100),
        || async { sweep(true).success().stdout_json() },
        |v| !v["sent"].as_array().unwrap().is_empty(),
    )
    .await;
    assert_eq!(out["busy"], serde_json::Value::Null);
    assert_eq!(out["sent"][0]["task_id"], gate.id);
    assert_eq!(out["sent"][0]["kind"], "remind");
    assert_eq!(out["sent"][0]["after"], "1s");
    assert_eq!(out["sent"][0]["targets"], serde_json::json!(["slack"]));
    // Sent before the command exited, once; the next pass has nothing to do.
    let texts = slack_texts(&server).await;
    assert_eq!(
        texts[1],
        format!(
            "Reminder: task gate has awaited approval for 1s (run {}, id {})",
            gate.run_id, gate.id
        )
    );
    sweep(false).success().stdout_is("nothing due\n");
    assert_eq!(slack_texts(&server).await.len(), 2);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_is_claimed_once_and_a_pass_under_way_is_left_alone(#[case] backend: Backend) {
    use orch::store::lease::{Lease, LeaseKey, acquire};
    use orch::store::reminders::{NewReminder, claim};
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run("name: p\ntasks:\n  - task: gate\n    run: [\"true\"]\n    approval: {remind: [1s]}\n")
        .success();
    let gate = db.rows().await.remove(0);
    let store = db.store().await;
    let new = NewReminder {
        task_id: gate.id,
        run_id: gate.run_id.clone(),
        opened_at: gate.finished_at.unwrap(),
        kind: ReminderKind::Remind,
        after_ms: 1000,
        due_at: gate.finished_at.unwrap() + chrono::Duration::seconds(1),
    };
    // The database decides: the second insert of the same reminder changes nothing.
    assert!(claim(&store.db, &new).await.unwrap());
    assert!(!claim(&store.db, &new).await.unwrap());
    // Another opening of the same gate is another reminder.
    let reopened = NewReminder {
        opened_at: new.opened_at + chrono::Duration::minutes(5),
        ..new.clone()
    };
    assert!(claim(&store.db, &reopened).await.unwrap());

    // While another process is in a pass, a sweep does nothing and says so.
    let _held = acquire(
        &store.db,
        &Lease {
            key: LeaseKey::Sweeper,
            plan_name: "",
            run_id: None,
            owner: "elsewhere:1:abc",
            stale_after: Duration::from_secs(60),
        },
    )
    .await
    .unwrap();
    db.orch()
        .args(["approvals", "sweep"])
        .success()
        .stdout_is("another sweeper is in a pass (elsewhere:1:abc): nothing done\n");
    let out = db
        .orch()
        .args(["approvals", "sweep", "--json"])
        .success()
        .stdout_json();
    assert_eq!(out["busy"]["owner"], "elsewhere:1:abc");
}

#[test]
fn a_sweep_without_its_database_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::http::free_port();
    crate::support::Cmd::orch_in(dir.path())
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{port}/none"),
        )
        .args(["approvals", "sweep"])
        .code(3);
}
