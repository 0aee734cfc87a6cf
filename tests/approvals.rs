//! `orch approve` / `orch reject`: the rules, the recorded decision, and exactly one winner
//! when two people decide at once.

use std::process::Stdio;

use orch::store::TaskStatus;
use orch::store::query::get_task;
use orch::store::transition::{TaskChange, transition};
use orch::{Error, store::ApprovalState};

use crate::support::{TestDb, at, both_backends, seed_task, stderr, stdout_json};

both_backends!(approve_records_the_decision, |db: TestDb| async move {
    let store = db.store().await;
    let t = seed_task(
        &store,
        "dx.integrate",
        "n1",
        TaskStatus::AwaitingApproval,
        Some(at(2, 30)),
    )
    .await;
    let out = db
        .orch()
        .args([
            "approve",
            &t.id.to_string(),
            "--by",
            "alice",
            "--note",
            "looks good",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let row = stdout_json(&out);
    assert_eq!(row["status"], "succeeded");
    assert_eq!(row["approval_state"], "approved");
    assert_eq!(row["approver"], "alice");
    assert_eq!(row["approval_note"], "looks good");
    assert!(row["decided_at"].as_str().unwrap().ends_with('Z'));

    let stored = get_task(&store.db, t.id).await.unwrap();
    assert_eq!(stored.status, TaskStatus::Succeeded);
    assert_eq!(stored.approval_state, Some(ApprovalState::Approved));
    assert!(stored.decided_at.is_some());
});

both_backends!(
    reject_fails_the_task_and_defaults_the_decider,
    |db: TestDb| async move {
        let store = db.store().await;
        let t = seed_task(
            &store,
            "dx.integrate",
            "n1",
            TaskStatus::AwaitingApproval,
            None,
        )
        .await;
        let out = db
            .orch()
            .args(["reject", &t.id.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("rejected by tester"), "{text}");
        let stored = get_task(&store.db, t.id).await.unwrap();
        assert_eq!(stored.status, TaskStatus::Failed);
        assert_eq!(stored.approval_state, Some(ApprovalState::Rejected));
        assert_eq!(
            stored.approver.as_deref(),
            Some("tester"),
            "--by defaults to $USER"
        );
        assert_eq!(stored.approval_note, None);
    }
);

both_backends!(
    second_decision_exits_5_naming_who_decided,
    |db: TestDb| async move {
        let store = db.store().await;
        let t = seed_task(
            &store,
            "dx.integrate",
            "n1",
            TaskStatus::AwaitingApproval,
            None,
        )
        .await;
        let id = t.id.to_string();
        db.orch()
            .args(["approve", &id, "--by", "alice"])
            .assert()
            .success();
        for verb in ["approve", "reject"] {
            let out = db.orch().args([verb, &id, "--by", "bob"]).output().unwrap();
            assert_eq!(out.status.code(), Some(5), "{verb}");
            let err = stderr(&out);
            assert!(err.contains("already approved by `alice` at 20"), "{err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
        }
        let stored = get_task(&store.db, t.id).await.unwrap();
        assert_eq!(stored.approver.as_deref(), Some("alice"));
    }
);

both_backends!(
    deciding_a_task_that_never_asked_exits_5,
    |db: TestDb| async move {
        let store = db.store().await;
        for status in [
            TaskStatus::Running,
            TaskStatus::Succeeded,
            TaskStatus::Queued,
            TaskStatus::Failed,
        ] {
            let t = seed_task(&store, "seo.validate", "n1", status, None).await;
            let out = db
                .orch()
                .args(["approve", &t.id.to_string()])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(5));
            assert!(
                stderr(&out).contains(&format!("is `{status}`, not awaiting approval")),
                "{}",
                stderr(&out)
            );
            assert_eq!(
                get_task(&store.db, t.id).await.unwrap().status,
                status,
                "row untouched"
            );
        }
        let out = db.orch().args(["approve", "424242"]).output().unwrap();
        assert_eq!(out.status.code(), Some(4));
    }
);

both_backends!(
    two_concurrent_deciders_yield_one_winner,
    |db: TestDb| async move {
        let store = db.store().await;
        // Several rounds: a race that happens to serialise once proves little.
        for round in 0..5 {
            let t = seed_task(
                &store,
                "dx.integrate",
                "race",
                TaskStatus::AwaitingApproval,
                None,
            )
            .await;
            let id = t.id.to_string();
            let spawn = |verb: &str, who: &str| {
                db.orch_std()
                    .args([verb, &id, "--by", who])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            };
            let a = spawn("approve", "alice");
            let b = spawn("reject", "bob");
            let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
            let codes = [a.status.code(), b.status.code()];
            assert!(
                codes == [Some(0), Some(5)] || codes == [Some(5), Some(0)],
                "round {round}: {codes:?}\n{}\n{}",
                stderr(&a),
                stderr(&b)
            );
            let row = get_task(&store.db, t.id).await.unwrap();
            let (winner, loser) = if codes[0] == Some(0) {
                ("alice", &b)
            } else {
                ("bob", &a)
            };
            assert_eq!(row.approver.as_deref(), Some(winner));
            let expected_state = if winner == "alice" {
                "approved"
            } else {
                "rejected"
            };
            assert!(
                stderr(loser).contains(&format!("already {expected_state} by `{winner}`")),
                "{}",
                stderr(loser)
            );
        }
    }
);

both_backends!(transitions_follow_the_table, |db: TestDb| async move {
    let store = db.store().await;
    let t = seed_task(&store, "t", "r", TaskStatus::Queued, None).await;
    let err = transition(
        &store.db,
        t.id,
        TaskStatus::Queued,
        TaskStatus::Succeeded,
        TaskChange::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::IllegalTransition { .. }), "{err:?}");

    let row = transition(
        &store.db,
        t.id,
        TaskStatus::Queued,
        TaskStatus::Running,
        TaskChange {
            started_at: Some(at(2, 0)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(row.status, TaskStatus::Running);
    assert_eq!(row.started_at, Some(at(2, 0)));

    // A second actor still believing the task is queued loses, and nothing changes.
    let err = transition(
        &store.db,
        t.id,
        TaskStatus::Queued,
        TaskStatus::Skipped,
        TaskChange::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::TransitionLost { .. }), "{err:?}");

    let row = transition(
        &store.db,
        t.id,
        TaskStatus::Running,
        TaskStatus::AwaitingApproval,
        TaskChange {
            outputs_uri: Some("https://github.com/o/r/pull/1".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        row.approval_state,
        Some(ApprovalState::Pending),
        "entering the gate makes it pending"
    );
    assert_eq!(
        row.outputs_uri.as_deref(),
        Some("https://github.com/o/r/pull/1")
    );
});

both_backends!(only_a_decision_leaves_the_gate, |db: TestDb| async move {
    let store = db.store().await;
    let t = seed_task(&store, "t", "r", TaskStatus::AwaitingApproval, None).await;
    let err = transition(
        &store.db,
        t.id,
        TaskStatus::AwaitingApproval,
        TaskStatus::Succeeded,
        TaskChange::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::IllegalTransition { .. }), "{err:?}");
    assert_eq!(
        get_task(&store.db, t.id).await.unwrap().status,
        TaskStatus::AwaitingApproval
    );
});
