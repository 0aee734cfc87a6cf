//! `orch resume` and `orch approve --resume`: gates hold their dependents back, a decision
//! lets them go on from a later, stateless command, from the plan text saved with the run,
//! and nothing runs twice — on both databases.

use orch::store::{ApprovalState, TaskStatus, agents_task};

use crate::support::{TestDb, both_backends, stderr, stdout};

/// build → gate → deploy, and cleanup after the gate whatever happens. Each task appends its
/// name to `ran.txt`, so running twice would show.
const GATED: &str = r#"
name: gated
tasks:
  - task: build
    shell: "echo build >> ran.txt"
  - task: gate
    shell: "echo gate >> ran.txt; echo 'review https://github.com/acme/site/pull/9'"
    approval: on_output_uri
    depends_on: [build]
  - task: deploy
    shell: "echo deploy >> ran.txt; echo deployed"
    depends_on: [gate]
  - task: cleanup
    shell: "echo cleanup >> ran.txt"
    depends_on: [gate]
    when: always
"#;

fn by_task<'a>(rows: &'a [agents_task::Model], name: &str) -> &'a agents_task::Model {
    rows.iter().find(|r| r.task == name).unwrap()
}

fn ran(db: &TestDb) -> Vec<String> {
    String::from_utf8(db.read("ran.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs the gated plan; returns the run id and the gate's id.
async fn held_at_the_gate(db: &TestDb) -> (String, i64) {
    let out = db.run(GATED, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = db.rows().await;
    let gate = by_task(&rows, "gate");
    assert_eq!(gate.status, TaskStatus::AwaitingApproval);
    assert_eq!(by_task(&rows, "deploy").status, TaskStatus::Queued);
    assert_eq!(by_task(&rows, "cleanup").status, TaskStatus::Queued);
    (gate.run_id.clone(), gate.id)
}

both_backends!(
    an_approved_gate_lets_its_dependents_run_once,
    |db: TestDb| async move {
        let (run_id, gate) = held_at_the_gate(&db).await;
        // The plan file changes after the run: resume must use the text saved with the run.
        db.plan(&GATED.replace("echo deployed", "echo CHANGED"));
        let out = db
            .orch()
            .args(["approve", &gate.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let out = db.orch().args(["resume", &run_id]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("4 task(s): 4 succeeded"),
            "{}",
            stdout(&out)
        );
        let rows = db.rows().await;
        let deploy = by_task(&rows, "deploy");
        assert_eq!(deploy.status, TaskStatus::Succeeded);
        assert_eq!(deploy.log_excerpt.as_deref(), Some("deployed"));
        assert_eq!(by_task(&rows, "cleanup").status, TaskStatus::Succeeded);
        assert_eq!(ran(&db), ["build", "gate", "deploy", "cleanup"]);

        // Again: nothing is left to run, and nothing runs twice.
        let out = db.orch().args(["resume", &run_id]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).contains("nothing to do"), "{}", stderr(&out));
        assert_eq!(ran(&db), ["build", "gate", "deploy", "cleanup"]);
        assert_eq!(db.rows().await.len(), 4);
    }
);

both_backends!(
    a_rejected_gate_skips_its_dependents_with_the_reason,
    |db: TestDb| async move {
        let (run_id, gate) = held_at_the_gate(&db).await;
        let out = db
            .orch()
            .args([
                "reject",
                &gate.to_string(),
                "--by",
                "bob",
                "--note",
                "not now",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let out = db.orch().args(["resume", &run_id]).output().unwrap();
        // The run now holds a failed task (the rejected gate): exit 1.
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let rows = db.rows().await;
        let deploy = by_task(&rows, "deploy");
        assert_eq!(deploy.status, TaskStatus::Skipped);
        assert_eq!(
            deploy.log_excerpt.as_deref(),
            Some("skipped: dependency gate was rejected by bob")
        );
        // `when: always` runs whatever the gate's outcome.
        assert_eq!(by_task(&rows, "cleanup").status, TaskStatus::Succeeded);
        assert_eq!(ran(&db), ["build", "gate", "cleanup"]);
    }
);

both_backends!(
    approve_resume_decides_and_goes_on,
    |db: TestDb| async move {
        let (_, gate) = held_at_the_gate(&db).await;
        let out = db
            .orch()
            .args([
                "approve",
                &gate.to_string(),
                "--resume",
                "--note",
                "ship it",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("approved by tester"), "{text}");
        assert!(text.contains("4 task(s): 4 succeeded"), "{text}");
        let rows = db.rows().await;
        let g = by_task(&rows, "gate");
        assert_eq!(g.approval_state, Some(ApprovalState::Approved));
        assert_eq!(g.approval_note.as_deref(), Some("ship it"));
        assert_eq!(ran(&db), ["build", "gate", "deploy", "cleanup"]);
    }
);

both_backends!(
    resume_refuses_what_it_cannot_resume,
    |db: TestDb| async move {
        let out = db.orch().args(["resume", "no-such-run"]).output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("no run `no-such-run`"),
            "{}",
            stderr(&out)
        );

        // Rows written by another tool (the API) have no saved plan.
        let store = db.store().await;
        crate::support::seed_task(&store, "a", "api-run", TaskStatus::Queued, None).await;
        let out = db.orch().args(["resume", "api-run"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("has no saved plan"),
            "{}",
            stderr(&out)
        );
    }
);

both_backends!(
    an_undecided_gate_times_out_and_a_late_decision_is_refused,
    |db: TestDb| async move {
        let plan = GATED.replace(
            "    approval: on_output_uri\n",
            "    approval: on_output_uri\n    approval_timeout: 1s\n",
        );
        let out = db.run(&plan, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let rows = db.rows().await;
        let gate = by_task(&rows, "gate");
        let deadline = gate.approval_deadline.expect("a deadline while waiting");
        assert!(deadline > gate.finished_at.unwrap());
        // Past the deadline (no timing assertion: only "later than one second").
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let out = db
            .orch()
            .args(["approve", &gate.id.to_string(), "--by", "alice"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("got no decision within its `approval_timeout`: rejected"),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "error: task {} waited longer than its `approval_timeout` and was rejected by orch at",
                gate.id
            )),
            "{err}"
        );
        let rows = db.rows().await;
        let g = by_task(&rows, "gate");
        assert_eq!(g.status, TaskStatus::Failed);
        assert_eq!(g.approval_state, Some(ApprovalState::Rejected));
        assert_eq!(g.approver.as_deref(), Some("orch"));
        assert_eq!(g.approval_note.as_deref(), Some("approval timed out"));

        let out = db.orch().args(["resume", &g.run_id]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let rows = db.rows().await;
        assert_eq!(
            by_task(&rows, "deploy").log_excerpt.as_deref(),
            Some("skipped: dependency gate was rejected by orch")
        );
    }
);

both_backends!(approval_timeout_needs_a_gate, |db: TestDb| async move {
    let out = db.run(
        "name: p\ntasks:\n  - task: a\n    shell: 'true'\n    approval_timeout: 1h\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("plan.yaml:5:23: task `a`: `approval_timeout` needs `approval: always`"),
        "{}",
        stderr(&out)
    );
});
