//! `orch run`: every task recorded with every column, excerpts, result lines, process
//! hygiene, run ids and exit codes, on both databases with real child processes.

use orch::store::query::get_run;
use orch::store::{ApprovalState, TaskStatus};

use crate::support::{TestDb, both_backends, stderr, stdout};

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

both_backends!(a_run_records_every_column, |db: TestDb| async move {
    let out = db.run(THREE, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed task makes the run exit 1: {}",
        stderr(&out)
    );
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

    let text = stdout(&out);
    assert!(
        text.contains(&format!("orch approve {}", gate.id)),
        "{text}"
    );
    assert!(
        text.contains("1 succeeded, 1 failed, 1 awaiting_approval"),
        "{text}"
    );

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
    db.orch().args(["approve", &id]).assert().success();
    let again = db.orch().args(["approve", &id]).output().unwrap();
    assert_eq!(again.status.code(), Some(5));
    assert!(stderr(&again).contains("already approved by `tester`"));
});

both_backends!(
    waiting_for_approval_is_not_a_failure,
    |db: TestDb| async move {
        let out = db.run(
            "name: gate\ntasks:\n  - task: g\n    run: [\"true\"]\n    approval: always\n",
            &["--run-id", "gate-1"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains("1 task(s) await approval"));
        let rows = db.rows().await;
        assert_eq!(rows[0].run_id, "gate-1");
        assert_eq!(rows[0].status, TaskStatus::AwaitingApproval);
    }
);

both_backends!(failures_name_their_reason, |db: TestDb| async move {
    let out = db.run(
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
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let rows = db.rows().await;
    let excerpt = |i: usize| rows[i].log_excerpt.clone().unwrap();
    assert_eq!(excerpt(0), "program not found: no-such-program-xyz");
    assert_eq!(excerpt(1), "before\nkilled by signal 9");
    assert_eq!(excerpt(2), "working directory not found: /no/such/dir");
    assert!(
        rows.iter()
            .all(|r| r.status == TaskStatus::Failed && r.finished_at.is_some())
    );
});

both_backends!(excerpts_survive_any_output, |db: TestDb| async move {
    let out = db.run(
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
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
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
});

both_backends!(a_result_line_states_the_outcome, |db: TestDb| async move {
    let out = db.run(
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
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
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
});

both_backends!(
    a_backgrounded_grandchild_cannot_hang_the_run,
    |db: TestDb| async move {
        let marker = db.path().join("grandchild.pid");
        let yaml = format!(
            "name: bg\ntasks:\n  - task: bg\n    shell: \"sleep 300 & echo $! > {}; echo started\"\n",
            marker.display()
        );
        let started = std::time::Instant::now();
        let out = db.run(&yaml, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        // Generous: the point is that it does not wait for the 300 s sleep.
        assert!(started.elapsed().as_secs() < 60);
        let rows = db.rows().await;
        assert_eq!(rows[0].status, TaskStatus::Succeeded);
        assert_eq!(rows[0].log_excerpt.as_deref(), Some("started"));
        let (pid, alive) = crate::support::pid_in_file_alive(&marker);
        assert!(!alive, "the grandchild {pid} survived the run");
    }
);

both_backends!(run_ids_do_not_collide, |db: TestDb| async move {
    let yaml = "name: twice\ntasks:\n  - task: t\n    run: [\"true\"]\n";
    assert!(db.run(yaml, &[]).status.success());
    assert!(db.run(yaml, &[]).status.success());
    let rows = db.rows().await;
    let base = rows[0].run_id.clone();
    assert_eq!(rows[1].run_id, format!("{base}.2"));

    let taken = db.run(yaml, &["--run-id", &base]);
    assert_eq!(taken.status.code(), Some(2));
    assert!(
        stderr(&taken).contains(&format!("run `{base}` already exists")),
        "{}",
        stderr(&taken)
    );
    let bad = db.run(yaml, &["--run-id", "no/slashes"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(db.rows().await.len(), 2, "refused runs record nothing");
});

both_backends!(only_runs_the_named_tasks, |db: TestDb| async move {
    let yaml = "name: some\ntasks:\n  - task: a\n    run: [\"true\"]\n  - task: b\n    run: [\"true\"]\n  - task: c\n    run: [\"true\"]\n";
    let out = db.run(yaml, &["--only", "c,a"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let names: Vec<String> = db.rows().await.into_iter().map(|r| r.task).collect();
    assert_eq!(names, ["a", "c"], "plan order");
    let out = db.run(yaml, &["--only", "zzz"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("the plan has no task `zzz`"));
});

both_backends!(
    a_missing_variable_stops_the_run_before_it_starts,
    |db: TestDb| async move {
        let yaml = "name: vars\nenv:\n  TARGET: ${ORCH_TEST_SURELY_UNSET}\ntasks:\n  - task: t\n    run: [\"true\"]\n";
        let out = db.run(yaml, &[]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains(
                "plan.yaml:3:11: environment variable `ORCH_TEST_SURELY_UNSET` is not set"
            ),
            "{}",
            stderr(&out)
        );
        assert!(db.rows().await.is_empty());
        let out = db
            .orch()
            .env("ORCH_TEST_SURELY_UNSET", "x")
            .args(["run", "plan.yaml"])
            .output()
            .unwrap();
        assert!(out.status.success());
    }
);

both_backends!(env_reaches_the_task_expanded, |db: TestDb| async move {
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
    let out = db
        .orch()
        .env("ORCH_TEST_CWD", &cwd)
        .args(["run"])
        .arg(db.plan(yaml))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = db.rows().await;
    let canonical = cwd.canonicalize().unwrap();
    assert_eq!(
        rows[0].log_excerpt.as_deref(),
        Some(format!("/srv/deep /srv/deep/own {}", canonical.display()).as_str())
    );
});

both_backends!(logs_prints_the_task_log, |db: TestDb| async move {
    let out = db.run(
        "name: l\ntasks:\n  - task: t\n    shell: \"echo one; sleep 0.3; echo two >&2\"\n",
        &["--log-dir", "elsewhere"],
    );
    assert!(out.status.success());
    let id = db.rows().await[0].id.to_string();
    let logs = db.orch().args(["logs", &id]).output().unwrap();
    assert!(logs.status.success(), "{}", stderr(&logs));
    assert_eq!(stdout(&logs), "one\ntwo\n");
    let logs = db.orch().args(["logs", &id, "--follow"]).output().unwrap();
    assert_eq!(stdout(&logs), "one\ntwo\n");
    let missing = db.orch().args(["logs", "99999"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(4));
});

both_backends!(
    a_task_that_prints_nothing_leaves_no_log_file,
    |db: TestDb| async move {
        let out = db.run(
        "name: q\ntasks:\n  - task: quiet\n    run: [\"true\"]\n  - task: loud\n    shell: \"echo hi\"\n",
        &[],
    );
        assert!(out.status.success(), "{}", stderr(&out));
        let rows = db.rows().await;
        let dir = db.path().join(format!(".orch/logs/{}", rows[0].run_id));
        assert!(dir.join("loud.log").is_file());
        assert!(!dir.join("quiet.log").exists(), "no output, no file");
        // `orch logs` shows it as empty, not as missing, with or without --follow.
        for args in [vec![], vec!["--follow"]] {
            let logs = db
                .orch()
                .args(["logs", &rows[0].id.to_string()])
                .args(&args)
                .output()
                .unwrap();
            assert!(logs.status.success(), "{}", stderr(&logs));
            assert_eq!(stdout(&logs), "");
        }
        // A log folder that is gone is still reported as missing.
        std::fs::remove_dir_all(&dir).unwrap();
        let logs = db
            .orch()
            .args(["logs", &rows[0].id.to_string()])
            .output()
            .unwrap();
        assert_eq!(logs.status.code(), Some(4), "{}", stderr(&logs));
    }
);

async fn cancel_with(db: TestDb, signal: nix::sys::signal::Signal, code: i32) {
    let plan = db.plan("name: long\ntasks:\n  - task: sleeper\n    shell: \"echo sleeping; sleep 300\"\n  - task: never\n    run: [\"true\"]\n");
    let child = db
        .orch_std()
        .args(["run", plan])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the task is running (its row exists), then ask orch to stop.
    let store = db.store().await;
    for _ in 0..200 {
        let rows = orch::store::query::list_tasks(&store.db, &Default::default())
            .await
            .unwrap();
        if rows.iter().any(|r| r.status == TaskStatus::Running) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
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
    let leases = orch::store::lease::all(&store.db).await.unwrap();
    assert!(leases.is_empty(), "{leases:?}");
}

both_backends!(sigterm_cancels_the_running_task, |db: TestDb| async move {
    cancel_with(db, nix::sys::signal::Signal::SIGTERM, 143).await;
});

both_backends!(sigint_cancels_the_running_task, |db: TestDb| async move {
    cancel_with(db, nix::sys::signal::Signal::SIGINT, 130).await;
});

both_backends!(
    the_nightly_plan_runs_from_a_clone,
    |db: TestDb| async move {
        // The README's first command, on this repository, with the database, logs and reports
        // kept in the test's folder.
        let repo = env!("CARGO_MANIFEST_DIR");
        let logs = db.path().join("logs");
        let reports = db.path().join("reports");
        let out = db
            .orch()
            .current_dir(repo)
            .env("REPORT_DIR", &reports)
            .args(["run", "plans/nightly.yaml", "--log-dir"])
            .arg(&logs)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            stdout(&out),
            stderr(&out)
        );
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
            .unwrap();
        let waiting = crate::support::stdout_json(&waiting);
        assert_eq!(waiting[0]["task"], "dx.integrate");
        let id = gate.id.to_string();
        db.orch()
            .args(["approve", &id, "--by", "alice"])
            .assert()
            .success();
        let again = db.orch().args(["approve", &id]).output().unwrap();
        assert_eq!(again.status.code(), Some(5));
        assert!(stderr(&again).contains("already approved by `alice`"));
    }
);
