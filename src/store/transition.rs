//! The only code that changes a task's status after it was created.
//!
//! Every change is one conditional UPDATE (`… WHERE id = ? AND status = <from>`, and for a
//! decision `AND approval_state = 'pending'`) followed by a check of the rows affected, so
//! the database decides between two actors racing for the same row: exactly one wins, and
//! the loser learns what happened instead.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{Expr, SimpleExpr, UpdateStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryTrait};

use crate::error::{Error, Result};
use crate::status::{ApprovalState, TaskStatus};
use crate::store::agents_task::{self, Column};
use crate::store::query::get_task;

/// The columns a transition may set besides `status`; `None` leaves a column as it is.
#[derive(Clone, Debug, Default)]
pub struct TaskChange {
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub outputs_uri: Option<String>,
    pub log_excerpt: Option<String>,
    pub inputs: Option<serde_json::Value>,
    pub attempt: Option<i32>,
    /// `Some(None)` clears it (a signal or a failed start has no exit code).
    pub exit_code: Option<Option<i32>>,
    pub approval_deadline: Option<DateTime<Utc>>,
    /// The orch process now driving the task (`host:pid:random`).
    pub owner: Option<String>,
    /// Stamp `heartbeat_at` with the database's clock.
    pub heartbeat: bool,
}

impl TaskChange {
    fn sets(self, backend: DbBackend) -> Vec<(Column, SimpleExpr)> {
        let mut sets: Vec<(Column, SimpleExpr)> = Vec::new();
        if let Some(v) = self.owner {
            sets.push((Column::Owner, Expr::value(v)));
        }
        if self.heartbeat {
            sets.push((Column::HeartbeatAt, crate::store::clock::now(backend)));
        }
        if let Some(v) = self.started_at {
            sets.push((Column::StartedAt, Expr::value(v)));
        }
        if let Some(v) = self.finished_at {
            sets.push((Column::FinishedAt, Expr::value(v)));
        }
        if let Some(v) = self.duration_ms {
            sets.push((Column::DurationMs, Expr::value(v)));
        }
        if let Some(v) = self.outputs_uri {
            sets.push((Column::OutputsUri, Expr::value(v)));
        }
        if let Some(v) = self.log_excerpt {
            sets.push((Column::LogExcerpt, Expr::value(v)));
        }
        if let Some(v) = self.inputs {
            sets.push((Column::Inputs, Expr::value(v)));
        }
        if let Some(v) = self.attempt {
            sets.push((Column::Attempt, Expr::value(v)));
        }
        if let Some(v) = self.exit_code {
            sets.push((Column::ExitCode, Expr::value(v)));
        }
        if let Some(v) = self.approval_deadline {
            sets.push((Column::ApprovalDeadline, Expr::value(v)));
        }
        sets
    }

    pub fn is_empty(&self) -> bool {
        self.started_at.is_none()
            && self.finished_at.is_none()
            && self.duration_ms.is_none()
            && self.outputs_uri.is_none()
            && self.log_excerpt.is_none()
            && self.inputs.is_none()
            && self.attempt.is_none()
            && self.exit_code.is_none()
            && self.approval_deadline.is_none()
            && self.owner.is_none()
            && !self.heartbeat
    }
}

/// Sets columns of task `id` other than its status (and decision), whatever its status.
pub async fn update_fields(
    db: &impl ConnectionTrait,
    id: i64,
    change: TaskChange,
) -> Result<agents_task::Model> {
    let sets = change.sets(db.get_database_backend());
    if sets.is_empty() {
        return get_task(db, id).await;
    }
    let mut update = agents_task::Entity::update_many().filter(Column::Id.eq(id));
    for (col, value) in sets {
        update = update.col_expr(col, value);
    }
    match update
        .exec_with_returning(db)
        .await
        .map_err(Error::db)?
        .pop()
    {
        Some(row) => Ok(row),
        None => Err(Error::UnknownTask { id }),
    }
}

/// Who orch records as the decider when it rejects a task whose decision did not come in
/// time, and the note it leaves.
pub const ORCH_DECIDER: &str = "orch";
pub const TIMED_OUT_NOTE: &str = "approval timed out";

/// Rejects every task still waiting for a decision past its `approval_deadline`, through the
/// same guarded decision as a person's (so a person deciding at that moment either wins or
/// is told). Returns the rows it rejected.
pub async fn expire_approvals(
    db: &impl ConnectionTrait,
    at: DateTime<Utc>,
) -> Result<Vec<agents_task::Model>> {
    let overdue = agents_task::Entity::find()
        .filter(Column::Status.eq(TaskStatus::AwaitingApproval))
        .filter(Column::ApprovalState.eq(ApprovalState::Pending))
        .filter(Column::ApprovalDeadline.lt(at))
        .all(db)
        .await
        .map_err(Error::db)?;
    let mut rejected = Vec::new();
    for row in overdue {
        let decision = Decision {
            approve: false,
            by: ORCH_DECIDER.to_owned(),
            note: Some(TIMED_OUT_NOTE.to_owned()),
            at,
        };
        match decide(db, row.id, decision).await {
            Ok(row) => rejected.push(row),
            // Someone decided in the meantime: theirs stands.
            Err(Error::AlreadyDecided { .. } | Error::ApprovalTimedOut { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(rejected)
}

/// Marks `failed` every running task whose orch stopped sending heartbeats `stale_after`
/// ago (killed outright, or its machine lost), so nothing stays `running` forever. Each row
/// is changed by its own guarded UPDATE that re-checks the staleness, so a task whose orch
/// beat meanwhile is left alone. Rows without an owner (written through the API) are not
/// orch's to judge. Returns the rows it marked.
pub async fn reap_lost(
    db: &impl ConnectionTrait,
    stale_after: std::time::Duration,
) -> Result<Vec<agents_task::Model>> {
    let backend = db.get_database_backend();
    let stale =
        || Expr::col(Column::HeartbeatAt).lt(crate::store::clock::ago(backend, stale_after));
    let lost = agents_task::Entity::find()
        .filter(Column::Status.eq(TaskStatus::Running))
        .filter(Column::Owner.is_not_null())
        .filter(stale())
        .all(db)
        .await
        .map_err(Error::db)?;
    let mut marked = Vec::new();
    for row in lost {
        let at = crate::store::now();
        let excerpt = format!(
            "{LOST_NOTE}: {} stopped sending heartbeats{}; the task's process may have gone \
             on without it",
            row.owner.as_deref().unwrap_or("its orch"),
            row.heartbeat_at
                .as_ref()
                .map(|h| format!(" (last at {})", crate::store::json::timestamp(h)))
                .unwrap_or_default()
        );
        let duration = row
            .started_at
            .map(|s| std::cmp::max((at - s).num_milliseconds(), 0));
        let result = agents_task::Entity::update_many()
            .col_expr(Column::Status, Expr::value(TaskStatus::Failed.as_str()))
            .col_expr(Column::FinishedAt, Expr::value(at))
            .col_expr(Column::DurationMs, Expr::value(duration))
            .col_expr(Column::LogExcerpt, Expr::value(excerpt))
            .col_expr(Column::ExitCode, Expr::value(Option::<i32>::None))
            .filter(Column::Id.eq(row.id))
            .filter(Column::Status.eq(TaskStatus::Running))
            .filter(stale())
            .exec(db)
            .await
            .map_err(Error::db)?;
        if result.rows_affected == 1 {
            marked.push(get_task(db, row.id).await?);
        }
    }
    Ok(marked)
}

/// The first words of a lost task's excerpt.
pub const LOST_NOTE: &str = "orchestrator lost";

/// A human's (or orch's) decision on a task awaiting approval.
#[derive(Clone, Debug)]
pub struct Decision {
    pub approve: bool,
    pub by: String,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// Moves task `id` from `from` to `to`, setting `change`, if and only if it is still in
/// `from`. Returns the row as it is after the change.
pub async fn transition(
    db: &impl ConnectionTrait,
    id: i64,
    from: TaskStatus,
    to: TaskStatus,
    change: TaskChange,
) -> Result<agents_task::Model> {
    let sets = transition_sets(db.get_database_backend(), from, to, change)?;
    guarded_update(db, id, from, to, sets).await
}

/// The columns [`transition`] sets (status aside), or why the move is not allowed.
fn transition_sets(
    backend: DbBackend,
    from: TaskStatus,
    to: TaskStatus,
    change: TaskChange,
) -> Result<Vec<(Column, SimpleExpr)>> {
    if from == TaskStatus::AwaitingApproval {
        // Leaving the gate is a decision, recorded with who and when: only `decide` does it.
        return Err(Error::IllegalTransition { from, to });
    }
    let mut sets = change.sets(backend);
    if to == TaskStatus::AwaitingApproval {
        sets.push((
            Column::ApprovalState,
            Expr::value(ApprovalState::Pending.as_str()),
        ));
    }
    Ok(sets)
}

/// Every column [`transition`] sets, `status` included, or why the move is not allowed: for
/// `store::batch`, which writes several transitions in one UPDATE.
pub(crate) fn step_sets(
    backend: DbBackend,
    from: TaskStatus,
    to: TaskStatus,
    change: TaskChange,
) -> Result<Vec<(Column, SimpleExpr)>> {
    if !from.can_become(to) {
        return Err(Error::IllegalTransition { from, to });
    }
    let mut sets = transition_sets(backend, from, to, change)?;
    sets.push((Column::Status, Expr::value(to.as_str())));
    Ok(sets)
}

/// [`transition`] as a statement of its own, `RETURNING` the changed row: for callers that
/// send several at once (`store::batch`).
pub(crate) fn transition_statement(
    backend: DbBackend,
    id: i64,
    from: TaskStatus,
    to: TaskStatus,
    change: TaskChange,
) -> Result<UpdateStatement> {
    let sets = transition_sets(backend, from, to, change)?;
    let mut stmt = guarded_update_many(id, from, to, sets, None)?.into_query();
    stmt.returning_all();
    Ok(stmt)
}

pub async fn decide(
    db: &impl ConnectionTrait,
    id: i64,
    decision: Decision,
) -> Result<agents_task::Model> {
    let (to, state) = if decision.approve {
        (TaskStatus::Succeeded, ApprovalState::Approved)
    } else {
        (TaskStatus::Failed, ApprovalState::Rejected)
    };
    // A person's decision must come before the deadline, checked by the same UPDATE so that
    // one arriving just after it cannot slip in before orch's own rejection.
    let deadline = (decision.by != ORCH_DECIDER).then_some(decision.at);
    let at = decision.at;
    let sets = vec![
        (Column::ApprovalState, Expr::value(state.as_str())),
        (Column::Approver, Expr::value(decision.by)),
        (Column::ApprovalNote, Expr::value(decision.note)),
        (Column::DecidedAt, Expr::value(decision.at)),
    ];
    match guarded_update_by(db, id, TaskStatus::AwaitingApproval, to, sets, deadline).await {
        Err(Error::NotAwaitingDecision { .. }) | Err(Error::TransitionLost { .. })
            if deadline.is_some() =>
        {
            let row = get_task(db, id).await?;
            match row.approval_deadline {
                Some(d) if d < at && row.status == TaskStatus::AwaitingApproval => {
                    Err(Error::ApprovalTimedOut {
                        id,
                        decided_at: None,
                    })
                }
                _ => Err(explain_lost(row, TaskStatus::AwaitingApproval)),
            }
        }
        other => other,
    }
}

async fn guarded_update(
    db: &impl ConnectionTrait,
    id: i64,
    from: TaskStatus,
    to: TaskStatus,
    sets: Vec<(Column, SimpleExpr)>,
) -> Result<agents_task::Model> {
    guarded_update_by(db, id, from, to, sets, None).await
}

/// [`guarded_update`], and when `before_deadline` is given, only if the row's
/// `approval_deadline` (if any) is not before it.
async fn guarded_update_by(
    db: &impl ConnectionTrait,
    id: i64,
    from: TaskStatus,
    to: TaskStatus,
    sets: Vec<(Column, SimpleExpr)>,
    before_deadline: Option<DateTime<Utc>>,
) -> Result<agents_task::Model> {
    let update = guarded_update_many(id, from, to, sets, before_deadline)?;
    // `RETURNING`: the changed row comes back with the change, one statement instead of
    // an UPDATE and a SELECT (both databases support it).
    let mut changed = update.exec_with_returning(db).await.map_err(Error::db)?;
    if let Some(row) = changed.pop() {
        return Ok(row);
    }
    // Nothing changed: read the row as it is to say why.
    Err(explain_lost(get_task(db, id).await?, from))
}

/// `UPDATE agents_tasks SET status = <to>, … WHERE id = <id> AND status = <from> …`.
fn guarded_update_many(
    id: i64,
    from: TaskStatus,
    to: TaskStatus,
    sets: Vec<(Column, SimpleExpr)>,
    before_deadline: Option<DateTime<Utc>>,
) -> Result<sea_orm::UpdateMany<agents_task::Entity>> {
    if !from.can_become(to) {
        return Err(Error::IllegalTransition { from, to });
    }
    let mut update = agents_task::Entity::update_many()
        .col_expr(Column::Status, Expr::value(to.as_str()))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(from));
    if from == TaskStatus::AwaitingApproval {
        // Leaving `awaiting_approval` is a decision: only one may ever be taken.
        update = update.filter(Column::ApprovalState.eq(ApprovalState::Pending));
    }
    if let Some(at) = before_deadline {
        update = update.filter(
            sea_orm::Condition::any()
                .add(Column::ApprovalDeadline.is_null())
                .add(Column::ApprovalDeadline.gte(at)),
        );
    }
    for (col, value) in sets {
        update = update.col_expr(col, value);
    }
    Ok(update)
}

fn explain_lost(row: agents_task::Model, from: TaskStatus) -> Error {
    if from == TaskStatus::AwaitingApproval {
        let timed_out = row.approver.as_deref() == Some(ORCH_DECIDER)
            && row.approval_note.as_deref() == Some(TIMED_OUT_NOTE);
        return match row.approval_state {
            Some(ApprovalState::Rejected) if timed_out => Error::ApprovalTimedOut {
                id: row.id,
                decided_at: row.decided_at,
            },
            Some(state @ (ApprovalState::Approved | ApprovalState::Rejected)) => {
                Error::AlreadyDecided {
                    id: row.id,
                    state,
                    approver: row.approver,
                    decided_at: row.decided_at,
                }
            }
            _ => Error::NotAwaitingDecision {
                id: row.id,
                status: row.status,
            },
        };
    }
    Error::TransitionLost {
        id: row.id,
        expected: from,
    }
}
