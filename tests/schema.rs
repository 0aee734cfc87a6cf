//! The schema on both databases against the documented DDL: columns, types, nullability,
//! indexes and CHECK constraints.

use sea_orm::ConnectionTrait;

use rstest::rstest;

use crate::support::{Backend, TestDb, query_strings};

/// (column, PostgreSQL type, SQLite declared type, nullable)
const AGENTS_TASKS: [(&str, &str, &str, bool); 24] = [
    ("id", "bigint", "integer", false),
    ("task", "text", "text", false),
    ("run_id", "text", "text", false),
    ("status", "text", "text", false),
    (
        "started_at",
        "timestamp with time zone",
        "timestamp_with_timezone_text",
        true,
    ),
    (
        "finished_at",
        "timestamp with time zone",
        "timestamp_with_timezone_text",
        true,
    ),
    ("duration_ms", "bigint", "integer", true),
    ("inputs", "jsonb", "jsonb_text", true),
    ("outputs_uri", "text", "text", true),
    ("log_excerpt", "text", "text", true),
    ("approval_state", "text", "text", true),
    ("approver", "text", "text", true),
    ("approval_note", "text", "text", true),
    (
        "decided_at",
        "timestamp with time zone",
        "timestamp_with_timezone_text",
        true,
    ),
    ("attempt", "integer", "integer", false),
    ("exit_code", "integer", "integer", true),
    (
        "approval_deadline",
        "timestamp with time zone",
        "timestamp_with_timezone_text",
        true,
    ),
    ("owner", "text", "text", true),
    (
        "heartbeat_at",
        "timestamp with time zone",
        "timestamp_with_timezone_text",
        true,
    ),
    ("approval_policy", "jsonb", "jsonb_text", true),
    (
        "ready_at",
        "timestamp with time zone",
        "timestamp_with_timezone_text",
        true,
    ),
    ("claim", "bigint", "integer", false),
    ("runs_on", "text", "text", true),
    ("on_lost", "text", "text", true),
];

async fn columns(db: &TestDb) -> Vec<(String, String, bool)> {
    let store = db.store().await;
    let sql = match db.backend {
        Backend::Postgres => {
            "SELECT column_name || '|' || data_type || '|' || is_nullable FROM \
             information_schema.columns WHERE table_name = 'agents_tasks' ORDER BY ordinal_position"
        }
        Backend::Sqlite => {
            "SELECT name || '|' || lower(type) || '|' || CASE \"notnull\" WHEN 1 THEN 'NO' ELSE 'YES' END \
             FROM pragma_table_info('agents_tasks') ORDER BY cid"
        }
    };
    query_strings(&store, sql)
        .await
        .into_iter()
        .map(|line| {
            let parts: Vec<&str> = line.split('|').collect();
            (parts[0].to_owned(), parts[1].to_owned(), parts[2] == "YES")
        })
        .collect()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_tasks_has_the_documented_columns(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let actual = columns(&db).await;
    let expected: Vec<(String, String, bool)> = AGENTS_TASKS
        .iter()
        .map(|(name, pg, lite, nullable)| {
            let ty = if db.backend == Backend::Postgres {
                pg
            } else {
                lite
            };
            ((*name).to_owned(), (*ty).to_owned(), *nullable)
        })
        .collect();
    assert_eq!(actual, expected);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_exist_on_run_id_and_started_at(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let sql = match db.backend {
        Backend::Postgres => {
            "SELECT indexname FROM pg_indexes WHERE tablename = 'agents_tasks' ORDER BY indexname"
        }
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'agents_tasks' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
    };
    let mut names = query_strings(&store, sql).await;
    names.retain(|n| n != "agents_tasks_pkey");
    assert_eq!(
        names,
        [
            "ix_agents_tasks_owner_status",
            "ix_agents_tasks_ready",
            "ix_agents_tasks_run_id",
            "ix_agents_tasks_started_at",
            "ix_agents_tasks_status_id",
        ]
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_constraints_refuse_unknown_values(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let ok = store
        .db
        .execute_unprepared(
            "INSERT INTO agents_tasks (task, run_id, status, approval_state) \
             VALUES ('a', 'r', 'awaiting_approval', 'pending')",
        )
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    for bad in [
        "INSERT INTO agents_tasks (task, run_id, status) VALUES ('a', 'r', 'done')",
        "INSERT INTO agents_tasks (task, run_id, status, approval_state) VALUES ('a', 'r', 'failed', 'maybe')",
        "INSERT INTO agents_tasks (run_id, status) VALUES ('r', 'failed')",
    ] {
        let err = store.db.execute_unprepared(bad).await;
        assert!(err.is_err(), "accepted: {bad}");
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_runs_keys_runs_by_id(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let sql = match db.backend {
        Backend::Postgres => {
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'agents_runs' \
             ORDER BY ordinal_position"
        }
        Backend::Sqlite => "SELECT name FROM pragma_table_info('agents_runs') ORDER BY cid",
    };
    assert_eq!(
        query_strings(&store, sql).await,
        [
            "run_id",
            "plan_name",
            "plan_text",
            "plan_sha256",
            "git_commit",
            "host",
            "orch_version",
            "trigger",
            "started_at",
            "finished_at",
            "log_dir",
            "notify",
            "cancel_requested_at",
            "cancel_requested_by",
            "initiator",
            "queue",
            "concurrency",
            "decisions_seen"
        ]
    );
    let insert = "INSERT INTO agents_runs (run_id, plan_name, plan_text, plan_sha256, host, \
                  orch_version, trigger, started_at) VALUES ('r1', 'p', 't', 's', 'h', 'v', \
                  'manual', '2026-11-25T02:30:00Z')";
    store.db.execute_unprepared(insert).await.unwrap();
    assert!(
        store.db.execute_unprepared(insert).await.is_err(),
        "duplicate run id accepted"
    );
}

/// docs/ORCHESTRATION.md shows the SQLite DDL exactly as SQLite stores it: every statement of
/// `sqlite_master`, in its order (a migration's new tables missing from the dump fail here).
#[tokio::test]
async fn documented_sqlite_ddl_is_the_real_one() {
    let db = TestDb::sqlite().await;
    let store = db.store().await;
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/ORCHESTRATION.md"
    ))
    .unwrap();
    let section = &docs[docs.find("### SQLite DDL").unwrap()..];
    let start = section.find("```sql\n").unwrap() + "```sql\n".len();
    let documented: Vec<&str> = section[start..]
        .split("```")
        .next()
        .unwrap()
        .lines()
        .collect();
    let real = query_strings(
        &store,
        "SELECT sql || ';' FROM sqlite_master WHERE sql IS NOT NULL",
    )
    .await;
    assert_eq!(
        documented,
        real,
        "docs/ORCHESTRATION.md's SQLite DDL is not the real one; the real one:\n{}",
        real.join("\n")
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_hold_documented_values(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let insert = |event: &str, kind: &str, status: &str| {
        format!(
            "INSERT INTO webhook_deliveries (run_id, event, target, kind, url_redacted, \
                 payload, status, created_at, updated_at) VALUES ('r', '{event}', 't', '{kind}', \
                 'https://h', '{{}}', '{status}', '2026-12-01T02:30:00Z', '2026-12-01T02:30:00Z')"
        )
    };
    store
        .db
        .execute_unprepared(&insert("failed", "slack", "pending"))
        .await
        .unwrap();
    for bad in [
        insert("exploded", "slack", "pending"),
        insert("failed", "pager", "pending"),
        insert("failed", "slack", "lost"),
    ] {
        assert!(
            store.db.execute_unprepared(&bad).await.is_err(),
            "accepted: {bad}"
        );
    }
}
