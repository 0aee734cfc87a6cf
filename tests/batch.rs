//! Transitions committed together (a task's end with the next one's start): all or nothing,
//! rows back in order, on both databases (PostgreSQL takes the one-statement path, SQLite a
//! transaction).

use orch::Error;
use orch::store::TaskStatus::{self, *};
use orch::store::batch::commit;
use orch::store::mutation::{NewTask, insert_task};
use orch::store::query::get_task;
use orch::store::transition::TaskChange;
use orch::store::transition::Transition;
use orch::store::{Store, agents_task};

use rstest::rstest;

use crate::support::{Backend, TestDb};

/// A row of task `name` of run `r`, in `status`.
async fn task(store: &Store, name: &str, status: TaskStatus) -> agents_task::Model {
    insert_task(&store.db, NewTask::new(name, "r", status))
        .await
        .unwrap()
}

fn step(id: i64, from: TaskStatus, to: TaskStatus, excerpt: &str) -> Transition {
    Transition {
        id,
        from,
        to,
        change: TaskChange {
            log_excerpt: Some(excerpt.to_owned()),
            owner: Some("me".to_owned()),
            heartbeat: true,
            ..Default::default()
        },
        fence: None,
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_commits_every_step_in_order(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let a = task(&store, "a", Running).await;
    let b = task(&store, "b", Queued).await;
    let c = task(&store, "c", Queued).await;
    let rows = commit(
        &store,
        &[
            step(a.id, Running, Succeeded, "a's end"),
            step(c.id, Queued, Skipped, "c skipped"),
            step(b.id, Queued, Running, "b's start"),
        ],
    )
    .await
    .unwrap();
    let got: Vec<(i64, TaskStatus)> = rows.iter().map(|r| (r.id, r.status)).collect();
    assert_eq!(
        got,
        vec![(a.id, Succeeded), (c.id, Skipped), (b.id, Running)]
    );
    assert_eq!(rows[0].log_excerpt.as_deref(), Some("a's end"));
    assert!(
        rows[2].heartbeat_at.is_some(),
        "the database clock stamped it"
    );
    assert_eq!(get_task(&store.db, b.id).await.unwrap().status, Running);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_a_lost_guard_records_nothing(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let a = task(&store, "a", Running).await;
    // Another orch already ended `b`: the batch's guard on it fails.
    let b = task(&store, "b", Failed).await;
    let err = commit(
        &store,
        &[
            step(a.id, Running, Succeeded, "a's end"),
            step(b.id, Queued, Running, "b's start"),
        ],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::TransitionLost { id, .. } if id == b.id),
        "{err:?}"
    );
    // All or nothing: `a` was not recorded either.
    let a_now = get_task(&store.db, a.id).await.unwrap();
    assert_eq!(a_now.status, Running);
    assert_eq!(a_now.log_excerpt, None);
    // Every guard failing is reported the same way.
    let err = commit(
        &store,
        &[
            step(b.id, Queued, Running, "x"),
            step(b.id + 1000, Queued, Running, "y"),
        ],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TransitionLost { .. } | Error::UnknownTask { .. }
        ),
        "{err:?}"
    );
}

/// SQLite keeps the batch's text per shape (`store::batch_sql`): the second commit of the same
/// shape reuses the first one's text, and must still record its own values, row by row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_batch_text_records_each_commits_own_values() {
    let Some(db) = TestDb::new(Backend::Sqlite).await else {
        return;
    };
    let store = db.store().await;
    let (a, b, c) = (
        task(&store, "a", Running).await,
        task(&store, "b", Queued).await,
        task(&store, "c", Queued).await,
    );
    commit(
        &store,
        &[
            step(a.id, Running, Succeeded, "a's end"),
            step(b.id, Queued, Running, "b's start"),
        ],
    )
    .await
    .unwrap();
    // Kept only when sea-query's values came in the order batch_sql gathers them.
    assert!(orch::store::batch_sql::kept_shapes() >= 1);
    let rows = commit(
        &store,
        &[
            step(b.id, Running, Failed, "b's end"),
            step(c.id, Queued, Running, "c's start"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [b.id, c.id]);
    for (id, status, excerpt) in [
        (a.id, Succeeded, "a's end"),
        (b.id, Failed, "b's end"),
        (c.id, Running, "c's start"),
    ] {
        let row = get_task(&store.db, id).await.unwrap();
        assert_eq!(row.status, status, "task {id}");
        assert_eq!(row.log_excerpt.as_deref(), Some(excerpt), "task {id}");
    }
}
