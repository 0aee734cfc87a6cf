//! The summaries behind `orch_tasks` and the per-plan gauges (migration 18), kept by triggers:
//! after every path that writes task rows, what the metrics read from them equals what the rows
//! say, computed the slow way (the grouped queries over `agents_tasks` the metrics ran before).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use orch::store::{Store, stats};
use rstest::rstest;
use sea_orm::{ConnectionTrait, QueryResult, Statement};
use serde_json::json;

use crate::support::http::ApiServer;
use crate::support::{Backend, TestDb, by_task};

/// Every way a task ends: build succeeds; lint fails, so after_lint is skipped; flaky fails
/// until `ok` exists; two gates wait for a decision.
const PLAN: &str = "name: summed\ntasks:\n  - task: build\n    shell: 'true'\n  - task: lint\n    shell: 'false'\n  - task: after_lint\n    shell: 'true'\n    depends_on: [lint]\n  - task: flaky\n    shell: 'test -e ok'\n  - task: ship\n    shell: 'true'\n    approval: always\n  - task: risky\n    shell: 'true'\n    approval: always\n";

async fn query(store: &Store, sql: &str) -> Vec<QueryResult> {
    store
        .db
        .query_all_raw(Statement::from_string(store.db.get_database_backend(), sql))
        .await
        .unwrap()
}

/// What the summaries say, as the metrics read them.
#[derive(Debug, PartialEq)]
struct Summed {
    /// Statuses with at least one row (a summary may hold a status at 0).
    counts: BTreeMap<String, i64>,
    successes: BTreeMap<(String, String), DateTime<Utc>>,
    durations: BTreeMap<(String, String), i64>,
}

async fn summed(store: &Store) -> Summed {
    let db = &store.db;
    Summed {
        counts: stats::tasks_by_status(db)
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .collect(),
        successes: stats::last_successes(db)
            .await
            .unwrap()
            .into_iter()
            .map(|(p, t, at)| ((p, t), at))
            .collect(),
        durations: stats::last_durations(db)
            .await
            .unwrap()
            .into_iter()
            .map(|(p, t, ms)| ((p, t), ms))
            .collect(),
    }
}

/// The same, the slow way: grouped over every task row.
async fn counted(store: &Store) -> Summed {
    let counts = query(
        store,
        "SELECT status, COUNT(*) FROM agents_tasks GROUP BY status",
    )
    .await;
    let successes = query(
        store,
        "SELECT r.plan_name, t.task, MAX(t.finished_at) FROM agents_tasks t \
         JOIN agents_runs r ON r.run_id = t.run_id \
         WHERE t.status = 'succeeded' AND t.finished_at IS NOT NULL \
         GROUP BY r.plan_name, t.task",
    )
    .await;
    let durations = query(
        store,
        "SELECT r.plan_name, t.task, t.duration_ms FROM agents_tasks t \
         JOIN agents_runs r ON r.run_id = t.run_id \
         WHERE t.id IN (SELECT MAX(l.id) FROM agents_tasks l \
           JOIN agents_runs lr ON lr.run_id = l.run_id \
           WHERE l.duration_ms IS NOT NULL AND l.finished_at IS NOT NULL \
           GROUP BY lr.plan_name, l.task)",
    )
    .await;
    let get = |r: &QueryResult, i| r.try_get_by_index::<String>(i).unwrap();
    Summed {
        counts: counts
            .iter()
            .map(|r| (get(r, 0), r.try_get_by_index(1).unwrap()))
            .collect(),
        successes: successes
            .iter()
            .map(|r| ((get(r, 0), get(r, 1)), r.try_get_by_index(2).unwrap()))
            .collect(),
        durations: durations
            .iter()
            .map(|r| ((get(r, 0), get(r, 1)), r.try_get_by_index(2).unwrap()))
            .collect(),
    }
}

/// The summaries equal the rows, after `step`.
async fn assert_exact(db: &TestDb, step: &str) -> Summed {
    let store = db.store().await;
    let fast = summed(&store).await;
    assert_eq!(fast, counted(&store).await, "after {step}");
    fast
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_follow_every_path_that_writes_tasks(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(PLAN).code(1);
    let first = assert_exact(&db, "a run").await;
    assert_eq!(first.counts["awaiting_approval"], 2, "{first:?}");
    assert_eq!(first.counts["failed"], 2, "{first:?}");
    let rows = db.rows().await;
    let run_id = rows[0].run_id.clone();
    db.orch()
        .args(["approve", &by_task(&rows, "ship").id.to_string()])
        .success();
    db.orch()
        .args(["reject", &by_task(&rows, "risky").id.to_string()])
        .args(["--note", "no"])
        .success();
    assert_exact(&db, "a gate approved and one rejected").await;

    // flaky and the rejected gate run again (the gate waits anew), lint fails again.
    std::fs::write(db.path().join("ok"), "").unwrap();
    db.orch().args(["retry", &run_id]).code(1);
    let retried = assert_exact(&db, "orch retry").await;
    assert_eq!(
        retried.counts["succeeded"], 3,
        "build, ship, flaky: {retried:?}"
    );

    // Rows the API records: one of the run (summarized under its plan), one of a run orch
    // never recorded (counted, not summarized).
    let api = ApiServer::start(&db, None).await;
    let (code, row) = api
        .send(
            "POST",
            "/agents/tasks/",
            Some(
                json!({"task": "by_api", "run_id": run_id, "status": "running",
                        "started_at": "2026-12-04T02:30:00Z"}),
            ),
            None,
        )
        .await;
    assert_eq!(code, 201, "{row}");
    let (code, body) = api
        .send(
            "PATCH",
            &format!("/agents/tasks/{}", row["id"]),
            Some(
                json!({"status": "succeeded", "finished_at": "2026-12-04T02:35:00Z",
                        "duration_ms": 300000}),
            ),
            None,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = api
        .send(
            "POST",
            "/agents/tasks/",
            Some(
                json!({"task": "elsewhere", "run_id": "not-orchs", "status": "failed",
                        "finished_at": "2026-12-04T02:35:00Z", "duration_ms": 5}),
            ),
            None,
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let before_prune = assert_exact(&db, "rows recorded through the API").await;
    let pair = ("summed".to_owned(), "by_api".to_owned());
    assert_eq!(before_prune.durations[&pair], 300000);

    // Everything made old, then pruned: the counts go to 0, the per-plan values stay.
    let store = db.store().await;
    let old = "'2026-01-01T00:00:00Z'";
    for sql in [
        format!("UPDATE agents_runs SET started_at = {old}, finished_at = {old}"),
        format!("UPDATE agents_tasks SET started_at = {old}, finished_at = {old}"),
    ] {
        store.db.execute_unprepared(&sql).await.unwrap();
    }
    db.orch()
        .args(["prune", "--older-than", "30d", "--include-pending"])
        .success();
    assert!(db.rows().await.is_empty());
    let pruned = summed(&store).await;
    assert_eq!(pruned.counts, counted(&store).await.counts);
    assert_eq!(pruned.successes, before_prune.successes);
    assert_eq!(pruned.durations, before_prune.durations);

    // A new run: its pairs read as its rows say, the pruned ones as they were.
    db.run(PLAN).code(1);
    let after = summed(&store).await;
    let rows = counted(&store).await;
    assert_eq!(after.counts, rows.counts);
    for (pair, at) in &rows.successes {
        assert_eq!(after.successes[pair], *at, "{pair:?}");
    }
    for (pair, ms) in &rows.durations {
        assert_eq!(after.durations[pair], *ms, "{pair:?}");
    }
    assert_eq!(after.successes[&pair], before_prune.successes[&pair]);
    assert!(!rows.successes.contains_key(&pair));
}

/// Upgrading fills the summaries from the rows already there.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summaries_migration_sums_the_rows_present(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(PLAN).code(1);
    db.orch()
        .args(["migrate", "down", "--steps", "1"])
        .success();
    // Recorded while the tables and their triggers were gone.
    db.run(PLAN).code(1);
    db.orch().args(["migrate", "up"]).success();
    let summed = assert_exact(&db, "the upgrade").await;
    assert_eq!(summed.counts["awaiting_approval"], 4, "{summed:?}");
}

/// Several runs side by side, each ending several tasks at once, on PostgreSQL (SQLite has one
/// writer at a time): no deadlock, no lost update, every delta folded or still readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_ending_at_once_keep_the_counts_exact() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let mut plan = String::from("name: wide\nconcurrency: 4\ntasks:\n");
    for i in 0..60 {
        // Every tenth fails: more than one status moves in the same statements.
        let shell = if i % 10 == 3 { "false" } else { "true" };
        plan.push_str(&format!("  - task: t{i}\n    shell: '{shell}'\n"));
    }
    let file = db.plan(&plan);
    let runs: Vec<_> = (0..3)
        .map(|_| db.orch().args(["run", file, "--allow-overlap"]).spawn())
        .collect();
    for run in runs {
        // A deadlock or a lost write would end a run with a database error (exit code 3 or
        // more), not the failed tasks' 1.
        run.wait().exited(1);
    }
    let summed = assert_exact(&db, "three runs at once").await;
    assert_eq!(summed.counts["succeeded"], 3 * 54, "{summed:?}");
    assert_eq!(summed.counts["failed"], 3 * 6, "{summed:?}");
    // Enough statements to fold: the folded table holds most of it.
    let store = db.store().await;
    let folded = query(
        &store,
        "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM orch_task_status_counts",
    )
    .await;
    let folded: i64 = folded[0].try_get_by_index(0).unwrap();
    assert!(folded > 0, "nothing was folded");
}
