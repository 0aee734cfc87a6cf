//! `orch run`: every task recorded with every column, excerpts, result lines, process
//! hygiene, run ids and exit codes, on both databases with real child processes.

use orch::store::query::get_run;
use orch::store::{ApprovalState, TaskStatus};

use nix::sys::signal::Signal;
use rstest::rstest;

use crate::support::{Backend, TestDb, assert_pid_in_file_gone, wait_for_status};

const THREE: &str = r#"
name: mixed
tasks:
  - task: ok.task
    shell: "echo hello; echo 'opened https://github.com/acme/site/pull/42'; sleep 0.3; echo done >&2"
    inputs: {flags: ["--strict"], n: 3}
  - task: bad.task
    run: [sh, -c, "echo about to fail; exit 3"]
  - task: gate.task
    shell: "echo report ready at https://example.com/report/7"
    approval: on_output_uri
"#;

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_records_every_column(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    // A failed task makes the run exit 1.
    let out = db.run(THREE).code(1);
    let rows = db.rows().await;
    assert_eq!(rows.len(), 3);
    let run_id = &rows[0].run_id;
    assert!(run_id.starts_with("mixed-20"), "{run_id}");
    assert!(rows.iter().all(|r| &r.run_id == run_id));

    let ok = &rows[0];
    assert_eq!(ok.task, "ok.task");
    assert_eq!(ok.status, TaskStatus::Succeeded);
    assert!(ok.started_at.is_some() && ok.finished_at >= ok.started_at);
    assert!(ok.duration_ms.unwrap() >= 0);
    assert_eq!(
        ok.inputs,
        Some(serde_json::json!({"flags": ["--strict"], "n": 3}))
    );
    assert_eq!(
        ok.outputs_uri.as_deref(),
        Some("https://github.com/acme/site/pull/42")
    );
    assert_eq!(
        ok.log_excerpt.as_deref(),
        Some("hello\nopened https://github.com/acme/site/pull/42\ndone")
    );
    assert_eq!(ok.approval_state, None);
    assert_eq!(
        (
            ok.approver.as_ref(),
            ok.approval_note.as_ref(),
            ok.decided_at
        ),
        (None, None, None)
    );

    let bad = &rows[1];
    assert_eq!(bad.status, TaskStatus::Failed);
    assert_eq!(
        bad.log_excerpt.as_deref(),
        Some("about to fail\nexit status 3")
    );
    assert_eq!(bad.outputs_uri, None);

    let gate = &rows[2];
    assert_eq!(gate.status, TaskStatus::AwaitingApproval);
    assert_eq!(gate.approval_state, Some(ApprovalState::Pending));
    assert_eq!(
        gate.outputs_uri.as_deref(),
        Some("https://example.com/report/7")
    );

    out.stdout_has(&format!("orch approve {}", gate.id))
        .stdout_has("1 succeeded, 1 failed, 1 awaiting_approval");

    let store = db.store().await;
    let run = get_run(&store.db, run_id).await.unwrap();
    let rec = run.record.unwrap();
    assert_eq!(rec.plan_name, "mixed");
    assert_eq!(rec.plan_text, THREE);
    assert_eq!(rec.plan_sha256.len(), 64);
    assert_eq!(rec.trigger, "manual");
    assert_eq!(rec.orch_version, env!("CARGO_PKG_VERSION"));
    assert!(!rec.host.is_empty());
    assert!(rec.finished_at.is_some());

    let log = String::from_utf8(db.read(&format!(".orch/logs/{run_id}/ok.task.log"))).unwrap();
    assert!(log.contains("hello\n") && log.contains("done\n"), "{log}");

    // The gate can be decided, once.
    let id = gate.id.to_string();
    db.orch().args(["approve", &id]).success();
    db.orch()
        .args(["approve", &id])
        .code(5)
        .stderr_has("already approved by `tester`");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_approval_is_not_a_failure(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run("name: gate\ntasks:\n  - task: g\n    run: [\"true\"]\n    approval: always\n")
        .args(["--run-id", "gate-1"])
        .success()
        .stdout_has("1 task(s) await approval");
    let rows = db.rows().await;
    assert_eq!(rows[0].run_id, "gate-1");
    assert_eq!(rows[0].status, TaskStatus::AwaitingApproval);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_their_reason(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(
        r#"
name: reasons
tasks:
  - task: missing
    run: [no-such-program-xyz, --flag]
  - task: signalled
    shell: "echo before; kill -9 $$"
  - task: nocwd
    run: ["true"]
    cwd: /no/such/dir
"#,
    )
    .code(1);
    let rows = db.rows().await;
    let excerpt = |i: usize| rows[i].log_excerpt.clone().unwrap();
    assert_eq!(excerpt(0), "program not found: no-such-program-xyz");
    assert_eq!(excerpt(1), "before\nkilled by signal 9");
    assert_eq!(excerpt(2), "working directory not found: /no/such/dir");
    assert!(
        rows.iter()
            .all(|r| r.status == TaskStatus::Failed && r.finished_at.is_some())
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excerpts_survive_any_output(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(
        r#"
name: outputs
tasks:
  - task: many
    shell: "i=1; while [ $i -le 1000 ]; do echo line $i; i=$((i+1)); done"
  - task: binary
    shell: "printf 'ok\\000\\377\\376 bytes\\n'"
  - task: empty
    run: ["true"]
  - task: huge.line
    shell: "head -c 3000000 /dev/zero | tr '\\000' x"
  - task: long.lines
    shell: "i=0; while [ $i -lt 30 ]; do head -c 5000 /dev/zero | tr '\\000' y; echo; i=$((i+1)); done"
"#,
    )
    .success();
    let rows = db.rows().await;
    let excerpt = |i: usize| rows[i].log_excerpt.clone().unwrap();

    let many = excerpt(0);
    let lines: Vec<&str> = many.lines().collect();
    assert_eq!(lines.len(), 21, "{many}");
    assert_eq!(lines[0], "line 1");
    assert_eq!(lines[10], "… 980 lines elided …");
    assert_eq!(lines[20], "line 1000");

    assert_eq!(excerpt(1), "ok\u{FFFD}\u{FFFD}\u{FFFD} bytes");
    assert_eq!(excerpt(2), "");

    let huge = excerpt(3);
    assert!(huge.len() <= 8 * 1024);
    assert!(huge.starts_with(&"x".repeat(1024)), "{}", &huge[..50]);
    assert!(huge.ends_with("…[+2998976 bytes]"), "{huge:?}");
    let log = db.read(&format!(".orch/logs/{}/huge.line.log", rows[3].run_id));
    assert_eq!(log.len(), 3_000_000, "the log keeps every byte");

    let long = excerpt(4);
    assert!(long.len() <= 8 * 1024, "{}", long.len());
    assert!(long.contains("…[+"), "{long}");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_line_states_the_outcome(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(
        r#"
name: results
tasks:
  - task: says.uri
    shell: "echo see https://github.com/o/r/pull/1; echo '{\"outputs_uri\": \"s3://bucket/report.html\"}'"
  - task: says.gate
    shell: "echo '{\"status\": \"awaiting_approval\"}'"
  - task: says.skip
    shell: "echo '{\"status\": \"skipped\"}'"
  - task: says.fail
    shell: "echo '{\"status\": \"failed\"}'"
  - task: cannot.rescue
    shell: "echo '{\"status\": \"succeeded\"}'; exit 2"
  - task: cannot.lift
    shell: "echo '{\"status\": \"succeeded\"}'"
    approval: always
  - task: not.last
    shell: "echo '{\"status\": \"failed\"}'; echo all good"
"#,
    )
    .code(1);
    let rows = db.rows().await;
    let statuses: Vec<TaskStatus> = rows.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            TaskStatus::Succeeded,
            TaskStatus::AwaitingApproval,
            TaskStatus::Skipped,
            TaskStatus::Failed,
            TaskStatus::Failed,
            TaskStatus::AwaitingApproval,
            TaskStatus::Succeeded,
        ]
    );
    assert_eq!(
        rows[0].outputs_uri.as_deref(),
        Some("s3://bucket/report.html"),
        "the result line wins"
    );
    assert!(
        rows[4]
            .log_excerpt
            .as_deref()
            .unwrap()
            .ends_with("exit status 2")
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backgrounded_grandchild_cannot_hang_the_run(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let marker = db.path().join("grandchild.pid");
    let yaml = format!(
        "name: bg\ntasks:\n  - task: bg\n    shell: \"sleep 300 & echo $! > {}; echo started\"\n",
        marker.display()
    );
    let started = std::time::Instant::now();
    db.run(&yaml).success();
    // Generous: the point is that it does not wait for the 300 s sleep.
    assert!(started.elapsed().as_secs() < 60);
    let rows = db.rows().await;
    assert_eq!(rows[0].status, TaskStatus::Succeeded);
    assert_eq!(rows[0].log_excerpt.as_deref(), Some("started"));
    assert_pid_in_file_gone(&marker, "the grandchild", "the run");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_ids_do_not_collide(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let yaml = "name: twice\ntasks:\n  - task: t\n    run: [\"true\"]\n";
    db.run(yaml).success();
    db.run(yaml).success();
    let rows = db.rows().await;
    let base = rows[0].run_id.clone();
    assert_eq!(rows[1].run_id, format!("{base}.2"));

    db.run(yaml)
        .args(["--run-id", &base])
        .code(2)
        .stderr_has(&format!("run `{base}` already exists"));
    db.run(yaml).args(["--run-id", "no/slashes"]).code(2);
    assert_eq!(db.rows().await.len(), 2, "refused runs record nothing");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_runs_the_named_tasks(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let yaml = "name: some\ntasks:\n  - task: a\n    run: [\"true\"]\n  - task: b\n    run: [\"true\"]\n  - task: c\n    run: [\"true\"]\n";
    db.run(yaml).args(["--only", "c,a"]).success();
    let names: Vec<String> = db.rows().await.into_iter().map(|r| r.task).collect();
    assert_eq!(names, ["a", "c"], "plan order");
    db.run(yaml)
        .args(["--only", "zzz"])
        .code(2)
        .stderr_has("the plan has no task `zzz`");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_variable_stops_the_run_before_it_starts(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let yaml = "name: vars\nenv:\n  TARGET: ${ORCH_TEST_SURELY_UNSET}\ntasks:\n  - task: t\n    run: [\"true\"]\n";
    db.run(yaml)
        .code(2)
        .stderr_has("plan.yaml:3:11: environment variable `ORCH_TEST_SURELY_UNSET` is not set");
    assert!(db.rows().await.is_empty());
    db.orch()
        .env("ORCH_TEST_SURELY_UNSET", "x")
        .args(["run", "plan.yaml"])
        .success();
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_reaches_the_task_expanded(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let yaml = r#"
name: env
env:
  BASE: ${ORCH_TEST_BASE:-/srv}
  DEEP: ${BASE}/deep
tasks:
  - task: t
    shell: "echo $DEEP $OWN $(pwd)"
    cwd: ${ORCH_TEST_CWD}
    env:
      OWN: ${DEEP}/own
"#;
    let cwd = db.path().join("work");
    std::fs::create_dir(&cwd).unwrap();
    db.orch()
        .env("ORCH_TEST_CWD", &cwd)
        .args(["run"])
        .arg(db.plan(yaml))
        .success();
    let rows = db.rows().await;
    let canonical = cwd.canonicalize().unwrap();
    assert_eq!(
        rows[0].log_excerpt.as_deref(),
        Some(format!("/srv/deep /srv/deep/own {}", canonical.display()).as_str())
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_prints_the_task_log(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run("name: l\ntasks:\n  - task: t\n    shell: \"echo one; sleep 0.3; echo two >&2\"\n")
        .args(["--log-dir", "elsewhere"])
        .success();
    let id = db.rows().await[0].id.to_string();
    db.orch()
        .args(["logs", &id])
        .success()
        .stdout_is("one\ntwo\n");
    db.orch()
        .args(["logs", &id, "--follow"])
        .output()
        .stdout_is("one\ntwo\n");
    db.orch().args(["logs", "99999"]).code(4);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_tells_a_silent_task_from_a_deleted_log_and_a_task_that_never_ran(
    #[case] backend: Backend,
) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run("name: q\ntasks:\n  - task: quiet\n    run: [\"true\"]\n  - task: loud\n    shell: \"echo hi\"\n  - task: bad\n    run: [\"false\"]\n  - task: never\n    run: [\"true\"]\n    depends_on: [bad]\n")
        .code(1);
    let rows = db.rows().await;
    let id = |name: &str| rows.iter().find(|r| r.task == name).unwrap().id.to_string();
    let dir = db.path().join(format!(".orch/logs/{}", rows[0].run_id));
    assert!(dir.join("loud.log").is_file());
    assert_eq!(
        std::fs::read(dir.join("quiet.log")).unwrap(),
        b"",
        "no output, an empty file"
    );
    // A silent task: empty output, exit 0, with or without --follow.
    for args in [vec![], vec!["--follow"]] {
        db.orch()
            .args(["logs", &id("quiet")])
            .args(&args)
            .success()
            .stdout_is("");
    }
    // A task that never ran says so.
    db.orch()
        .args(["logs", &id("never")])
        .code(4)
        .stderr_has("no log: task")
        .stderr_has("never ran (it is `skipped`)");
    // A deleted log is told from a silent task: the path, that it is gone, exit 4.
    std::fs::remove_file(dir.join("quiet.log")).unwrap();
    let gone = dir.join("quiet.log").display().to_string();
    for args in [vec![], vec!["--follow"]] {
        db.orch()
            .args(["logs", &id("quiet")])
            .args(&args)
            .code(4)
            .stderr_has("is gone")
            .stderr_has(&gone);
    }
    // A log folder that is gone altogether likewise.
    std::fs::remove_dir_all(&dir).unwrap();
    db.orch()
        .args(["logs", &id("loud")])
        .code(4)
        .stderr_has("is gone");
}

async fn cancel_with(db: TestDb, signal: Signal, code: i32) {
    let plan = db.plan("name: long\ntasks:\n  - task: sleeper\n    shell: \"echo sleeping; sleep 300\"\n  - task: never\n    run: [\"true\"]\n");
    let child = db.orch().args(["run", plan]).spawn();
    // Wait until the task is running (its row exists), then ask orch to stop.
    let store = db.store().await;
    wait_for_status(&store, TaskStatus::Running).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    child.signal(signal);
    child.wait().exited(code);
    let rows = db.rows().await;
    assert_eq!(
        rows[1].status,
        TaskStatus::Skipped,
        "the next task never started"
    );
    assert!(rows[1].started_at.is_none());
    assert_eq!(rows[0].status, TaskStatus::Failed);
    let excerpt = rows[0].log_excerpt.clone().unwrap();
    assert!(excerpt.starts_with("sleeping\n"), "{excerpt}");
    assert!(
        excerpt.ends_with(&format!("cancelled: orch received {}", signal.as_str())),
        "{excerpt}"
    );
    // Its leases are released on the way out.
    let leases = db.leases().await;
    assert!(leases.is_empty(), "{leases:?}");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_the_running_task(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    cancel_with(db, Signal::SIGTERM, 143).await;
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_cancels_the_running_task(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    cancel_with(db, Signal::SIGINT, 130).await;
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nightly_plan_runs_from_a_clone(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    // The README's first command, on this repository, with the database, logs and reports
    // kept in the test's folder.
    let repo = env!("CARGO_MANIFEST_DIR");
    let logs = db.path().join("logs");
    let reports = db.path().join("reports");
    db.orch()
        .current_dir(repo)
        .env("REPORT_DIR", &reports)
        .args(["run", "plans/nightly.yaml", "--log-dir"])
        .arg(&logs)
        .success();
    let rows = db.rows().await;
    let names: Vec<&str> = rows.iter().map(|r| r.task.as_str()).collect();
    assert_eq!(names, ["seo.validate", "code.review", "dx.integrate"]);
    assert_eq!(
        rows[0].status,
        TaskStatus::Succeeded,
        "{:?}",
        rows[0].log_excerpt
    );
    assert_eq!(
        rows[1].status,
        TaskStatus::Succeeded,
        "{:?}",
        rows[1].log_excerpt
    );
    let gate = &rows[2];
    assert_eq!(gate.status, TaskStatus::AwaitingApproval);
    let report = gate
        .outputs_uri
        .as_deref()
        .unwrap()
        .strip_prefix("file://")
        .unwrap();
    assert!(
        std::fs::read_to_string(report)
            .unwrap()
            .starts_with("# DX integration report")
    );

    let waiting = db
        .orch()
        .args(["tasks", "list", "--status", "awaiting_approval", "--json"])
        .output()
        .stdout_json();
    assert_eq!(waiting[0]["task"], "dx.integrate");
    let id = gate.id.to_string();
    db.orch().args(["approve", &id, "--by", "alice"]).success();
    db.orch()
        .args(["approve", &id])
        .code(5)
        .stderr_has("already approved by `alice`");
}

/// Issue: a full log disk marked the excerpt but printed no warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_cannot_be_written_is_warned_about() {
    let db = TestDb::sqlite().await;
    let plan = db.plan("name: full\ntasks:\n  - task: chatty\n    shell: \"echo one; echo two\"\n");
    // The log file is /dev/full: every write fails with ENOSPC, as on a full disk.
    let dir = db.path().join(".orch/logs/full-1");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.join("chatty.log")).unwrap();
    db.orch()
        .args(["run", plan, "--run-id", "full-1"])
        .success()
        .stderr_has("warning: task `chatty`: log `")
        .stderr_has("No space left on device");
    let rows = db.rows().await;
    assert!(
        rows[0]
            .log_excerpt
            .as_deref()
            .unwrap_or("")
            .contains("not written"),
        "{:?}",
        rows[0].log_excerpt
    );
}
