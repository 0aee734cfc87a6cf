//! A fresh database per test on either backend, and what tests read back from it.
//!
//! PostgreSQL comes from `ORCH_TEST_POSTGRES_URL` (a database is created per test and dropped
//! after it); without it a PostgreSQL test prints that it skipped, unless
//! `ORCH_TEST_REQUIRE_POSTGRES=1` makes that a failure (as `.ci/run` does).

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use orch::config::DatabaseTarget;
use orch::store::connect::{Pool, Schema};
use orch::store::delivery::{DeliveryFilter, list};
use orch::store::mutation::{NewTask, insert_task};
use orch::store::webhook_delivery;
use orch::store::{Store, TaskStatus, agents_run_lock, agents_task, open};
use sea_orm::{ConnectionTrait, Statement};
use tempfile::TempDir;

use super::process::Cmd;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database of one backend, and a scratch folder to run orch in.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: TempDir,
    pg: Option<PgScratch>,
}

struct PgScratch {
    admin_url: String,
    name: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn pg_admin_url() -> Option<String> {
    match std::env::var("ORCH_TEST_POSTGRES_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            if std::env::var("ORCH_TEST_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("ORCH_TEST_REQUIRE_POSTGRES=1 but ORCH_TEST_POSTGRES_URL is not set");
            }
            None
        }
    }
}

/// `postgres://u@h:5432/test?x=y` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn admin_exec(admin_url: &str, sql: &str) {
    let target = DatabaseTarget::resolve(Some(admin_url)).unwrap();
    let db = sea_orm::Database::connect(match &target {
        DatabaseTarget::Postgres { url } => url.clone(),
        DatabaseTarget::Sqlite { .. } => unreachable!(),
    })
    .await
    .expect("connect to ORCH_TEST_POSTGRES_URL");
    db.execute_unprepared(sql).await.expect(sql);
    db.close().await.ok();
}

impl TestDb {
    /// A new database, or `None` (after saying so) when PostgreSQL is not configured. A test
    /// on both backends starts with `let Some(db) = TestDb::new(backend).await else { return };`.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("orch.db").display());
                Some(TestDb {
                    backend,
                    url,
                    dir,
                    pg: None,
                })
            }
            Backend::Postgres => {
                let Some(admin_url) = pg_admin_url() else {
                    eprintln!("skipped: ORCH_TEST_POSTGRES_URL is not set");
                    return None;
                };
                let name = format!(
                    "orch_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    Utc::now().timestamp_subsec_nanos()
                );
                admin_exec(&admin_url, &format!("CREATE DATABASE {name}")).await;
                let url = with_database(&admin_url, &name);
                Some(TestDb {
                    backend,
                    url,
                    dir,
                    pg: Some(PgScratch { admin_url, name }),
                })
            }
        }
    }

    /// A SQLite database, for the tests that need only one backend.
    pub async fn sqlite() -> TestDb {
        TestDb::new(Backend::Sqlite).await.unwrap()
    }

    pub fn target(&self) -> DatabaseTarget {
        DatabaseTarget::resolve(Some(&self.url)).unwrap()
    }

    /// Opens (and migrates) the database through the library, as orch does.
    pub async fn store(&self) -> Store {
        open(&self.target(), Schema::Migrate, Pool::Shared)
            .await
            .unwrap()
    }

    /// Connects without checking or migrating the schema.
    pub async fn raw_store(&self) -> Store {
        let target = self.target();
        Store {
            db: orch::store::connect::connect(&target, 1).await.unwrap(),
            target,
            outage: Default::default(),
        }
    }

    /// The real orch binary, run in the scratch folder against this database, with nothing
    /// of the machine running the tests leaking in.
    pub fn orch(&self) -> Cmd {
        hermetic(Cmd::orch())
            .current_dir(self.path())
            .env("DATABASE_URL", &self.url)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `yaml` as `plan.yaml` in the scratch folder; returns its file name.
    pub fn plan(&self, yaml: &str) -> &'static str {
        std::fs::write(self.path().join("plan.yaml"), yaml).unwrap();
        "plan.yaml"
    }

    /// `orch run plan.yaml` of `yaml`: add arguments, then `.success()`, `.code(n)`, ….
    pub fn run(&self, yaml: &str) -> Cmd {
        let plan = self.plan(yaml);
        self.orch().args(["run", plan])
    }

    /// Every task row, oldest first.
    pub async fn rows(&self) -> Vec<agents_task::Model> {
        let store = self.store().await;
        orch::store::query::list_tasks(
            &store.db,
            &orch::store::query::TaskFilter {
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .rev()
        .collect()
    }

    /// Every webhook delivery row, oldest first.
    pub async fn deliveries(&self) -> Vec<webhook_delivery::Model> {
        let store = self.store().await;
        let mut rows = list(
            &store.db,
            &DeliveryFilter {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        rows.reverse();
        rows
    }

    /// Every lease held (on a plan or a run).
    pub async fn leases(&self) -> Vec<agents_run_lock::Model> {
        orch::store::lease::all(&self.store().await.db)
            .await
            .unwrap()
    }

    /// A file of the scratch folder.
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path().join(rel)).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(pg) = self.pg.take() {
            // Drop runs outside any async context we could borrow: use a small runtime on a
            // thread of its own.
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg.name);
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(admin_exec(&pg.admin_url, &sql));
            })
            .join();
        }
    }
}

/// 2026-11-25 at `h:m` UTC.
pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap()
}

/// `cmd` with nothing of the machine running the tests leaking in: no webhook of its is ever
/// called, nor the job page of a CI run that runs the tests written; the user is `tester`.
pub fn hermetic(cmd: Cmd) -> Cmd {
    cmd.env_remove("CI")
        .env_remove("SLACK_WEBHOOK")
        .env_remove("EMAIL_WEBHOOK")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("USER", "tester")
}

/// The row of the task named `name`.
pub fn by_task<'a>(rows: &'a [agents_task::Model], name: &str) -> &'a agents_task::Model {
    rows.iter()
        .find(|r| r.task == name)
        .unwrap_or_else(|| panic!("no row for task `{name}`"))
}

/// Checks that the log excerpt of `row` starts with `prefix` (printing the excerpt if not).
#[track_caller]
pub fn assert_excerpt_starts_with(row: &agents_task::Model, prefix: &str) {
    assert!(
        row.log_excerpt.as_deref().unwrap().starts_with(prefix),
        "{:?}",
        row.log_excerpt
    );
}

/// Inserts a task row as a later `orch run` would have left it.
pub async fn seed_task(
    store: &Store,
    task: &str,
    run_id: &str,
    status: TaskStatus,
    started: Option<DateTime<Utc>>,
) -> agents_task::Model {
    let mut new = NewTask::new(task, run_id, status);
    new.started_at = started;
    new.inputs = Some(serde_json::json!({"flags": ["--strict", "--dry-run"]}));
    insert_task(&store.db, new).await.unwrap()
}

/// Runs one SQL statement and returns the rows as JSON-ish strings (first column only).
pub async fn query_strings(store: &Store, sql: &str) -> Vec<String> {
    let rows = store
        .db
        .query_all_raw(Statement::from_string(store.db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}
