//! A run's cancel, as recorded: asked for once (`agents_runs.cancel_requested_at` and `_by`),
//! then what waits is closed through the guarded functions every status change uses: a
//! queued task becomes `skipped`, a gate awaiting a decision is rejected by the canceller.
//! What runs is stopped by its driver, which reads the request at its heartbeat
//! (`lease::beat`); no status of its own: a cancelled task is `failed` (or `skipped`) with
//! the reason in its excerpt, as the six statuses are final.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::{Error, Result};
use crate::store::query::run_tasks;
use crate::store::transition::{Decision, TaskChange, Transition, decide};
use crate::store::{TaskStatus, agents_run, agents_task};

/// The excerpt of a task stopped by a cancel, and the note of a gate it rejected.
pub fn cancelled_by(by: &str) -> String {
    format!("cancelled by {by}")
}

/// The excerpt of a task that never started because of a cancel.
pub fn skipped_cancelled(by: &str) -> String {
    format!("skipped: cancelled by {by}")
}

/// The excerpt of a task that never started because orch received signal `sig`.
pub fn skipped_signal(sig: i32) -> String {
    format!("skipped: orch received signal {sig}")
}

/// Whether a skipped task's excerpt says a stop (a cancel or a signal) kept it from starting,
/// rather than its dependencies: `orch retry` runs those again.
pub fn is_stop_skip(excerpt: &str) -> bool {
    excerpt.starts_with("skipped: cancelled by ")
        || excerpt.starts_with("skipped: orch received signal ")
}

/// What asking for a cancel found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requested {
    /// Recorded now.
    Now,
    /// Asked for before, by this user at this time; the first request stands.
    Already { by: String, at: DateTime<Utc> },
}

/// Records that `by` asks for run `run_id` to stop, unless someone asked first: one guarded
/// update (`… WHERE cancel_requested_at IS NULL`), so of two cancels one is recorded.
pub async fn request(
    db: &impl ConnectionTrait,
    run_id: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Requested> {
    use agents_run::Column as C;
    let updated = agents_run::Entity::update_many()
        .col_expr(C::CancelRequestedAt, Expr::value(at))
        .col_expr(C::CancelRequestedBy, Expr::value(by))
        .filter(C::RunId.eq(run_id))
        .filter(C::CancelRequestedAt.is_null())
        .exec(db)
        .await
        .map_err(Error::db)?;
    if updated.rows_affected == 1 {
        return Ok(Requested::Now);
    }
    let run = agents_run::Entity::find_by_id(run_id.to_owned())
        .one(db)
        .await
        .map_err(Error::db)?
        .ok_or_else(|| Error::UnknownRun {
            run_id: run_id.to_owned(),
        })?;
    Ok(Requested::Already {
        by: run.cancel_requested_by.unwrap_or_default(),
        at: run.cancel_requested_at.unwrap_or(at),
    })
}

/// Rejects gate `id` in `by`'s name, noting the cancel; `None` when it was decided meanwhile
/// (that decision stands).
pub async fn reject_gate(
    db: &impl ConnectionTrait,
    id: i64,
    by: &str,
) -> Result<Option<agents_task::Model>> {
    let decision = Decision {
        approve: false,
        by: by.to_owned(),
        note: Some(cancelled_by(by)),
        at: crate::store::now(),
    };
    match decide(db, id, decision).await {
        Ok(row) => Ok(Some(row)),
        Err(
            Error::AlreadyDecided { .. }
            | Error::ApprovalTimedOut { .. }
            | Error::NotAwaitingDecision { .. },
        ) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Closes what waits in a run nobody drives: its queued tasks are skipped, its gates
/// rejected by `by`. Returns the rows it changed; a row another actor moved first is left
/// as that actor left it.
pub async fn close_waiting(
    db: &impl ConnectionTrait,
    run_id: &str,
    by: &str,
) -> Result<Vec<agents_task::Model>> {
    let mut closed = Vec::new();
    for row in run_tasks(db, run_id).await? {
        let changed = match row.status {
            TaskStatus::Queued => {
                let change = TaskChange {
                    log_excerpt: Some(skipped_cancelled(by)),
                    ..Default::default()
                };
                let skip = Transition::new(row.id, TaskStatus::Queued, TaskStatus::Skipped, change);
                match skip.apply(db).await {
                    Ok(row) => Some(row),
                    Err(Error::TransitionLost { .. }) => None,
                    Err(e) => return Err(e),
                }
            }
            TaskStatus::AwaitingApproval => reject_gate(db, row.id, by).await?,
            _ => None,
        };
        closed.extend(changed);
    }
    Ok(closed)
}
