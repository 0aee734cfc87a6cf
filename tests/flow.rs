//! Flow control: dependencies, concurrency, `when`, retries and timeouts, proved from the
//! rows' own timestamps on both databases (no timing assertions beyond generous bounds).

use orch::store::TaskStatus;
use rstest::rstest;

use crate::support::{Backend, TestDb, assert_pid_in_file_gone, by_task};

/// A plan of `head` followed by the `n` tasks that `task(0)`, `task(1)`, … write.
fn wide_plan(head: &str, n: usize, task: impl Fn(usize) -> String) -> String {
    (0..n).fold(head.to_owned(), |plan, i| plan + &task(i))
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diamond_runs_in_dependency_order(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(
        r#"
name: diamond
concurrency: 2
tasks:
  - task: d
    shell: "echo d"
    depends_on: [b, c]
  - task: b
    shell: "sleep 0.2"
    depends_on: [a]
  - task: c
    shell: "sleep 0.2"
    depends_on: [a]
  - task: a
    shell: "sleep 0.1"
"#,
    )
    .success();
    let rows = db.rows().await;
    let names: Vec<&str> = rows.iter().map(|r| r.task.as_str()).collect();
    assert_eq!(
        names,
        ["d", "b", "c", "a"],
        "rows are inserted queued, in plan order"
    );
    let (a, b, c, d) = (
        by_task(&rows, "a"),
        by_task(&rows, "b"),
        by_task(&rows, "c"),
        by_task(&rows, "d"),
    );
    assert!(rows.iter().all(|r| r.status == TaskStatus::Succeeded));
    assert!(b.started_at >= a.finished_at && c.started_at >= a.finished_at);
    assert!(d.started_at >= b.finished_at && d.started_at >= c.finished_at);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    // More tasks at once than the database pool has connections: a regression test for a
    // scheduler that starved running tasks of their connections.
    let yaml = wide_plan("name: wide\nconcurrency: 2\ntasks:\n", 10, |i| {
        format!("  - task: t{i}\n    shell: \"sleep 0.2\"\n")
    });
    db.run(&yaml).args(["--concurrency", "7"]).success();
    let rows = db.rows().await;
    // The most rows running at any instant, from their own start and finish times.
    let mut events: Vec<(chrono::DateTime<chrono::Utc>, i32)> = Vec::new();
    for r in &rows {
        events.push((r.started_at.unwrap(), 1));
        events.push((r.finished_at.unwrap(), -1));
    }
    events.sort();
    let (mut now, mut peak) = (0, 0);
    for (_, d) in events {
        now += d;
        peak = peak.max(now);
    }
    assert!(peak <= 7, "{peak} tasks at once with --concurrency 7");
    assert!(rows.iter().all(|r| r.status == TaskStatus::Succeeded));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_decides_after_a_failure(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(
        r#"
name: when
tasks:
  - task: build
    shell: "exit 4"
  - task: deploy
    run: ["true"]
    depends_on: [build]
  - task: after.deploy
    run: ["true"]
    depends_on: [deploy]
  - task: report
    run: ["true"]
    depends_on: [build]
    when: always
  - task: alert
    run: ["true"]
    depends_on: [build]
    when: failure
  - task: cleanup.if.report.failed
    run: ["true"]
    depends_on: [report]
    when: failure
"#,
    )
    .code(1);
    let rows = db.rows().await;
    let status = |n: &str| by_task(&rows, n).status;
    let excerpt = |n: &str| by_task(&rows, n).log_excerpt.clone().unwrap_or_default();
    assert_eq!(status("build"), TaskStatus::Failed);
    assert_eq!(status("deploy"), TaskStatus::Skipped);
    assert_eq!(excerpt("deploy"), "skipped: dependency build failed");
    assert_eq!(status("after.deploy"), TaskStatus::Skipped);
    assert_eq!(
        excerpt("after.deploy"),
        "skipped: dependency deploy was skipped"
    );
    assert_eq!(status("report"), TaskStatus::Succeeded);
    assert_eq!(status("alert"), TaskStatus::Succeeded);
    assert_eq!(status("cleanup.if.report.failed"), TaskStatus::Skipped);
    assert_eq!(
        excerpt("cleanup.if.report.failed"),
        "skipped: no dependency failed"
    );
    assert!(by_task(&rows, "deploy").started_at.is_none());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_task_succeeds_on_its_third_attempt(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(
        r#"
name: flaky
tasks:
  - task: flaky
    shell: "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo attempt $n; [ $n -ge 3 ] || exit 9"
    retries: 4
    retry_backoff: 10ms
"#,
    )
.success();
    let row = &db.rows().await[0];
    assert_eq!(row.status, TaskStatus::Succeeded);
    assert_eq!((row.attempt, row.exit_code), (3, Some(0)));
    assert_eq!(
        row.log_excerpt.as_deref(),
        Some("attempt 3"),
        "the excerpt is the last attempt's"
    );
    let log = String::from_utf8(db.read(&format!(".orch/logs/{}/flaky.log", row.run_id))).unwrap();
    assert_eq!(log.matches("=== attempt ").count(), 3, "{log}");
    assert!(log.contains("=== attempt 2 of 5 at "), "{log}");
    assert!(
        log.contains("attempt 1\n") && log.contains("attempt 3\n"),
        "{log}"
    );
}

// Retries are recorded by the running tasks themselves, while the scheduling loop commits
// ends and starts and the heartbeat renews leases: all of it shares one connection on SQLite
// (`Pool::Shared`). Tasks retrying side by side must neither wait each other out nor fail to
// get the connection.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_retrying_side_by_side_share_the_connections(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let yaml = wide_plan("name: flaky_wide\nconcurrency: 4\ntasks:\n", 6, |i| {
        format!(
            "  - task: f{i}\n    shell: \"[ -e seen{i} ] || {{ touch seen{i}; exit 3; }}; echo ok {i}\"\n    retries: 2\n    retry_backoff: 10ms\n"
        )
    });
    db.run(&yaml).success();
    let rows = db.rows().await;
    assert_eq!(rows.len(), 6);
    for row in &rows {
        assert_eq!(row.status, TaskStatus::Succeeded, "{row:?}");
        assert_eq!((row.attempt, row.exit_code), (2, Some(0)), "{row:?}");
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hopeless_task_fails_after_its_retries(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(
        "name: hopeless\ntasks:\n  - task: h\n    shell: \"echo no; exit 7\"\n    retries: 2\n    retry_backoff: 10ms\n",
    )
.code(1);
    let row = &db.rows().await[0];
    assert_eq!(row.status, TaskStatus::Failed);
    assert_eq!((row.attempt, row.exit_code), (3, Some(7)));
    assert_eq!(row.log_excerpt.as_deref(), Some("no\nexit status 7"));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_kills_the_whole_group(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let pidfile = db.path().join("grandchild.pid");
    let yaml = format!(
        "name: slow\ntimeout: 1s\ntasks:\n  - task: slow\n    shell: \"sleep 300 & echo $! > {}; echo waiting; sleep 300\"\n    kill_grace: 1s\n  - task: quick\n    run: [\"true\"]\n    timeout: 5m\n",
        pidfile.display()
    );
    let started = std::time::Instant::now();
    let out = db.run(&yaml).output();
    assert!(
        started.elapsed().as_secs() < 60,
        "the timeout did not stop it"
    );
    out.exited(1);
    let rows = db.rows().await;
    let slow = by_task(&rows, "slow");
    assert_eq!(slow.status, TaskStatus::Failed);
    assert_eq!(
        slow.log_excerpt.as_deref(),
        Some("waiting\ntimed out after 1s")
    );
    assert_eq!(slow.exit_code, None);
    assert_eq!(by_task(&rows, "quick").status, TaskStatus::Succeeded);
    assert_pid_in_file_gone(&pidfile, "grandchild", "the timeout");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_with_deps_brings_the_dependencies(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let yaml = "name: deps\ntasks:\n  - task: a\n    run: [\"true\"]\n  - task: b\n    run: [\"true\"]\n    depends_on: [a]\n  - task: c\n    run: [\"true\"]\n    depends_on: [b]\n  - task: other\n    run: [\"true\"]\n";
    db.run(yaml).args(["--only", "c", "--with-deps"]).success();
    let names: Vec<String> = db.rows().await.into_iter().map(|r| r.task).collect();
    assert_eq!(names, ["a", "b", "c"]);
    // Without --with-deps, dependencies outside the selection count as satisfied.
    db.run(yaml).args(["--only", "c"]).success();
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_holds_its_dependents_queued(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(
        "name: gated\ntasks:\n  - task: pr\n    run: [\"true\"]\n    approval: always\n  - task: merge\n    run: [\"true\"]\n    depends_on: [pr]\n",
    )
.success();
    let rows = db.rows().await;
    assert_eq!(by_task(&rows, "pr").status, TaskStatus::AwaitingApproval);
    assert_eq!(by_task(&rows, "merge").status, TaskStatus::Queued);
}
