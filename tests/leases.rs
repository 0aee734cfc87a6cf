//! One driver per run: leases on runs and plans, heartbeats, and what happens when an orch
//! is killed outright — on both databases, with real processes and real signals.

use std::time::Duration;

use nix::sys::signal::Signal;
use orch::store::TaskStatus;
use rstest::rstest;

use crate::support::{Backend, TestDb, assert_excerpt_starts_with, wait_for_status};

/// Waits until some task of the database is `running`.
async fn until_running(db: &TestDb) {
    wait_for_status(&db.store().await, TaskStatus::Running).await;
}

const SLOW: &str =
    "name: slow\ntasks:\n  - task: sleeper\n    shell: \"echo $$ > sleeper.pid; sleep 1\"\n";

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_still_running_is_not_started_twice(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let plan = db.plan(SLOW);
    let first = db.orch().args(["run", plan]).spawn();
    until_running(&db).await;
    let out = db.orch().args(["run", plan]).code(5);
    let err = out.stderr();
    assert!(
        err.contains("error: plan `slow` is being driven by `")
            && err.contains("as run `slow-")
            && err.contains("pass `--allow-overlap`"),
        "{err}"
    );
    // Cron overlap on purpose: both run.
    db.orch().args(["run", plan, "--allow-overlap"]).success();
    first.wait().exited(0);
    let rows = db.rows().await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.status == TaskStatus::Succeeded));
    assert_ne!(rows[0].run_id, rows[1].run_id);
    // Each row names the orch that drove it; the leases are gone.
    assert!(
        rows.iter()
            .all(|r| r.owner.as_deref().unwrap().contains(':'))
    );
    assert!(db.leases().await.is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resumes_of_one_run_one_drives_the_other_exits_5(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let plan = "name: gated\ntasks:\n  - task: gate\n    shell: 'true'\n    approval: always\n  - task: deploy\n    shell: \"echo deploy >> ran.txt; sleep 2\"\n    depends_on: [gate]\n";
    db.run(plan).success();
    let gate = db.rows().await[0].clone();
    db.orch().args(["approve", &gate.id.to_string()]).success();
    let a = db.orch().args(["resume", &gate.run_id]).spawn();
    let b = db.orch().args(["resume", &gate.run_id]).spawn();
    let (a, b) = (a.wait(), b.wait());
    let mut codes = [a.code(), b.code()];
    codes.sort();
    assert_eq!(codes, [Some(0), Some(5)], "{}\n{}", a.stderr(), b.stderr());
    let loser = if a.code() == Some(5) { &a } else { &b };
    assert!(
        loser
            .stderr()
            .contains(&format!("run `{}` is being driven by `", gate.run_id)),
        "{}",
        loser.stderr()
    );
    // Exactly once.
    assert_eq!(String::from_utf8(db.read("ran.txt")).unwrap(), "deploy\n");
    assert_eq!(db.rows().await[1].status, TaskStatus::Succeeded);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orch_killed_outright_is_found_out_and_its_run_resumed(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let plan = db.plan(
            "name: crash\ntasks:\n  - task: sleeper\n    shell: \"echo $$ > sleeper.pid; sleep 300\"\n  - task: gate\n    shell: 'true'\n    approval: always\n  - task: later\n    shell: \"echo later\"\n",
        );
    let child = db
        .orch()
        .args(["run", plan])
        .env("ORCH_HEARTBEAT_MS", "100")
        .spawn();
    until_running(&db).await;
    let before = db.rows().await;
    assert!(before[0].heartbeat_at.is_some() && before[0].owner.is_some());
    assert_eq!(db.leases().await.len(), 2, "plan and run leases");
    child.kill(); // SIGKILL: no chance to clean up.
    // The task's own process is not orch's child any more; stop it ourselves.
    let pid: i32 = String::from_utf8(db.read("sleeper.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);

    // Within the staleness bound nothing is judged; after it, the next command sees it.
    db.orch()
        .args(["runs", "list"])
        .output()
        .stderr_lacks("orchestrator lost");
    assert_eq!(db.rows().await[0].status, TaskStatus::Running);
    tokio::time::sleep(Duration::from_millis(600)).await;
    db.orch()
        .args(["runs", "list"])
        .env("ORCH_STALE_AFTER_MS", "500")
        .success()
        .stderr_has("was left running by an orch that stopped: marked failed");
    let rows = db.rows().await;
    assert_eq!(rows[0].status, TaskStatus::Failed);
    assert_excerpt_starts_with(
        &rows[0],
        &format!(
            "orchestrator lost: {} stopped sending heartbeats (last at ",
            rows[0].owner.as_deref().unwrap()
        ),
    );
    assert!(rows[0].finished_at.is_some());
    assert_eq!(rows[1].status, TaskStatus::Queued, "never started");
    assert!(db.leases().await.is_empty(), "stale leases dropped");

    // The rest of the run goes on from where it stopped.
    db.orch()
        .args(["resume", &rows[0].run_id])
        .code(1)
        .stdout_has("3 task(s): 1 succeeded, 1 failed, 1 awaiting_approval");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_leaves_gates_alone_and_frees_the_leases(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let yaml = "name: sig\nconcurrency: 2\ntasks:\n  - task: gate\n    shell: 'true'\n    approval: always\n  - task: sleeper\n    shell: \"sleep 300\"\n  - task: after\n    shell: 'true'\n    depends_on: [sleeper]\n";
    let child = db.run(yaml).spawn();
    until_running(&db).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.signal(Signal::SIGTERM);
    child.wait().exited(143);
    let rows = db.rows().await;
    assert_eq!(rows[0].status, TaskStatus::AwaitingApproval, "left alone");
    assert_eq!(rows[1].status, TaskStatus::Failed);
    assert_eq!(rows[2].status, TaskStatus::Skipped);
    assert!(db.leases().await.is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_during_the_run_is_picked_up_by_the_run(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let yaml = "name: live\nconcurrency: 2\ntasks:\n  - task: gate\n    shell: 'true'\n    approval: always\n  - task: slow\n    shell: 'sleep 2'\n  - task: after\n    shell: 'echo after'\n    depends_on: [gate]\n";
    let child = db.run(yaml).spawn();
    let store = db.store().await;
    let gate = wait_for_status(&store, TaskStatus::AwaitingApproval).await;
    // `--resume` cannot take the run over while it is driven, but the decision stands.
    db.orch()
        .args(["approve", &gate.id.to_string(), "--resume"])
        .code(5)
        .stderr_has("the decision is recorded, but run `");
    let out = child.wait().exited(0);
    let rows = db.rows().await;
    assert_eq!(rows[0].status, TaskStatus::Succeeded);
    assert_eq!(
        rows[2].status,
        TaskStatus::Succeeded,
        "the run picked the decision up"
    );
    out.stdout_has("3 task(s): 3 succeeded");
}
