//! `orch prune`: old runs go whole (rows, deliveries, log folders), gates still waiting and
//! recent runs stay, `--dry-run` changes nothing — on both databases.

use chrono::Duration;
use orch::store::TaskStatus;
use orch::store::mutation::{NewRun, NewTask, insert_run, insert_task};

use rstest::rstest;

use crate::support::{Backend, TestDb};

async fn seed_run(db: &TestDb, run_id: &str, days_ago: i64, statuses: &[TaskStatus]) {
    let store = db.store().await;
    let at = orch::store::now() - Duration::days(days_ago);
    let logs = db.path().join("logs");
    std::fs::create_dir_all(logs.join(run_id)).unwrap();
    std::fs::write(logs.join(run_id).join("t.log"), "log\n").unwrap();
    insert_run(
        &store.db,
        NewRun {
            run_id: run_id.into(),
            plan_name: "p".into(),
            plan_text: "name: p\n".into(),
            plan_sha256: "00".repeat(32),
            git_commit: None,
            host: "h".into(),
            orch_version: "0".into(),
            trigger: "manual".into(),
            initiator: None,
            started_at: at,
            log_dir: Some(logs.display().to_string()),
            notify: None,
            queue: None,
            concurrency: None,
        },
    )
    .await
    .unwrap();
    orch::store::mutation::finish_run(&store.db, run_id, at + Duration::minutes(5))
        .await
        .unwrap();
    for (i, s) in statuses.iter().enumerate() {
        let mut t = NewTask::new(format!("t{i}"), run_id, *s);
        t.started_at = Some(at);
        let row = insert_task(&store.db, t).await.unwrap();
        orch::store::delivery::insert(
            &store.db,
            orch::store::delivery::NewDelivery {
                task_id: Some(row.id),
                run_id: run_id.into(),
                event: "failed".into(),
                target: "slack".into(),
                kind: "slack".into(),
                url_redacted: "https://h".into(),
                payload: "{}".into(),
            },
        )
        .await
        .unwrap();
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_removes_old_runs_whole(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    use TaskStatus::*;
    seed_run(&db, "old", 40, &[Succeeded, Failed]).await;
    seed_run(&db, "old-gate", 45, &[Succeeded, AwaitingApproval]).await;
    seed_run(&db, "recent", 3, &[Succeeded]).await;

    db.orch()
        .args(["prune", "--older-than", "30d", "--dry-run"])
        .success()
        .stdout_has("would prune run old (2 task(s), ended ")
        .stdout_has("kept 1 run(s) with a gate still waiting");
    assert_eq!(db.rows().await.len(), 5, "a dry run removes nothing");

    let out = db.orch().args(["prune", "--older-than", "30d"]).success();
    assert!(
        out.stdout()
            .starts_with("pruned 1 run(s) that ended before ")
            && out
                .stdout()
                .contains("(2 task row(s), 2 delivery record(s), 1 log folder(s))"),
        "{}",
        out.stdout()
    );
    let runs: Vec<String> = db.rows().await.iter().map(|r| r.run_id.clone()).collect();
    assert!(!runs.contains(&"old".to_owned()));
    assert!(runs.contains(&"old-gate".to_owned()) && runs.contains(&"recent".to_owned()));
    assert!(!db.path().join("logs/old").exists());
    assert!(db.path().join("logs/recent").exists());
    let store = db.store().await;
    let left = orch::store::delivery::list(
        &store.db,
        &orch::store::delivery::DeliveryFilter {
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(left.len(), 3);
    db.orch().args(["runs", "show", "old"]).code(4);

    let out = db
        .orch()
        .args(["prune", "--older-than", "30d", "--include-pending"])
        .output();
    assert!(
        out.stdout().starts_with("pruned 1 run(s)"),
        "{}",
        out.stdout()
    );
    assert!(db.rows().await.iter().all(|r| r.run_id == "recent"));
    db.orch().args(["prune", "--older-than", "soon"]).code(2);
}
