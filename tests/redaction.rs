//! Secrets never reach a log file, an excerpt, a row or the terminal, even split across two
//! reads; and memory stays bounded however much a task prints.

use orch::store::TaskStatus;
use orch::store::query::get_task;
use rstest::rstest;

use crate::support::http::{Served, http_client};
use crate::support::{Backend, TestDb, seed_task};

const SECRET: &str = "ghp_s3cr3tValue1234567890";
const LISTED: &str = "plain-but-listed-value";

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_masked_everywhere(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let yaml = r#"
name: leaky
secrets: [SITE_PASS]
tasks:
  - task: leak
    shell: |
      echo "token is $GITHUB_TOKEN"
      echo "stderr $GITHUB_TOKEN" >&2
      printf 'split ghp_s3cr3t'; sleep 0.3; printf 'Value1234567890 done\n'
      echo "listed $SITE_PASS and short $SHORT_TOKEN"
      echo "db $DATABASE_URL"
      echo "https://example.com/pull/1?token=$GITHUB_TOKEN"
    inputs: {note: "uses ghp_s3cr3tValue1234567890"}
"#;
    let mut url = db.url.clone();
    let mut db_password = None;
    if db.backend == Backend::Postgres {
        // Trust auth ignores the password, so the test can use one that must not leak.
        url = url.replacen(
            "postgres://postgres@",
            "postgres://postgres:dbpassw0rd99@",
            1,
        );
        db_password = Some("dbpassw0rd99");
    }
    let out = db
        .orch()
        .env("DATABASE_URL", &url)
        .env("GITHUB_TOKEN", SECRET)
        .env("SITE_PASS", LISTED)
        .env("SHORT_TOKEN", "abc12")
        .args(["run"])
        .arg(db.plan(yaml))
        .success();

    let rows = db.rows().await;
    let row = &rows[0];
    let excerpt = row.log_excerpt.clone().unwrap();
    let log = String::from_utf8(db.read(&format!(".orch/logs/{}/leak.log", row.run_id))).unwrap();
    let places = [
        ("excerpt", excerpt.clone()),
        ("log", log.clone()),
        ("stdout", out.stdout()),
        ("stderr", out.stderr()),
        ("inputs", row.inputs.as_ref().unwrap().to_string()),
        ("outputs_uri", row.outputs_uri.clone().unwrap_or_default()),
    ];
    for (place, text) in &places {
        assert!(!text.contains(SECRET), "{place} leaks the token: {text}");
        assert!(
            !text.contains(LISTED),
            "{place} leaks a listed secret: {text}"
        );
        if let Some(pw) = db_password {
            assert!(
                !text.contains(pw),
                "{place} leaks the database password: {text}"
            );
        }
    }
    assert!(excerpt.contains("token is ***"), "{excerpt}");
    assert!(excerpt.contains("stderr ***"), "{excerpt}");
    assert!(
        excerpt.contains("split *** done"),
        "split across two reads: {excerpt}"
    );
    assert!(
        excerpt.contains("listed *** and short abc12"),
        "short values stay: {excerpt}"
    );
    assert_eq!(
        row.outputs_uri.as_deref(),
        Some("https://example.com/pull/1?token=***")
    );
    assert_eq!(row.inputs, Some(serde_json::json!({"note": "uses ***"})));
}

/// Peak resident memory of a running process, from /proc (kB).
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_while_a_task_writes_a_lot() {
    let db = TestDb::sqlite().await;
    // 128 MB with no newline at all (the worst case for line assembly), then 128 MB of lines.
    let plan = db.plan(
        "name: big\ntasks:\n  - task: one.line\n    shell: \"head -c 134217728 /dev/zero | tr '\\\\000' x\"\n  - task: lines\n    shell: \"yes 'a line of output' | head -c 134217728\"\n",
    );
    let mut child = db.orch().args(["run", plan]).spawn();
    let pid = child.pid();
    let mut peak = 0;
    while child.is_running() {
        if let Some(kb) = peak_rss_kb(pid) {
            peak = peak.max(kb);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.wait().exited(0);
    assert!(peak > 0, "never sampled");
    assert!(peak < 64 * 1024, "peak RSS {peak} kB while writing 256 MB");
    let rows = db.rows().await;
    assert!(
        rows.iter()
            .all(|r| r.status == orch::store::TaskStatus::Succeeded)
    );
    let log = db
        .path()
        .join(format!(".orch/logs/{}/one.line.log", rows[0].run_id));
    assert_eq!(std::fs::metadata(log).unwrap().len(), 134_217_728);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_and_multi_line_secrets_stay_out_of_records(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let yaml = "name: pem\nenv:\n  API_TOKEN: inline-token-value-42\n  DEPLOY_KEY: |\n    -----BEGIN KEY-----\n    MIIBOgIBAAJBAKj34GkxFhD\n    -----END KEY-----\ntasks:\n  - task: t\n    shell: \"echo $API_TOKEN; echo \\\"$DEPLOY_KEY\\\"; echo after\"\n";
    db.run(yaml).success();
    let rows = db.rows().await;
    let log = String::from_utf8(db.read(&format!(".orch/logs/{}/t.log", rows[0].run_id))).unwrap();
    let store = db.store().await;
    let run = orch::store::query::get_run(&store.db, &rows[0].run_id)
        .await
        .unwrap();
    let plan_text = run.record.unwrap().plan_text;
    for (place, text) in [
        ("log", &log),
        ("excerpt", rows[0].log_excerpt.as_ref().unwrap()),
        ("plan_text", &plan_text),
    ] {
        assert!(!text.contains("inline-token-value-42"), "{place}: {text}");
        assert!(!text.contains("MIIBOgIBAAJBAKj34GkxFhD"), "{place}: {text}");
    }
    // The whole key is one match (its lines arrive together); a blank line follows
    // because the YAML block ends with a newline and `echo` adds one.
    assert_eq!(log, "***\n***\n\nafter\n");
}

/// Issue: a secret pasted into an approval note was stored raw (and returned by the API and
/// `--json`), though the Slack payload masked it.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_a_decision_note_is_masked_before_it_is_stored(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let by_cli = seed_task(&store, "a", "r", TaskStatus::AwaitingApproval, None).await;
    let by_api = seed_task(&store, "b", "r", TaskStatus::AwaitingApproval, None).await;
    let note = format!("token is {SECRET}, fine");
    db.orch()
        .env("GITHUB_TOKEN", SECRET)
        .args(["approve", &by_cli.id.to_string(), "--note", &note])
        .success();
    let server = Served::start(db.orch().env("GITHUB_TOKEN", SECRET));
    let answer = http_client()
        .post(server.url(&format!("/agents/tasks/{}/reject", by_api.id)))
        .json(&serde_json::json!({"by": "bob", "note": note}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let body = answer.text().await.unwrap();
    assert!(!body.contains(SECRET), "{body}");
    for id in [by_cli.id, by_api.id] {
        let row = get_task(&store.db, id).await.unwrap();
        assert_eq!(row.approval_note.as_deref(), Some("token is ***, fine"));
    }
}
