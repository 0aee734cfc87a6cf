//! `orch run` as a GitHub Actions step: the job summary, failure annotations, and `--json`.

use rstest::rstest;

use crate::support::{Backend, TestDb};

const PLAN: &str = r#"
name: gh
tasks:
  - task: ok
    shell: "echo 'see https://github.com/acme/site/pull/3'"
  - task: boom
    shell: "echo 'oops: 100%'; exit 3"
  - task: gate
    shell: "echo ready"
    approval: always
"#;

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_get_a_summary_and_annotations(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let summary = db.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let plan = db.plan(PLAN);
    let out = db
        .orch()
        .args(["run", plan])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .code(1);
    let rows = db.rows().await;
    let (boom, gate) = (&rows[1], &rows[2]);
    out.stdout_has(&format!(
        "::error title=orch%3A boom::task boom (id {}) failed: exit status 3\n",
        boom.id
    ));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step\n## orch run `gh-"),
        "appended: {md}"
    );
    assert!(
        md.contains("3 task(s): 1 succeeded, 1 failed, 1 awaiting_approval"),
        "{md}"
    );
    assert!(
        md.contains("| `ok` | ✅ succeeded |")
            && md.contains(
                "[https://github.com/acme/site/pull/3](https://github.com/acme/site/pull/3)"
            ),
        "{md}"
    );
    assert!(
        md.contains(&format!("orch approve {} --resume   # gate", gate.id)),
        "{md}"
    );

    // Outside Actions: neither.
    db.orch()
        .args(["run", plan])
        .output()
        .stdout_lacks("::error");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_json_prints_the_summary(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let plan = db.plan(PLAN);
    // Annotations move to stderr so stdout stays one JSON document.
    let v = db
        .orch()
        .args(["run", plan, "--json"])
        .env("GITHUB_ACTIONS", "true")
        .code(1)
        .stderr_has("::error title=orch%3A boom::")
        .stdout_json();
    assert!(v["run_id"].as_str().unwrap().starts_with("gh-"));
    assert_eq!(v["counts"]["failed"], 1);
    assert_eq!(v["counts"]["awaiting_approval"], 1);
    assert_eq!(v["tasks"].as_array().unwrap().len(), 3);
    assert_eq!(v["tasks"][1]["log_excerpt"], "oops: 100%\nexit status 3");
    let gate_id = v["tasks"][2]["id"].as_i64().unwrap();
    assert_eq!(
        v["awaiting_approval"][0]["approve"],
        format!("orch approve {gate_id} --resume")
    );
    assert_eq!(v["cancelled_by_signal"], serde_json::Value::Null);

    // `approve --resume --json`: one document, the resumed run.
    let v = db
        .orch()
        .args(["approve", &gate_id.to_string(), "--resume", "--json"])
        .output()
        .stdout_json();
    assert_eq!(v["tasks"][2]["status"], "succeeded");
}

/// Issue: a result line's `outputs_uri` with a line break and an escape put
/// `::error::injected` at the start of a line a runner reads, and a raw ESC on stdout.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_outputs_uri_reaches_no_runner_and_no_terminal(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let summary = db.path().join("summary.md");
    let plan = db.plan(
        r#"
name: hostile
tasks:
  - task: t
    shell: |
      printf '%s\n' '{"outputs_uri": "https://x/ok\n::error::injected-command\n\u001b[31mRED"}'
"#,
    );
    let out = db
        .orch()
        .args(["run", plan])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .success();
    for (name, text) in [("stdout", out.stdout()), ("stderr", out.stderr())] {
        assert!(
            !text.lines().any(|l| l.starts_with("::error::injected")),
            "{name}: {text}"
        );
        assert!(!text.contains('\u{1b}'), "{name}: {text:?}");
    }
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        !md.contains('\u{1b}') && !md.contains("\n::error::"),
        "{md:?}"
    );
    // Whatever the row keeps is one line of plain text.
    let uri = db.rows().await[0].outputs_uri.clone().unwrap_or_default();
    assert!(!uri.chars().any(char::is_control), "{uri:?}");
}
