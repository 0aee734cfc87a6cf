//! The one transition path: the guard every writer shares (a batch on SQLite leaves a gate
//! that was decided meanwhile alone, as a single transition does), the reaper going through
//! it, and the API's PATCH guarded on the status it read and refused on a row a live orch
//! runs.

use std::time::Duration;

use orch::Error;
use orch::store::TaskStatus::{self, *};
use orch::store::batch::commit;
use orch::store::mutation::{NewTask, insert_task};
use orch::store::query::get_task;
use orch::store::transition::{TaskChange, Transition, patch, transition};
use orch::store::{Store, agents_task};
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::json;

use crate::support::http::ApiServer;
use crate::support::{Backend, Cmd, TestDb};

async fn task(store: &Store, name: &str, status: TaskStatus) -> agents_task::Model {
    insert_task(&store.db, NewTask::new(name, "r", status))
        .await
        .unwrap()
}

/// A task running under `owner`, its heartbeat stamped now.
async fn running_under(store: &Store, owner: &str) -> agents_task::Model {
    let row = task(store, "t", Queued).await;
    let change = TaskChange {
        owner: Some(owner.to_owned()),
        heartbeat: true,
        ..Default::default()
    };
    transition(&store.db, row.id, Queued, Running, change)
        .await
        .unwrap()
}

fn excerpt(text: &str) -> TaskChange {
    TaskChange {
        log_excerpt: Some(text.to_owned()),
        ..Default::default()
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_cannot_move_a_gate_out_of_its_decision(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let gate = task(&store, "gate", AwaitingApproval).await;
    let other = task(&store, "other", Queued).await;
    // Leaving the gate is a decision: no batch (on either database's path) may do it.
    let err = commit(
        &store,
        &[
            Transition::new(other.id, Queued, Skipped, excerpt("x")),
            Transition::new(gate.id, AwaitingApproval, Succeeded, excerpt("y")),
        ],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::IllegalTransition { .. }), "{err:?}");
    assert_eq!(get_task(&store.db, other.id).await.unwrap().status, Queued);
    assert_eq!(
        get_task(&store.db, gate.id).await.unwrap().status,
        AwaitingApproval
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_is_guarded_on_the_status_it_read(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let row = task(&store, "t", Queued).await;
    let minute = Duration::from_secs(60);
    // Read as `queued`, but it moved on: the fields-only PATCH is refused, nothing written.
    transition(&store.db, row.id, Queued, Skipped, TaskChange::default())
        .await
        .unwrap();
    let err = patch(&store.db, row.id, Queued, None, excerpt("late"), minute)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TransitionLost { .. }), "{err:?}");
    assert_eq!(get_task(&store.db, row.id).await.unwrap().log_excerpt, None);
    // Read as it is: written.
    let done = patch(&store.db, row.id, Skipped, None, excerpt("ok"), minute)
        .await
        .unwrap();
    assert_eq!(done.log_excerpt.as_deref(), Some("ok"));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_a_live_orch_runs_is_not_the_apis_to_write(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let row = running_under(&store, "host:1:live").await;
    let api = ApiServer::start(&db, None).await;
    for body in [
        json!({"log_excerpt": "forged"}),
        json!({"status": "succeeded", "outputs_uri": "https://example.com/forged"}),
    ] {
        let (code, answer) = api
            .send(
                "PATCH",
                &format!("/agents/tasks/{}", row.id),
                Some(body),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::CONFLICT, "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("is running under `host:1:live`"),
            "{answer}"
        );
    }
    let now = get_task(&store.db, row.id).await.unwrap();
    assert_eq!(
        (now.status, now.log_excerpt, now.outputs_uri),
        (Running, None, None)
    );
    // Once its heartbeat is older than the staleness, the orch counts as gone: written.
    let done = patch(
        &store.db,
        row.id,
        Running,
        None,
        excerpt("by hand"),
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(done.log_excerpt.as_deref(), Some("by hand"));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evidence_of_a_gate_cannot_be_rewritten(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let gate = task(&store, "deploy", AwaitingApproval).await;
    let path = format!("/agents/tasks/{}", gate.id);
    let api = ApiServer::start(&db, None).await;
    let forged = json!({"outputs_uri": "https://example.com/forged", "log_excerpt": "all good"});
    let (code, answer) = api.send("PATCH", &path, Some(forged.clone()), None).await;
    assert_eq!(code, StatusCode::CONFLICT, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("awaits a decision"),
        "{answer}"
    );
    let (code, answer) = api
        .send(
            "POST",
            &format!("{path}/approve"),
            Some(json!({"by": "alice"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{answer}");
    let (code, answer) = api.send("PATCH", &path, Some(forged), None).await;
    assert_eq!(code, StatusCode::CONFLICT, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("was approved by `alice`: what was decided on cannot change"),
        "{answer}"
    );
    let now = get_task(&store.db, gate.id).await.unwrap();
    assert_eq!((now.outputs_uri, now.log_excerpt), (None, None));
}

/// Issue: `--run-id ..` was refused with the wrong rule, after creating and migrating the
/// database.
#[tokio::test]
async fn a_bad_run_id_is_refused_before_any_database_is_made() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.yaml"),
        "name: p\ntasks:\n  - task: a\n    run: [\"true\"]\n",
    )
    .unwrap();
    for id in ["..", ".", "a/b"] {
        Cmd::orch_in(dir.path())
            .args(["run", "plan.yaml", "--run-id", id])
            .code(2)
            .stderr_has(&format!(
                "run id `{id}` must be letters, digits, `.`, `_` and `-`, and not `.` or `..`"
            ));
    }
    assert!(!dir.path().join(".orch").exists(), "a database was made");
}
