//! Exit codes, usage errors, database selection and its failure modes.

use crate::support::{Backend, Cmd, TestDb, query_strings};
use orch::store::TaskStatus;

#[test]
fn help_documents_the_exit_codes() {
    let text = Cmd::orch().arg("--help").success().stdout();
    for line in [
        "0    success",
        "3    database unreachable",
        "5    conflict",
        "143  terminated",
    ] {
        assert!(text.contains(line), "{line} missing from --help");
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["tasks", "list", "--status", "done"],
        vec!["tasks", "list", "--limit", "0"],
        vec!["tasks", "list", "--limit", "1001"],
        vec!["tasks", "show", "abc"],
        vec!["frobnicate"],
        vec!["migrate", "fresh"],
    ] {
        Cmd::orch_in(dir.path())
            .args(&args)
            .code(2)
            .stderr_lacks("panicked");
    }
    // It lists the valid statuses.
    Cmd::orch_in(dir.path())
        .args(["tasks", "list", "--status", "done"])
        .output()
        .stderr_has("awaiting_approval");
}

#[test]
fn default_database_is_sqlite_in_dot_orch_with_wal() {
    let dir = tempfile::tempdir().unwrap();
    for url in [None, Some("")] {
        let mut cmd = Cmd::orch_in(dir.path());
        if let Some(u) = url {
            cmd = cmd.env("DATABASE_URL", u);
        }
        cmd.args(["tasks", "list"]).success();
    }
    let db = dir.path().join(".orch/orch.db");
    assert!(db.exists());
    let conn = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("PRAGMA journal_mode;")
        .output();
    if let Ok(out) = conn {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "wal");
    }
}

#[test]
fn migrations_are_announced_once() {
    let dir = tempfile::tempdir().unwrap();
    let err = Cmd::orch_in(dir.path())
        .args(["tasks", "list"])
        .output()
        .stderr();
    assert_eq!(err.lines().count(), 1, "{err}");
    let n = migration::known_migrations().len();
    assert!(
        err.contains(&format!("applied {n} pending migrations")),
        "{err}"
    );
    Cmd::orch_in(dir.path())
        .args(["tasks", "list"])
        .output()
        .stderr_is("");
}

#[test]
fn unreachable_postgres_exits_3_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let err = Cmd::orch_in(dir.path())
        .env(
            "DATABASE_URL",
            "postgres://orch:s3cretpassw0rd@127.0.0.1:1/orch",
        )
        .args(["tasks", "list"])
        .code(3)
        .stderr();
    assert!(
        err.starts_with(
            "error: cannot open the database at `postgres://orch:***@127.0.0.1:1/orch`"
        ),
        "{err}"
    );
    assert!(!err.contains("s3cretpassw0rd"));
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn sqlite_path_that_cannot_be_created_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "not a folder").unwrap();
    Cmd::orch_in(dir.path())
        .env("DATABASE_URL", "sqlite://file/orch.db")
        .args(["tasks", "list"])
        .code(3);
}

#[test]
fn unsupported_scheme_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    Cmd::orch_in(dir.path())
        .env("DATABASE_URL", "mysql://root:pw@127.0.0.1/x")
        .args(["tasks", "list"])
        .code(2)
        .stderr_has("unsupported database url");
}

#[tokio::test]
async fn postgres_over_tls_when_the_url_asks_for_it() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let url = if db.url.contains('?') {
        format!("{}&sslmode=require", db.url)
    } else {
        format!("{}?sslmode=require", db.url)
    };
    let out = db
        .orch()
        .env("DATABASE_URL", &url)
        .args(["tasks", "list"])
        .output()
        .stderr_lacks("panicked");
    let plain = db.raw_store().await;
    let ssl_on = query_strings(&plain, "SHOW ssl").await == ["on"];
    if !ssl_on {
        // A server without TLS: asking for it must fail cleanly.
        out.exited(3);
        return;
    }
    out.exited(0);
    let target = orch::config::DatabaseTarget::resolve(Some(&url)).unwrap();
    let tls = orch::store::Store {
        db: orch::store::connect::connect(&target, 1).await.unwrap(),
        target,
        outage: Default::default(),
    };
    let used = query_strings(
        &tls,
        "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .await;
    assert_eq!(used, ["true"], "the connection is encrypted");
}

#[test]
fn completions_and_the_man_page_come_from_the_cli() {
    let run = |args: &[&str]| {
        Cmd::orch_in(&std::env::temp_dir())
            .args(args)
            .success()
            .stdout()
    };
    assert!(run(&["completions", "bash"]).contains("_orch()"));
    assert!(run(&["completions", "zsh"]).starts_with("#compdef orch"));
    let fish = run(&["completions", "fish"]);
    assert!(
        fish.contains("complete -c orch") && fish.contains("resume"),
        "{fish}"
    );
    let man = run(&["man"]);
    assert!(man.contains(".TH orch 1"), "{man}");
    for needle in [
        "orch resume [OPTIONS] <RUN_ID>",
        "orch notify retry [OPTIONS]",
        ".SH \"EXIT STATUS\"",
        "a notification could not be delivered",
    ] {
        assert!(
            man.contains(&needle.replace('-', "\\-")),
            "{needle} in {man}"
        );
    }
    Cmd::orch().args(["completions", "tcsh"]).code(2);
}

/// SQLite's `max_page_count` (the test-only `ORCH_TEST_SQLITE_MAX_PAGES`) fills the database
/// without filling a disk: the write that does not fit exits 3 naming the database, with the
/// hint, and what was recorded before it is kept for `orch resume`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_exits_3_naming_it_with_a_hint() {
    let db = TestDb::sqlite().await;
    let mut yaml = "name: fill\ntasks:\n".to_owned();
    for i in 1..=60 {
        yaml.push_str(&format!(
            "  - task: t{i}\n    shell: \"head -c 20000 /dev/zero | tr '\\\\0' x | fold -w 76\"\n"
        ));
    }
    // Room for the migrated schema and a few tasks' rows: counted from the schema as it
    // is, so a new migration does not make the first write the full one.
    let schema_pages = {
        use sea_orm::{ConnectionTrait, Statement};
        let store = db.store().await;
        let row = store
            .db
            .query_one_raw(Statement::from_string(
                store.db.get_database_backend(),
                "PRAGMA page_count",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    let out = db
        .run(&yaml)
        .env("ORCH_TEST_SQLITE_MAX_PAGES", (schema_pages + 8).to_string())
        .code(3)
        .stderr_has("is full (")
        .stderr_has("free disk space where it lives")
        .stderr_has("orch resume RUN_ID");
    assert!(
        out.stderr().contains(&format!("`{}`", db.target())),
        "names the database: {}",
        out.stderr()
    );
    let rows = db.rows().await;
    let done = rows
        .iter()
        .filter(|r| r.status == TaskStatus::Succeeded)
        .count();
    assert!(
        done > 0 && done < 60,
        "some recorded before the full write: {done}"
    );
    // With room again, the run goes on where it stopped.
    db.orch().args(["resume", &rows[0].run_id]).success();
    let after = db.rows().await;
    let done_after = after
        .iter()
        .filter(|r| r.status == TaskStatus::Succeeded)
        .count();
    assert!(done_after >= 59, "resumed: {done_after}");
}
