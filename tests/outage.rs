//! A database that goes away in the middle of a run, or under `orch serve`'s pages. These
//! tests start a private PostgreSQL cluster of their own (initdb into a temporary folder, a
//! free port) and stop or restart only that one, never the shared server. Where initdb is
//! not installed they say that they skipped.

use std::time::Duration;

use orch::store::TaskStatus;

use crate::support::cluster::{Cluster, open_as_is};
use crate::support::process::Running;
use crate::support::process::assert_pid_in_file_gone;
use crate::support::{TestDb, assert_excerpt_starts_with, wait_for_status};

/// Waits until the first task of the cluster's database is running.
async fn until_running(db_url: &str) {
    let store = open_as_is(db_url).await;
    wait_for_status(&store, TaskStatus::Running).await;
    store.db.close().await.ok();
}

/// A private cluster, a scratch folder, and `orch run` of the two-task plan against the
/// cluster in the background, once its first task runs; `None` (after saying so) where
/// initdb is not installed.
async fn run_in_background(outage_ms: &str) -> Option<(Cluster, TestDb, Running)> {
    let cluster = Cluster::start()?;
    let scratch = TestDb::sqlite().await;
    let plan = scratch.plan(PLAN);
    let child = scratch
        .orch()
        .args(["run", plan])
        .env("DATABASE_URL", cluster.url())
        .env("ORCH_DB_OUTAGE_MS", outage_ms)
        .spawn();
    until_running(&cluster.url()).await;
    Some((cluster, scratch, child))
}

/// Once the database is back, the run's first task (left `running` by the orch that gave up)
/// is recovered like any lost task's, and the second is left for `orch resume`.
async fn recovered_as_lost(cluster: &Cluster, scratch: &TestDb) {
    cluster.pg_ctl(&["start"]);
    scratch
        .orch()
        .args(["runs", "list"])
        .env("DATABASE_URL", cluster.url())
        .env("ORCH_STALE_AFTER_MS", "1")
        .success();
    let rows = rows(&cluster.url()).await;
    assert_eq!(rows[0].status, TaskStatus::Failed);
    assert_excerpt_starts_with(&rows[0], "orchestrator lost");
    assert_eq!(rows[1].status, TaskStatus::Queued, "left for `orch resume`");
}

async fn rows(db_url: &str) -> Vec<orch::store::agents_task::Model> {
    let store = open_as_is(db_url).await;
    let mut rows = orch::store::query::list_tasks(&store.db, &Default::default())
        .await
        .unwrap();
    rows.reverse();
    store.db.close().await.ok();
    rows
}

const PLAN: &str = "name: outage\ntasks:\n  - task: first\n    shell: \"echo working; sleep 2; echo done\"\n  - task: second\n    shell: \"echo second\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_rides_out_a_database_restart() {
    let Some((cluster, scratch, child)) = run_in_background("40000").await else {
        return;
    };
    // Down while the task runs and finishes, and for longer than orch waits for one
    // connection (5 s), so its own retries are what carry the run.
    cluster.pg_ctl(&["stop"]);
    tokio::time::sleep(Duration::from_secs(8)).await;
    cluster.pg_ctl(&["start"]);
    child
        .wait()
        .exited(0)
        .stderr_has("the database is unreachable while orch records")
        .stderr_has("the database is back");
    let rows = rows(&cluster.url()).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].status, TaskStatus::Succeeded);
    assert_eq!(rows[0].log_excerpt.as_deref(), Some("working\ndone"));
    assert_eq!(rows[1].status, TaskStatus::Succeeded);
    let log = scratch.read(&format!(".orch/logs/{}/first.log", rows[0].run_id));
    assert_eq!(log, b"working\ndone\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_never_comes_back_stops_the_run_with_exit_3() {
    let Some((cluster, scratch, child)) = run_in_background("1500").await else {
        return;
    };
    cluster.pg_ctl(&["stop"]);
    child
        .wait()
        .exited(3)
        .stderr_has("error: the database stayed unreachable for ")
        .stderr_lacks("panicked");
    // The task's log is on disk; once the database is back, the rows tell the truth.
    let logs = scratch.path().join(".orch/logs");
    let run_dir = std::fs::read_dir(&logs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        std::fs::read(run_dir.join("first.log")).unwrap(),
        b"working\ndone\n"
    );
    recovered_as_lost(&cluster, &scratch).await;
}

/// Issue: the SQLite file deleted mid-run went unnoticed (a normal summary, exit 0), and the
/// next command made a new empty file: the history gone without a word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_deleted_mid_run_is_noticed() {
    let db = TestDb::sqlite().await;
    let plan = db.plan(
        "name: vanish\ntasks:\n  - task: rm\n    shell: \"rm -f orch.db orch.db-wal orch.db-shm\"\n  - task: after\n    shell: \"echo still here\"\n",
    );
    db.orch()
        .args(["run", plan])
        .code(3)
        .stderr_has("the database file `")
        .stderr_has("was deleted or replaced while this run went on");
}

/// Issue: heartbeats that failed only warned, and the outage bound started only when a write
/// failed, so a task running through a long outage went on unsupervised past the staleness
/// bound, when another orch could take the run over and run its tasks beside it. The bound
/// now counts from the last heartbeat that reached the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orch_without_heartbeats_stops_its_tasks_before_its_run_can_be_taken_over() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let scratch = TestDb::sqlite().await;
    let plan = scratch.plan(
        "name: long\nkill_grace: 1s\ntasks:\n  - task: long\n    shell: \"echo $$ > long.pid; exec sleep 120\"\n  - task: after\n    shell: \"echo after\"\n",
    );
    let child = scratch
        .orch()
        .args(["run", plan])
        .env("DATABASE_URL", cluster.url())
        .env("ORCH_HEARTBEAT_MS", "200")
        .env("ORCH_DB_OUTAGE_MS", "1500")
        .spawn();
    until_running(&cluster.url()).await;
    cluster.pg_ctl(&["stop"]);
    child
        .wait()
        .exited(3)
        .stderr_has("no heartbeat reached it, so its tasks were stopped")
        .stderr_lacks("panicked");
    assert_pid_in_file_gone(
        &scratch.path().join("long.pid"),
        "the task",
        "the orch that gave up",
    );
    recovered_as_lost(&cluster, &scratch).await;
}

/// A page asked for while the database is down is the 503 page: HTML that says the database
/// cannot be reached, with the pages' security headers, not an error dump.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_while_the_database_is_down_is_a_503_page() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let scratch = TestDb::sqlite().await;
    let server =
        crate::support::http::Served::start(scratch.orch().env("DATABASE_URL", cluster.url()));
    let client = crate::support::http::http_client();
    let up = client.get(server.url("/runs")).send().await.unwrap();
    assert_eq!(up.status(), reqwest::StatusCode::OK);

    cluster.pg_ctl(&["stop"]);
    let down = client.get(server.url("/runs")).send().await.unwrap();
    assert_eq!(down.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let headers = down.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    let body = down.text().await.unwrap();
    assert!(
        body.contains("the database cannot be reached right now"),
        "{body}"
    );
    assert!(!body.contains("postgres://"), "no detail shown: {body}");
}
