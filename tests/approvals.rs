//! `orch approve` / `orch reject`: the rules, the recorded decision, and exactly one winner
//! when two people decide at once.

use chrono::{DateTime, Utc};
use orch::store::query::get_task;
use orch::store::transition::{TaskChange, transition};
use orch::store::{Store, TaskStatus, agents_task};
use orch::{Error, store::ApprovalState};

use rstest::rstest;

use crate::support::{Backend, TestDb, at, seed_task};

/// A `dx.integrate` gate of run `run_id`, waiting for a decision.
async fn awaiting(
    store: &Store,
    run_id: &str,
    started: Option<DateTime<Utc>>,
) -> agents_task::Model {
    seed_task(
        store,
        "dx.integrate",
        run_id,
        TaskStatus::AwaitingApproval,
        started,
    )
    .await
}

/// The error of a transition from `from` to `to` with no other change, which must fail.
async fn refused(store: &Store, id: i64, from: TaskStatus, to: TaskStatus) -> Error {
    transition(&store.db, id, from, to, TaskChange::default())
        .await
        .unwrap_err()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_records_the_decision(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let t = awaiting(&store, "n1", Some(at(2, 30))).await;
    let row = db
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
        .success()
        .stdout_json();
    assert_eq!(row["status"], "succeeded");
    assert_eq!(row["approval_state"], "approved");
    assert_eq!(row["approver"], "alice");
    assert_eq!(row["approval_note"], "looks good");
    assert!(row["decided_at"].as_str().unwrap().ends_with('Z'));

    let stored = get_task(&store.db, t.id).await.unwrap();
    assert_eq!(stored.status, TaskStatus::Succeeded);
    assert_eq!(stored.approval_state, Some(ApprovalState::Approved));
    assert!(stored.decided_at.is_some());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_fails_the_task_and_defaults_the_decider(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let t = awaiting(&store, "n1", None).await;
    db.orch()
        .args(["reject", &t.id.to_string()])
        .success()
        .stdout_has("rejected by tester");
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

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_decision_exits_5_naming_who_decided(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let t = awaiting(&store, "n1", None).await;
    let id = t.id.to_string();
    db.orch().args(["approve", &id, "--by", "alice"]).success();
    for verb in ["approve", "reject"] {
        let err = db.orch().args([verb, &id, "--by", "bob"]).code(5).stderr();
        assert!(err.contains("already approved by `alice` at 20"), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    let stored = get_task(&store.db, t.id).await.unwrap();
    assert_eq!(stored.approver.as_deref(), Some("alice"));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deciding_a_task_that_never_asked_exits_5(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    for status in [
        TaskStatus::Running,
        TaskStatus::Succeeded,
        TaskStatus::Queued,
        TaskStatus::Failed,
    ] {
        let t = seed_task(&store, "seo.validate", "n1", status, None).await;
        db.orch()
            .args(["approve", &t.id.to_string()])
            .code(5)
            .stderr_has(&format!("is `{status}`, not awaiting approval"));
        assert_eq!(
            get_task(&store.db, t.id).await.unwrap().status,
            status,
            "row untouched"
        );
    }
    db.orch().args(["approve", "424242"]).code(4);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_deciders_yield_one_winner(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    // Several rounds: a race that happens to serialise once proves little.
    for round in 0..5 {
        let t = awaiting(&store, "race", None).await;
        let id = t.id.to_string();
        let spawn = |verb: &str, who: &str| db.orch().args([verb, &id, "--by", who]).spawn();
        let a = spawn("approve", "alice");
        let b = spawn("reject", "bob");
        let (a, b) = (a.wait(), b.wait());
        let codes = [a.code(), b.code()];
        assert!(
            codes == [Some(0), Some(5)] || codes == [Some(5), Some(0)],
            "round {round}: {codes:?}\n{}\n{}",
            a.stderr(),
            b.stderr()
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
            loser
                .stderr()
                .contains(&format!("already {expected_state} by `{winner}`")),
            "{}",
            loser.stderr()
        );
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_follow_the_table(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let t = seed_task(&store, "t", "r", TaskStatus::Queued, None).await;
    let err = refused(&store, t.id, TaskStatus::Queued, TaskStatus::Succeeded).await;
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
    let err = refused(&store, t.id, TaskStatus::Queued, TaskStatus::Skipped).await;
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
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_decision_leaves_the_gate(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let t = seed_task(&store, "t", "r", TaskStatus::AwaitingApproval, None).await;
    let err = refused(
        &store,
        t.id,
        TaskStatus::AwaitingApproval,
        TaskStatus::Succeeded,
    )
    .await;
    assert!(matches!(err, Error::IllegalTransition { .. }), "{err:?}");
    assert_eq!(
        get_task(&store.db, t.id).await.unwrap().status,
        TaskStatus::AwaitingApproval
    );
}
