//! `orch tasks list|show` and `orch runs list|show`, as tables, plain text and JSON.

use chrono::{DateTime, Utc};
use orch::store::TaskStatus::{self, *};
use orch::store::mutation::{NewRun, insert_run};
use orch::store::{Store, agents_task};

use rstest::rstest;

use crate::support::{Backend, TestDb, at, seed_task};

/// A task row of run `nightly-1`.
async fn nightly(
    store: &Store,
    task: &str,
    status: TaskStatus,
    started: Option<DateTime<Utc>>,
) -> agents_task::Model {
    seed_task(store, task, "nightly-1", status, started).await
}

const KEYS: [&str; 19] = [
    "id",
    "task",
    "run_id",
    "status",
    "started_at",
    "finished_at",
    "duration_ms",
    "inputs",
    "outputs_uri",
    "log_excerpt",
    "approval_state",
    "approver",
    "approval_note",
    "decided_at",
    "attempt",
    "exit_code",
    "approval_deadline",
    "owner",
    "heartbeat_at",
];

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_list_json_has_every_column_newest_first(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let a = nightly(&store, "seo.validate", Succeeded, Some(at(2, 30))).await;
    let b = nightly(&store, "code.review", Running, None).await;
    let c = nightly(&store, "dx.integrate", AwaitingApproval, Some(at(2, 40))).await;

    let rows = db
        .orch()
        .args(["tasks", "list", "--json"])
        .success()
        .stdout_json();
    let rows = rows.as_array().unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [c.id, b.id, a.id]);
    for row in rows {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), KEYS.len());
        for k in KEYS {
            assert!(row.get(k).is_some(), "missing {k} in {row}");
        }
    }
    let waiting = &rows[0];
    assert_eq!(waiting["status"], "awaiting_approval");
    assert_eq!(waiting["approval_state"], "pending");
    assert_eq!(waiting["started_at"], "2026-11-25T02:40:00Z");
    assert_eq!(
        waiting["inputs"]["flags"][0], "--strict",
        "inputs must be JSON, not a string"
    );
    assert!(rows[1]["started_at"].is_null());
    assert!(rows[1]["approval_state"].is_null());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_list_filters_and_limits(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    for i in 0..5 {
        seed_task(&store, "a.task", "run-a", Succeeded, Some(at(1, i))).await;
    }
    let w = seed_task(&store, "b.task", "run-b", AwaitingApproval, Some(at(3, 0))).await;
    seed_task(&store, "b.task", "run-b", Failed, Some(at(3, 1))).await;

    let ids = |args: &[&str]| {
        let out = db
            .orch()
            .args(["tasks", "list", "--json"])
            .args(args)
            .success();
        out.stdout_json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&["--status", "awaiting_approval"]), [w.id]);
    assert_eq!(ids(&["--run-id", "run-a"]).len(), 5);
    assert_eq!(ids(&["--task", "b.task"]).len(), 2);
    assert_eq!(ids(&["--run-id", "run-b", "--status", "failed"]).len(), 1);
    assert_eq!(ids(&["--limit", "2"]).len(), 2);
    assert!(ids(&["--run-id", "nope"]).is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_list_plain_text_has_no_escape_codes(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    nightly(&store, "seo.validate", Succeeded, Some(at(2, 30))).await;
    let out = db.orch().args(["tasks", "list"]).success();
    let text = out.stdout();
    assert!(!text.contains('\u{1b}'), "escape codes in {text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ID"), "{text}");
    assert!(
        lines[1].contains("seo.validate") && lines[1].contains("succeeded"),
        "{text}"
    );
    assert!(lines[1].contains("2026-11-25 02:30:00"), "{text}");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_show_prints_one_row(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let t = nightly(&store, "seo.validate", Running, Some(at(2, 30))).await;
    let row = db
        .orch()
        .args(["tasks", "show", &t.id.to_string(), "--json"])
        .success()
        .stdout_json();
    assert_eq!(row["id"], t.id);
    assert_eq!(row["task"], "seo.validate");
    assert_eq!(row.as_object().unwrap().len(), KEYS.len());

    let out = db
        .orch()
        .args(["tasks", "show", &t.id.to_string()])
        .output();
    let text = out.stdout();
    assert!(text.contains("status: running"), "{text}");
    assert!(text.contains("run_id: nightly-1"), "{text}");

    db.orch()
        .args(["tasks", "show", "999999"])
        .code(4)
        .stderr_has("no task with id 999999");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_counts_each_status(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    insert_run(
        &store.db,
        NewRun {
            run_id: "nightly-2026-11-25".into(),
            plan_name: "nightly".into(),
            plan_text: "name: nightly\n".into(),
            plan_sha256: "ab".repeat(32),
            git_commit: Some("deadbeef".into()),
            host: "ci-1".into(),
            orch_version: "0.1.0".into(),
            trigger: "ci".into(),
            initiator: None,
            started_at: at(2, 30),
            log_dir: None,
            notify: None,
            queue: None,
            concurrency: None,
        },
    )
    .await
    .unwrap();
    seed_task(
        &store,
        "seo.validate",
        "nightly-2026-11-25",
        Succeeded,
        Some(at(2, 30)),
    )
    .await;
    seed_task(
        &store,
        "code.review",
        "nightly-2026-11-25",
        Failed,
        Some(at(2, 31)),
    )
    .await;
    seed_task(
        &store,
        "dx.integrate",
        "nightly-2026-11-25",
        AwaitingApproval,
        Some(at(2, 32)),
    )
    .await;
    // A run written by another tool: no `agents_runs` record, still listed.
    seed_task(&store, "x", "older", Succeeded, Some(at(1, 0))).await;

    let runs = db
        .orch()
        .args(["runs", "list", "--json"])
        .success()
        .stdout_json();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let r = &runs[0];
    assert_eq!(r["run_id"], "nightly-2026-11-25");
    assert_eq!(r["plan_name"], "nightly");
    assert_eq!(r["trigger"], "ci");
    assert_eq!(r["started_at"], "2026-11-25T02:30:00Z");
    assert_eq!(r["tasks"], 3);
    assert_eq!(r["counts"]["succeeded"], 1);
    assert_eq!(r["counts"]["failed"], 1);
    assert_eq!(r["counts"]["awaiting_approval"], 1);
    assert_eq!(r["counts"]["queued"], 0);
    assert_eq!(runs[1]["run_id"], "older");
    assert!(runs[1]["plan_name"].is_null());
    assert_eq!(runs[1]["started_at"], "2026-11-25T01:00:00Z");

    let run = db
        .orch()
        .args(["runs", "show", "nightly-2026-11-25", "--json"])
        .success()
        .stdout_json();
    assert_eq!(run["git_commit"], "deadbeef");
    let names: Vec<&str> = run["task_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["seo.validate", "code.review", "dx.integrate"]);

    let out = db.orch().args(["runs", "list"]).output();
    let text = out.stdout();
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("nightly-2026-11-25"),
        "{text}"
    );

    db.orch()
        .args(["runs", "show", "nope"])
        .code(4)
        .stderr_has("no run `nope`");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_pipe_exits_quietly(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    for i in 0..1000 {
        seed_task(
            &store,
            "a.task.with.a.long.name",
            "run-with-a-long-id",
            Succeeded,
            Some(at(1, i % 60)),
        )
        .await;
    }
    let mut child = db.orch().args(["tasks", "list", "--limit", "1000"]).spawn();
    let mut stdout = child.take_stdout();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    child.wait().exited(0).stderr_is("");
}
