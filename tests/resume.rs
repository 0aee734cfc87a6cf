//! `orch resume` and `orch approve --resume`: gates hold their dependents back, a decision
//! lets them go on from a later, stateless command, from the plan text saved with the run,
//! and nothing runs twice — on both databases.

use orch::store::{ApprovalState, TaskStatus};

use rstest::rstest;

use crate::support::{Backend, TestDb, by_task, seed_task};

/// build → gate → deploy, and cleanup after the gate whatever happens. Each task appends its
/// name to `ran.txt`, so running twice would show.
const GATED: &str = r#"
name: gated
tasks:
  - task: build
    shell: "echo build >> ran.txt"
  - task: gate
    shell: "echo gate >> ran.txt; echo 'review https://github.com/acme/site/pull/9'"
    approval: on_output_uri
    depends_on: [build]
  - task: deploy
    shell: "echo deploy >> ran.txt; echo deployed"
    depends_on: [gate]
  - task: cleanup
    shell: "echo cleanup >> ran.txt"
    depends_on: [gate]
    when: always
"#;

fn ran(db: &TestDb) -> Vec<String> {
    String::from_utf8(db.read("ran.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs the gated plan; returns the run id and the gate's id.
async fn held_at_the_gate(db: &TestDb) -> (String, i64) {
    db.run(GATED).success();
    let rows = db.rows().await;
    let gate = by_task(&rows, "gate");
    assert_eq!(gate.status, TaskStatus::AwaitingApproval);
    assert_eq!(by_task(&rows, "deploy").status, TaskStatus::Queued);
    assert_eq!(by_task(&rows, "cleanup").status, TaskStatus::Queued);
    (gate.run_id.clone(), gate.id)
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_gate_lets_its_dependents_run_once(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (run_id, gate) = held_at_the_gate(&db).await;
    // The plan file changes after the run: resume must use the text saved with the run.
    db.plan(&GATED.replace("echo deployed", "echo CHANGED"));
    db.orch().args(["approve", &gate.to_string()]).success();
    db.orch()
        .args(["resume", &run_id])
        .success()
        .stdout_has("4 task(s): 4 succeeded");
    let rows = db.rows().await;
    let deploy = by_task(&rows, "deploy");
    assert_eq!(deploy.status, TaskStatus::Succeeded);
    assert_eq!(deploy.log_excerpt.as_deref(), Some("deployed"));
    assert_eq!(by_task(&rows, "cleanup").status, TaskStatus::Succeeded);
    assert_eq!(ran(&db), ["build", "gate", "deploy", "cleanup"]);

    // Again: nothing is left to run, and nothing runs twice.
    db.orch()
        .args(["resume", &run_id])
        .success()
        .stderr_has("nothing to do");
    assert_eq!(ran(&db), ["build", "gate", "deploy", "cleanup"]);
    assert_eq!(db.rows().await.len(), 4);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_gate_skips_its_dependents_with_the_reason(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (run_id, gate) = held_at_the_gate(&db).await;
    db.orch()
        .args([
            "reject",
            &gate.to_string(),
            "--by",
            "bob",
            "--note",
            "not now",
        ])
        .success();
    let out = db.orch().args(["resume", &run_id]).output();
    // The run now holds a failed task (the rejected gate): exit 1.
    assert_eq!(out.code(), Some(1), "{}", out.stderr());
    let rows = db.rows().await;
    let deploy = by_task(&rows, "deploy");
    assert_eq!(deploy.status, TaskStatus::Skipped);
    assert_eq!(
        deploy.log_excerpt.as_deref(),
        Some("skipped: dependency gate was rejected by bob")
    );
    // `when: always` runs whatever the gate's outcome.
    assert_eq!(by_task(&rows, "cleanup").status, TaskStatus::Succeeded);
    assert_eq!(ran(&db), ["build", "gate", "cleanup"]);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_resume_decides_and_goes_on(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (_, gate) = held_at_the_gate(&db).await;
    let out = db
        .orch()
        .args([
            "approve",
            &gate.to_string(),
            "--resume",
            "--note",
            "ship it",
        ])
        .success();
    let text = out.stdout();
    assert!(text.contains("approved by tester"), "{text}");
    assert!(text.contains("4 task(s): 4 succeeded"), "{text}");
    let rows = db.rows().await;
    let g = by_task(&rows, "gate");
    assert_eq!(g.approval_state, Some(ApprovalState::Approved));
    assert_eq!(g.approval_note.as_deref(), Some("ship it"));
    assert_eq!(ran(&db), ["build", "gate", "deploy", "cleanup"]);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_what_it_cannot_resume(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch()
        .args(["resume", "no-such-run"])
        .code(4)
        .stderr_has("no run `no-such-run`");

    // Rows written by another tool (the API) have no saved plan.
    let store = db.store().await;
    seed_task(&store, "a", "api-run", TaskStatus::Queued, None).await;
    db.orch()
        .args(["resume", "api-run"])
        .code(2)
        .stderr_has("has no saved plan");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecided_gate_times_out_and_a_late_decision_is_refused(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let plan = GATED.replace(
        "    approval: on_output_uri\n",
        "    approval: on_output_uri\n    approval_timeout: 1s\n",
    );
    db.run(&plan).success();
    let rows = db.rows().await;
    let gate = by_task(&rows, "gate");
    let deadline = gate.approval_deadline.expect("a deadline while waiting");
    assert!(deadline > gate.finished_at.unwrap());
    // Past the deadline (no timing assertion: only "later than one second").
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let out = db
        .orch()
        .args(["approve", &gate.id.to_string(), "--by", "alice"])
        .code(5);
    let err = out.stderr();
    assert!(
        err.contains("got no decision within its `approval_timeout`: rejected"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "error: task {} waited longer than its `approval_timeout` and was rejected by orch at",
            gate.id
        )),
        "{err}"
    );
    let rows = db.rows().await;
    let g = by_task(&rows, "gate");
    assert_eq!(g.status, TaskStatus::Failed);
    assert_eq!(g.approval_state, Some(ApprovalState::Rejected));
    assert_eq!(g.approver.as_deref(), Some("orch"));
    assert_eq!(g.approval_note.as_deref(), Some("approval timed out"));

    db.orch().args(["resume", &g.run_id]).code(1);
    let rows = db.rows().await;
    assert_eq!(
        by_task(&rows, "deploy").log_excerpt.as_deref(),
        Some("skipped: dependency gate was rejected by orch")
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_timeout_needs_a_gate(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run("name: p\ntasks:\n  - task: a\n    shell: 'true'\n    approval_timeout: 1h\n")
        .code(2)
        .stderr_has("plan.yaml:5:23: task `a`: `approval_timeout` needs `approval: always`");
}
