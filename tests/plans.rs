//! Plan errors name the file, line and column and what would be right; `orch plan
//! validate` and `orch run --dry-run` check without running or touching the database.

use crate::support::Cmd;

/// Validates `yaml` in a fresh folder; returns (exit code, stderr, stdout).
fn validate(yaml: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), yaml).unwrap();
    let out = Cmd::orch_in(dir.path())
        .args(["plan", "validate", "plan.yaml"])
        .args(extra)
        .output();
    assert!(
        !dir.path().join(".orch").exists(),
        "validate touched the database"
    );
    (out.code(), out.stderr(), out.stdout())
}

fn assert_error(yaml: &str, expected: &str) {
    let (code, err, _) = validate(yaml, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(expected), "expected `{expected}` in:\n{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn malformed_yaml_is_located() {
    assert_error("name: [x\ntasks: []\n", "plan.yaml:1:7:");
    assert_error(
        "name: x\ntasks:\n  - task: a\n   run: [true]\n",
        "plan.yaml:4:",
    );
}

#[test]
fn unknown_keys_are_located_and_the_right_ones_listed() {
    assert_error(
        "name: x\ntasks:\n  - task: a\n    rn: [ls]\n",
        "plan.yaml:4:5: unknown field `rn`, expected one of",
    );
    assert_error(
        "name: x\nnotifications: {}\ntasks: []\n",
        "plan.yaml:2:1: unknown field `notifications`",
    );
}

#[test]
fn yaml_errors_are_one_clean_line() {
    let (code, err, _) = validate("name: x\ntasks:\n  - task: a\n    rn: [ls]\n", &[]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err.trim_end(),
        "error: plan.yaml:4:5: unknown field `rn`, expected one of task, run, shell, env, cwd, \
         inputs, approval, outputs_uri, depends_on, when, retries, retry_backoff, timeout, kill_grace, \
         approval_timeout, runs_on, on_lost"
    );
    assert_error(
        "name: x\nname: y\ntasks: []\n",
        "plan.yaml:2:1: `name` appears twice in the same mapping: keep one",
    );
}

#[test]
fn duplicate_task_names_point_at_the_second() {
    assert_error(
        "name: x\ntasks:\n  - task: a\n    run: [ls]\n  - task: a\n    run: [ls]\n",
        "plan.yaml:5:11: task `a` is defined twice (first at line 3)",
    );
}

#[test]
fn run_and_shell_are_exclusive_and_one_is_required() {
    assert_error(
        "name: x\ntasks:\n  - task: a\n    run: [ls]\n    shell: ls\n",
        "plan.yaml:4:10: task `a` has both `run` and `shell`",
    );
    assert_error(
        "name: x\ntasks:\n  - task: a\n    inputs: {}\n",
        "plan.yaml:3:5: task `a` has neither `run` nor `shell`",
    );
    assert_error(
        "name: x\ntasks:\n  - task: a\n    run: []\n",
        "plan.yaml:4:10: task `a`: `run` needs a program",
    );
}

/// Issue: a second document got the YAML library's advice to programmers.
#[test]
fn a_file_of_several_documents_is_told_so_in_our_words() {
    assert_error(
        "name: p\ntasks:\n  - task: a\n    run: [ls]\n---\nname: q\ntasks: []\n",
        "plan.yaml:6:1: a plan is one YAML document, and this file holds several: remove the `---`",
    );
}

#[test]
fn bad_regexes_names_and_values_are_located() {
    assert_error(
        "name: x\ntasks:\n  - task: a\n    run: [ls]\n    outputs_uri: \"(unclosed\"\n",
        "plan.yaml:5:18: task `a`: `outputs_uri` is not a valid regex",
    );
    assert_error(
        "name: x\ntasks:\n  - task: a/b\n    run: [ls]\n",
        "plan.yaml:3:11: task name `a/b` must be letters, digits, `.`, `_` and `-`, and not `.` or `..`",
    );
    assert_error(
        "name: bad name\ntasks: []\n",
        "plan.yaml:1:7: plan name `bad name`",
    );
    assert_error(
        "name: x\ntasks:\n  - task: a\n    run: [ls]\n    approval: sometimes\n",
        "plan.yaml:5:15: `approval: sometimes` is unknown: use `never`, `always`, `on_output_uri`, \
         or a mapping of `when`, `remind` and `escalate`",
    );
    assert_error(
        "name: x\nrun_id: \"{name}-{week}\"\ntasks:\n  - task: a\n    run: [ls]\n",
        "plan.yaml:2:9: `run_id: {name}-{week}` has an unknown placeholder",
    );
    assert_error(
        "name: x\nenv:\n  A: ${B\ntasks:\n  - task: a\n    run: [ls]\n",
        "plan.yaml:3:6: `${` without a closing `}`",
    );
}

#[test]
fn every_issue_is_reported_at_once() {
    let (code, err, _) = validate(
        "name: x\ntasks:\n  - task: a\n    run: [ls]\n  - task: a\n    shell: ls\n    run: [ls]\n",
        &[],
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("error: plan.yaml:"))
            .count(),
        2,
        "{err}"
    );
}

#[test]
fn unset_variables_warn_unless_strict() {
    let yaml = "name: x\ntasks:\n  - task: a\n    run: [ls]\n    env:\n      X: ${ORCH_TEST_NOT_SET_ANYWHERE}\n";
    let (code, err, out) = validate(yaml, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(
            "warning: plan.yaml:6:10: environment variable `ORCH_TEST_NOT_SET_ANYWHERE` is not set"
        ),
        "{err}"
    );
    assert!(out.contains("plan `x` in plan.yaml is valid: 1 task(s): a"));
    let (code, err, _) = validate(yaml, &["--strict-env"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("plan.yaml:6:10:"), "{err}");
}

#[test]
fn the_nightly_plan_is_valid() {
    Cmd::orch()
        .args([
            "plan",
            "validate",
            concat!(env!("CARGO_MANIFEST_DIR"), "/plans/nightly.yaml"),
        ])
        .success()
        .stdout_has("3 task(s): seo.validate, code.review, dx.integrate");
}

#[test]
fn a_missing_plan_file_exits_2() {
    let (code, _, _) = validate("name: x\ntasks: []\n", &[]);
    assert_eq!(code, Some(2), "an empty task list is an error too");
    Cmd::orch()
        .args(["run", "/no/such/plan.yaml"])
        .code(2)
        .stderr_has("cannot read plan `/no/such/plan.yaml`");
}

#[test]
fn dry_run_shows_what_would_run_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.yaml"),
        "name: dry\nenv:\n  API_TOKEN: ${ORCH_TEST_TOKEN}\n  MODE: fast\ntasks:\n  - task: a\n    run: [echo, hi]\n    cwd: /tmp\n",
    )
    .unwrap();
    let text = Cmd::orch_in(dir.path())
        .env("ORCH_TEST_TOKEN", "tok-abcdef-123456")
        .args(["run", "plan.yaml", "--dry-run"])
        .success()
        .stdout();
    assert!(text.contains(r#"argv: ["echo","hi"]"#), "{text}");
    assert!(text.contains("cwd: /tmp"), "{text}");
    assert!(text.contains("env: API_TOKEN=***"), "{text}");
    assert!(text.contains("env: MODE=fast"), "{text}");
    assert!(!text.contains("tok-abcdef-123456"));
    assert!(
        !dir.path().join(".orch").exists(),
        "a dry run wrote something"
    );
}

#[test]
fn dependency_errors_are_located() {
    assert_error(
        "name: x\ntasks:\n  - task: a\n    run: [ls]\n    depends_on: [b]\n  - task: b\n    run: [ls]\n    depends_on: [a]\n",
        "plan.yaml:5:18: dependency cycle: a -> b -> a",
    );
    assert_error(
        "name: x\ntasks:\n  - task: a\n    run: [ls]\n    depends_on: [nope]\n",
        "plan.yaml:5:18: task `a` depends on `nope`, which the plan does not have",
    );
    assert_error(
        "name: x\ntasks:\n  - task: a\n    run: [ls]\n    depends_on:\n      - a\n",
        "plan.yaml:6:9: task `a` depends on itself",
    );
    assert_error(
        "name: x\ntasks:\n  - task: a\n    run: [ls]\n    timeout: soon\n",
        "plan.yaml:5:14: `timeout: soon` is not a duration",
    );
    assert_error(
        "name: x\ntasks:\n  - task: a\n    run: [ls]\n    when: sometimes\n",
        "plan.yaml:5:11: unknown variant `sometimes`, expected one of success, always, failure",
    );
    assert_error(
        "name: x\nconcurrency: 0\ntasks:\n  - task: a\n    run: [ls]\n",
        "plan.yaml:2:14: `concurrency` must be at least 1",
    );
}

/// `docs/plan.schema.json` is exactly what `orch plan schema` prints (regenerate it with
/// `cargo run -- plan schema > docs/plan.schema.json`).
#[test]
fn the_committed_schema_is_the_generated_one() {
    let out = Cmd::orch().args(["plan", "schema"]).success();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/plan.schema.json"
    ))
    .unwrap();
    assert!(
        out.stdout() == committed,
        "docs/plan.schema.json is stale: run `cargo run -- plan schema > docs/plan.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let task = &schema["definitions"]["Task"]["properties"];
    for key in [
        "task",
        "run",
        "shell",
        "approval",
        "approval_timeout",
        "depends_on",
    ] {
        assert!(task.get(key).is_some(), "{key}");
    }
    assert_eq!(schema["definitions"]["Task"]["additionalProperties"], false);
    assert!(
        schema["definitions"]["Duration"]["pattern"]
            .as_str()
            .unwrap()
            .contains("ms")
    );
}

/// Every plan we ship validates, and points editors at the schema.
#[test]
fn every_plan_in_plans_is_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut plans = Vec::new();
    for dir in ["plans", "plans/examples"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                plans.push(path);
            }
        }
    }
    assert!(plans.len() >= 4, "{plans:?}");
    for plan in plans {
        let text = std::fs::read_to_string(&plan).unwrap();
        let depth = plan.strip_prefix(root).unwrap().components().count() - 1;
        let expected = format!(
            "# yaml-language-server: $schema={}docs/plan.schema.json\n",
            "../".repeat(depth)
        );
        assert!(text.starts_with(&expected), "{}", plan.display());
        Cmd::orch_in(root)
            .args(["plan", "validate"])
            .arg(&plan)
            .success();
    }
}

/// Issue: a 50 MB plan ran at 637 MB of memory and stored 150 MB per run.
#[test]
fn a_plan_too_large_to_read_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("huge.yaml")).unwrap();
    file.set_len(9 * 1024 * 1024).unwrap();
    Cmd::orch_in(dir.path())
        .args(["plan", "validate", "huge.yaml"])
        .code(2)
        .stderr_has("plan `huge.yaml` is 9437184 bytes, more than the 8388608 orch reads");
}

/// The object form of `approval`: reminders and escalation, each mistake at its place; the
/// short form stays valid beside it.
#[test]
fn approval_objects_are_checked_at_their_place() {
    let plan = |approval: &str| {
        format!(
            "name: x\nnotify:\n  oncall:\n    url: ${{ONCALL_URL}}\ntasks:\n  - task: a\n    \
             shell: \"true\"\n    approval_timeout: 5h\n    approval: {approval}\n  - task: b\n    \
             shell: \"true\"\n    approval: on_output_uri\n"
        )
    };
    let (code, err, _) = validate(
        &plan("{when: on_output_uri, remind: [1h, 4h], escalate: {after: 2h, notify: [oncall]}}"),
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_error(
        &plan("{remind: [1h], links: 24h}"),
        "plan.yaml:9:37: task `a`: `links` sends each approver links of their own, so it needs `approvers` to say who they are: list them, or remove `links`",
    );
    assert_error(
        &plan("{approvers: [al], links: soon}"),
        "plan.yaml:9:40: `links: soon` is not a duration",
    );
    assert_error(
        &plan("{approvers: [al], links: 500ms}"),
        "plan.yaml:9:40: task `a`: `links: 500ms` is out of range: links stay valid from 1m to 90d",
    );
    assert_error(
        &plan("{approvers: [al], links: 1000years}"),
        "`links: 1000years` is out of range",
    );
    assert_error(
        &plan("{remind: [1h], lnks: 24h}"),
        "plan.yaml:9:30: unknown field `lnks`, expected one of when, remind, escalate, approvers, required, forbid_self, reject, links",
    );
    assert_error(
        &plan("{remind: [1h, 30m]}"),
        "plan.yaml:9:29: task `a`: reminder `30m` comes after `1h` in `remind` but is not later",
    );
    assert_error(
        &plan("{remind: [1h, soon]}"),
        "plan.yaml:9:29: `remind: soon` is not a duration",
    );
    assert_error(
        &plan("{remind: [1h, 5h]}"),
        "plan.yaml:9:24: task `a`: reminder `5h` is not before `approval_timeout: 5h`",
    );
    assert_error(
        &plan("{escalate: {after: 6h, notify: [oncall]}}"),
        "plan.yaml:9:34: task `a`: `escalate.after: 6h` is not before `approval_timeout: 5h`",
    );
    assert_error(
        &plan("{escalate: {after: 1h, notify: [pager]}}"),
        "plan.yaml:9:47: task `a`: `escalate.notify` names `pager`, which the plan's `notify` \
         block does not have",
    );
    assert_error(
        &plan("{escalate: {after: 1h}}"),
        "plan.yaml:9:27: missing field `notify`",
    );
    assert_error(
        &plan("{when: never, remind: [1h]}"),
        "plan.yaml:9:22: task `a`: `when: never` means the task never waits",
    );
    assert_error(
        &plan("{remind: []}"),
        "plan.yaml:9:24: task `a`: `remind` is empty",
    );
}
