//! `orch retry`: a task row that failed (or was skipped) runs again as a new attempt. Its
//! attempt as it ended is copied to `agents_task_attempts`, then the row is reset to
//! `queued` with `attempt + 1`, both in one transaction per retry, all rows or none.
//!
//! This is not a status transition (`failed` and `skipped` stay final for every other path,
//! see `status::TaskStatus::can_become`): it starts a new attempt of the row, and is guarded
//! the same way, by the status and attempt it was read with, so two retries of one row, or
//! a retry racing a driver, cannot both win.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use crate::error::{Error, Result};
use crate::status::{ApprovalState, TaskStatus};
use crate::store::{agents_run, agents_task, agents_task_attempt};

/// Whether a row may be run again: it failed (a rejected gate included), or it was skipped.
pub fn retryable(row: &agents_task::Model) -> bool {
    matches!(row.status, TaskStatus::Failed | TaskStatus::Skipped)
}

/// Copies each of `rows` (as read) to the history and queues it again as its next attempt,
/// in `by`'s name; the run's cancel request and end are cleared, as it goes on. Fails with
/// [`Error::TransitionLost`], changing nothing, when a row moved since it was read.
pub async fn requeue(
    db: &DatabaseConnection,
    run_id: &str,
    rows: &[agents_task::Model],
    by: &str,
    at: DateTime<Utc>,
) -> Result<Vec<agents_task::Model>> {
    let txn = db.begin().await.map_err(Error::db)?;
    let queued = requeue_in(&txn, run_id, rows, by, at).await?;
    txn.commit().await.map_err(Error::db)?;
    Ok(queued)
}

/// [`requeue`] inside the caller's transaction.
async fn requeue_in(
    txn: &impl sea_orm::ConnectionTrait,
    run_id: &str,
    rows: &[agents_task::Model],
    by: &str,
    at: DateTime<Utc>,
) -> Result<Vec<agents_task::Model>> {
    use agents_task::Column as C;
    for row in rows {
        history(row, by, at).insert(txn).await.map_err(Error::db)?;
        let none_time: Option<DateTime<Utc>> = None;
        let none_text: Option<String> = None;
        let updated = agents_task::Entity::update_many()
            .col_expr(C::Status, Expr::value(TaskStatus::Queued.as_str()))
            .col_expr(C::Attempt, Expr::col(C::Attempt).add(1))
            .col_expr(C::StartedAt, Expr::value(none_time))
            .col_expr(C::FinishedAt, Expr::value(none_time))
            .col_expr(C::DurationMs, Expr::value(None::<i64>))
            .col_expr(C::ExitCode, Expr::value(None::<i32>))
            .col_expr(C::LogExcerpt, Expr::value(none_text.clone()))
            .col_expr(C::OutputsUri, Expr::value(none_text.clone()))
            .col_expr(C::ApprovalState, Expr::value(none_text.clone()))
            .col_expr(C::Approver, Expr::value(none_text.clone()))
            .col_expr(C::ApprovalNote, Expr::value(none_text.clone()))
            .col_expr(C::DecidedAt, Expr::value(none_time))
            .col_expr(C::ApprovalDeadline, Expr::value(none_time))
            // The next gate, if the task opens one again, takes the plan's policy afresh.
            .col_expr(C::ApprovalPolicy, Expr::value(None::<serde_json::Value>))
            .col_expr(C::Owner, Expr::value(none_text))
            .col_expr(C::HeartbeatAt, Expr::value(none_time))
            // In a run workers drive, readiness is judged again (`runner::advance`).
            .col_expr(C::ReadyAt, Expr::value(none_time))
            .filter(C::Id.eq(row.id))
            .filter(C::Status.eq(row.status))
            .filter(C::Attempt.eq(row.attempt))
            .exec(txn)
            .await
            .map_err(Error::db)?;
        if updated.rows_affected != 1 {
            // Dropped without commit: nothing of this retry is recorded.
            return Err(Error::TransitionLost {
                id: row.id,
                expected: row.status,
            });
        }
    }
    agents_run::Entity::update_many()
        .col_expr(
            agents_run::Column::CancelRequestedAt,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(
            agents_run::Column::CancelRequestedBy,
            Expr::value(None::<String>),
        )
        .col_expr(
            agents_run::Column::FinishedAt,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(agents_run::Column::RunId.eq(run_id))
        .exec(txn)
        .await
        .map_err(Error::db)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    agents_task::Entity::find()
        .filter(C::Id.is_in(ids))
        .order_by_asc(C::Id)
        .all(txn)
        .await
        .map_err(Error::db)
}

/// The lost tasks that say `on_lost: retry`, in runs workers drive: each marked lost and
/// queued again as a new attempt in one transaction (the lost attempt goes to the history),
/// so nobody ever sees the run over in between. Returns the rows as queued again.
pub async fn requeue_lost(
    db: &DatabaseConnection,
    stale_after: std::time::Duration,
) -> Result<Vec<agents_task::Model>> {
    use crate::store::transition::{ORCH_DECIDER, find_lost, mark_lost};
    let mut again = Vec::new();
    for row in find_lost(db, stale_after, true).await? {
        let txn = db.begin().await.map_err(Error::db)?;
        let Some(lost) = mark_lost(&txn, &row, stale_after).await? else {
            continue;
        };
        let at = crate::store::now();
        let queued = requeue_in(&txn, &row.run_id, &[lost], ORCH_DECIDER, at).await?;
        txn.commit().await.map_err(Error::db)?;
        again.extend(queued);
    }
    Ok(again)
}

/// The history row of `row`'s attempt as it ended.
fn history(
    row: &agents_task::Model,
    by: &str,
    at: DateTime<Utc>,
) -> agents_task_attempt::ActiveModel {
    agents_task_attempt::ActiveModel {
        task_id: Set(row.id),
        run_id: Set(row.run_id.clone()),
        task: Set(row.task.clone()),
        attempt: Set(row.attempt),
        status: Set(row.status),
        exit_code: Set(row.exit_code),
        started_at: Set(row.started_at),
        finished_at: Set(row.finished_at),
        duration_ms: Set(row.duration_ms),
        log_excerpt: Set(row.log_excerpt.clone()),
        outputs_uri: Set(row.outputs_uri.clone()),
        approval_state: Set(row.approval_state.filter(|s| *s != ApprovalState::Pending)),
        approver: Set(row.approver.clone()),
        approval_note: Set(row.approval_note.clone()),
        decided_at: Set(row.decided_at),
        retried_at: Set(at),
        retried_by: Set(by.to_owned()),
        ..Default::default()
    }
}

/// A task's earlier attempts, oldest first (`orch tasks show`, the task page).
pub async fn attempts_of(
    db: &impl sea_orm::ConnectionTrait,
    task_id: i64,
) -> Result<Vec<agents_task_attempt::Model>> {
    agents_task_attempt::Entity::find()
        .filter(agents_task_attempt::Column::TaskId.eq(task_id))
        .order_by_asc(agents_task_attempt::Column::Id)
        .all(db)
        .await
        .map_err(Error::db)
}
