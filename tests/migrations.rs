//! Migrations: applied on start, exposed by `orch migrate`, serialised between processes,
//! and a database migrated by a newer orch refused without being written to.

use migration::known_migrations;
use orch::store::TaskStatus;
use rstest::rstest;
use sea_orm::ConnectionTrait;

use crate::support::{Backend, TestDb, query_strings, seed_task};

async fn table_exists(db: &TestDb, table: &str) -> bool {
    let store = db.raw_store().await;
    let sql = match db.backend {
        Backend::Postgres => format!(
            "SELECT table_name::text FROM information_schema.tables WHERE table_name = '{table}'"
        ),
        Backend::Sqlite => {
            format!("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        }
    };
    !query_strings(&store, &sql).await.is_empty()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_status_down_up_and_fresh(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let states = db
        .orch()
        .args(["migrate", "status", "--json"])
        .success()
        .stdout_json();
    assert!(
        states
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["applied"] == false),
        "{states}"
    );

    db.orch().args(["migrate", "up"]).success();
    let states = db
        .orch()
        .args(["migrate", "status", "--json"])
        .output()
        .stdout_json();
    let names: Vec<&str> = states
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, known_migrations());
    assert!(
        states
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["applied"] == true)
    );

    let back = (known_migrations().len() - 1).to_string();
    db.orch()
        .args(["migrate", "down", "--steps", &back])
        .success();
    assert!(!table_exists(&db, "agents_runs").await);
    assert!(table_exists(&db, "agents_tasks").await);

    // Any other command brings it back up.
    db.orch().args(["runs", "list"]).success();
    assert!(table_exists(&db, "agents_runs").await);

    let store = db.store().await;
    seed_task(&store, "t", "r", TaskStatus::Succeeded, None).await;
    db.orch()
        .args(["migrate", "fresh"])
        .code(2)
        .stderr_has("--yes");
    db.orch().args(["migrate", "fresh", "--yes"]).success();
    let out = db.orch().args(["tasks", "list", "--json"]).output();
    assert_eq!(out.stdout_json(), serde_json::json!([]));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_schema_is_refused_and_left_untouched(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    // A database at our first migration plus one from a future orch: this orch must neither
    // apply its own second migration nor write anything else.
    db.orch().args(["migrate", "down"]).success();
    let store = db.raw_store().await;
    store
        .db
        .execute_unprepared(
            "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20991231_000001_from_the_future', 0)",
        )
        .await
        .unwrap();
    for args in [
        vec!["tasks", "list"],
        vec!["migrate", "up"],
        vec!["migrate", "down"],
        vec!["approve", "1"],
    ] {
        let out = db.orch().args(&args).code(3);
        let err = out.stderr();
        assert!(
            err.contains(&format!(
                "database is at migration `m20991231_000001_from_the_future`, this orch knows up to `{}`: upgrade orch",
                known_migrations().last().unwrap()
            )),
            "{err}"
        );
    }
    assert!(
        !table_exists(&db, "agents_runs").await,
        "a refused database was migrated"
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_on_a_fresh_database_all_succeed(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let children: Vec<_> = (0..4)
        .map(|_| db.orch().args(["tasks", "list"]).spawn())
        .collect();
    let mut announced = 0;
    for child in children {
        let out = child.wait().exited(0);
        if out.stderr().contains(&format!(
            "applied {} pending migrations",
            known_migrations().len()
        )) {
            announced += 1;
        }
    }
    assert_eq!(announced, 1, "exactly one process migrates");
    let store = db.raw_store().await;
    let versions = query_strings(
        &store,
        "SELECT version FROM seaql_migrations ORDER BY version",
    )
    .await;
    assert_eq!(versions, known_migrations());
}
