//! One driver per run: leases on runs and plans, heartbeats, and what happens when an orch
//! is killed outright — on both databases, with real processes and real signals.

use std::process::{Child, Stdio};
use std::time::Duration;

use orch::store::TaskStatus;
use orch::store::lease;

use crate::support::{TestDb, both_backends, stderr, stdout, wait_for_status};

/// Waits until some task of the database is `running`.
async fn until_running(db: &TestDb) {
    wait_for_status(&db.store().await, TaskStatus::Running).await;
}

fn spawn(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = db.orch_std();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

const SLOW: &str =
    "name: slow\ntasks:\n  - task: sleeper\n    shell: \"echo $$ > sleeper.pid; sleep 1\"\n";

both_backends!(
    a_plan_still_running_is_not_started_twice,
    |db: TestDb| async move {
        let plan = db.plan(SLOW);
        let first = spawn(&db, &["run", plan], &[]);
        until_running(&db).await;
        let out = db.orch().args(["run", plan]).output().unwrap();
        assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("error: plan `slow` is being driven by `")
                && err.contains("as run `slow-")
                && err.contains("pass `--allow-overlap`"),
            "{err}"
        );
        // Cron overlap on purpose: both run.
        let out = db
            .orch()
            .args(["run", plan, "--allow-overlap"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let first = first.wait_with_output().unwrap();
        assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
        let rows = db.rows().await;
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.status == TaskStatus::Succeeded));
        assert_ne!(rows[0].run_id, rows[1].run_id);
        // Each row names the orch that drove it; the leases are gone.
        assert!(
            rows.iter()
                .all(|r| r.owner.as_deref().unwrap().contains(':'))
        );
        let store = db.store().await;
        assert!(lease::all(&store.db).await.unwrap().is_empty());
    }
);

both_backends!(
    two_resumes_of_one_run_one_drives_the_other_exits_5,
    |db: TestDb| async move {
        let plan = "name: gated\ntasks:\n  - task: gate\n    shell: 'true'\n    approval: always\n  - task: deploy\n    shell: \"echo deploy >> ran.txt; sleep 2\"\n    depends_on: [gate]\n";
        let out = db.run(plan, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let gate = db.rows().await[0].clone();
        let out = db
            .orch()
            .args(["approve", &gate.id.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success());
        let a = spawn(&db, &["resume", &gate.run_id], &[]);
        let b = spawn(&db, &["resume", &gate.run_id], &[]);
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let mut codes = [a.status.code(), b.status.code()];
        codes.sort();
        assert_eq!(codes, [Some(0), Some(5)], "{}\n{}", stderr(&a), stderr(&b));
        let loser = if a.status.code() == Some(5) { &a } else { &b };
        assert!(
            stderr(loser).contains(&format!("run `{}` is being driven by `", gate.run_id)),
            "{}",
            stderr(loser)
        );
        // Exactly once.
        assert_eq!(String::from_utf8(db.read("ran.txt")).unwrap(), "deploy\n");
        assert_eq!(db.rows().await[1].status, TaskStatus::Succeeded);
    }
);

both_backends!(
    an_orch_killed_outright_is_found_out_and_its_run_resumed,
    |db: TestDb| async move {
        let plan = db.plan(
            "name: crash\ntasks:\n  - task: sleeper\n    shell: \"echo $$ > sleeper.pid; sleep 300\"\n  - task: gate\n    shell: 'true'\n    approval: always\n  - task: later\n    shell: \"echo later\"\n",
        );
        let mut child = spawn(&db, &["run", plan], &[("ORCH_HEARTBEAT_MS", "100")]);
        until_running(&db).await;
        let store = db.store().await;
        let before = db.rows().await;
        assert!(before[0].heartbeat_at.is_some() && before[0].owner.is_some());
        assert_eq!(
            lease::all(&store.db).await.unwrap().len(),
            2,
            "plan and run leases"
        );
        child.kill().unwrap(); // SIGKILL: no chance to clean up.
        child.wait().unwrap();
        // The task's own process is not orch's child any more; stop it ourselves.
        let pid: i32 = String::from_utf8(db.read("sleeper.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );

        // Within the staleness bound nothing is judged; after it, the next command sees it.
        let fresh = db.orch().args(["runs", "list"]).output().unwrap();
        assert!(
            !stderr(&fresh).contains("orchestrator lost"),
            "{}",
            stderr(&fresh)
        );
        assert_eq!(db.rows().await[0].status, TaskStatus::Running);
        tokio::time::sleep(Duration::from_millis(600)).await;
        let out = db
            .orch()
            .args(["runs", "list"])
            .env("ORCH_STALE_AFTER_MS", "500")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("was left running by an orch that stopped: marked failed"),
            "{}",
            stderr(&out)
        );
        let rows = db.rows().await;
        assert_eq!(rows[0].status, TaskStatus::Failed);
        assert!(
            rows[0]
                .log_excerpt
                .as_deref()
                .unwrap()
                .starts_with(&format!(
                    "orchestrator lost: {} stopped sending heartbeats (last at ",
                    rows[0].owner.as_deref().unwrap()
                )),
            "{:?}",
            rows[0].log_excerpt
        );
        assert!(rows[0].finished_at.is_some());
        assert_eq!(rows[1].status, TaskStatus::Queued, "never started");
        assert!(
            lease::all(&store.db).await.unwrap().is_empty(),
            "stale leases dropped"
        );

        // The rest of the run goes on from where it stopped.
        let out = db
            .orch()
            .args(["resume", &rows[0].run_id])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("3 task(s): 1 succeeded, 1 failed, 1 awaiting_approval"),
            "{}",
            stdout(&out)
        );
    }
);

both_backends!(
    a_signal_leaves_gates_alone_and_frees_the_leases,
    |db: TestDb| async move {
        let plan = db.plan(
            "name: sig\nconcurrency: 2\ntasks:\n  - task: gate\n    shell: 'true'\n    approval: always\n  - task: sleeper\n    shell: \"sleep 300\"\n  - task: after\n    shell: 'true'\n    depends_on: [sleeper]\n",
        );
        let child = spawn(&db, &["run", plan], &[]);
        until_running(&db).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
        let rows = db.rows().await;
        assert_eq!(rows[0].status, TaskStatus::AwaitingApproval, "left alone");
        assert_eq!(rows[1].status, TaskStatus::Failed);
        assert_eq!(rows[2].status, TaskStatus::Skipped);
        let store = db.store().await;
        assert!(lease::all(&store.db).await.unwrap().is_empty());
    }
);

both_backends!(
    a_decision_during_the_run_is_picked_up_by_the_run,
    |db: TestDb| async move {
        let plan = db.plan(
            "name: live\nconcurrency: 2\ntasks:\n  - task: gate\n    shell: 'true'\n    approval: always\n  - task: slow\n    shell: 'sleep 2'\n  - task: after\n    shell: 'echo after'\n    depends_on: [gate]\n",
        );
        let child = spawn(&db, &["run", plan], &[]);
        let store = db.store().await;
        let mut gate = None;
        for _ in 0..400 {
            let rows = orch::store::query::list_tasks(&store.db, &Default::default())
                .await
                .unwrap();
            if let Some(g) = rows
                .iter()
                .find(|r| r.status == TaskStatus::AwaitingApproval)
            {
                gate = Some(g.clone());
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let gate = gate.expect("the gate waits");
        // `--resume` cannot take the run over while it is driven, but the decision stands.
        let out = db
            .orch()
            .args(["approve", &gate.id.to_string(), "--resume"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("the decision is recorded, but run `"),
            "{}",
            stderr(&out)
        );
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let rows = db.rows().await;
        assert_eq!(rows[0].status, TaskStatus::Succeeded);
        assert_eq!(
            rows[2].status,
            TaskStatus::Succeeded,
            "the run picked the decision up"
        );
        assert!(
            stdout(&out).contains("3 task(s): 3 succeeded"),
            "{}",
            stdout(&out)
        );
    }
);
