//! Exit codes, usage errors, database selection and its failure modes.

use crate::support::{Backend, TestDb, orch_bin, query_strings, stderr};
use assert_cmd::Command;

fn orch_in(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(orch_bin());
    cmd.current_dir(dir).env_remove("DATABASE_URL");
    cmd
}

#[test]
fn help_documents_the_exit_codes() {
    let out = Command::new(orch_bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
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
        let out = orch_in(dir.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    let out = orch_in(dir.path())
        .args(["tasks", "list", "--status", "done"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("awaiting_approval"),
        "lists valid statuses: {}",
        stderr(&out)
    );
}

#[test]
fn default_database_is_sqlite_in_dot_orch_with_wal() {
    let dir = tempfile::tempdir().unwrap();
    for url in [None, Some("")] {
        let mut cmd = orch_in(dir.path());
        if let Some(u) = url {
            cmd.env("DATABASE_URL", u);
        }
        let out = cmd.args(["tasks", "list"]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
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
    let first = orch_in(dir.path())
        .args(["tasks", "list"])
        .output()
        .unwrap();
    let err = stderr(&first);
    assert_eq!(err.lines().count(), 1, "{err}");
    let n = migration::known_migrations().len();
    assert!(
        err.contains(&format!("applied {n} pending migrations")),
        "{err}"
    );
    let second = orch_in(dir.path())
        .args(["tasks", "list"])
        .output()
        .unwrap();
    assert_eq!(stderr(&second), "");
}

#[test]
fn unreachable_postgres_exits_3_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = orch_in(dir.path())
        .env(
            "DATABASE_URL",
            "postgres://orch:s3cretpassw0rd@127.0.0.1:1/orch",
        )
        .args(["tasks", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
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
    let out = orch_in(dir.path())
        .env("DATABASE_URL", "sqlite://file/orch.db")
        .args(["tasks", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn unsupported_scheme_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = orch_in(dir.path())
        .env("DATABASE_URL", "mysql://root:pw@127.0.0.1/x")
        .args(["tasks", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unsupported database url"));
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
        .unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    let plain = db.raw_store().await;
    let ssl_on = query_strings(&plain, "SHOW ssl").await == ["on"];
    if !ssl_on {
        // A server without TLS: asking for it must fail cleanly.
        assert_eq!(out.status.code(), Some(3), "{err}");
        return;
    }
    assert!(out.status.success(), "{err}");
    let target = orch::config::DatabaseTarget::resolve(Some(&url)).unwrap();
    let tls = orch::store::Store {
        db: orch::store::connect::connect(&target, 1).await.unwrap(),
        target,
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
        let out = assert_cmd::Command::new(crate::support::orch_bin())
            .args(args)
            .env_remove("DATABASE_URL")
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
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
    let bad = assert_cmd::Command::new(crate::support::orch_bin())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
