//! The only code that changes a task's status after it was created.
//!
//! A change is a [`Transition`] value (the row, the status it must still have, the status it
//! gets, the columns set on the way). Every path that writes it (one row, a batch on either
//! database, a decision, the reaper of lost tasks, the API's PATCH) builds its WHERE with one
//! function, [`guard`]: `id = ? AND status = <from>`, and when leaving the gate also
//! `approval_state = 'pending'`. The database thus decides between two actors racing for the
//! same row: exactly one wins, and the loser learns what happened instead.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{Expr, Query, SimpleExpr, UpdateStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
};

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
    /// The policy a gate opens with (`votes::GatePolicy` as JSON), groups resolved.
    pub approval_policy: Option<serde_json::Value>,
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
            sets.push((Column::HeartbeatAt, crate::store::clock::db_now(backend)));
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
        if let Some(v) = self.approval_policy {
            sets.push((Column::ApprovalPolicy, Expr::value(v)));
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
            && self.approval_policy.is_none()
            && self.owner.is_none()
            && !self.heartbeat
    }
}

/// Sets columns of task `id` other than its status (and decision), whatever its status: for
/// the orch driving the row (a retry's attempt count), which owns it.
pub async fn update_fields(
    db: &impl ConnectionTrait,
    id: i64,
    change: TaskChange,
) -> Result<agents_task::Model> {
    update_fields_fenced(db, id, change, None).await
}

/// [`update_fields`] by a worker of a task it claimed: only while the row still carries its
/// `fence` (and is running); [`Error::ClaimLost`] otherwise.
pub async fn update_fields_fenced(
    db: &impl ConnectionTrait,
    id: i64,
    change: TaskChange,
    fence: Option<&Fence>,
) -> Result<agents_task::Model> {
    let sets = change.sets(db.get_database_backend());
    if sets.is_empty() {
        return get_task(db, id).await;
    }
    let mut update = Query::update();
    update
        .table(agents_task::Entity)
        .values(sets)
        .and_where(Column::Id.eq(id))
        .returning_all();
    if let Some(fence) = fence {
        update.cond_where(fence.condition());
        update.and_where(Column::Status.eq(TaskStatus::Running.as_str()));
    }
    match returning_one(db, &update).await? {
        Some(row) => Ok(row),
        None if fence.is_some() => Err(Error::ClaimLost {
            id,
            owner: get_task(db, id).await?.owner,
        }),
        None => Err(Error::UnknownTask { id }),
    }
}

/// The API's PATCH: sets columns of a row that is still `read` (the status the caller saw),
/// with or without a status change, through the same guard as every transition. Refused
/// (409) on a row that a live orch drives (that orch writes its columns, and a write beside
/// it would be lost or would contradict the task's real outcome), and on a gate awaiting a
/// decision or decided: what people judge, or judged, must not change under them.
pub async fn patch(
    db: &impl ConnectionTrait,
    id: i64,
    read: TaskStatus,
    to: Option<TaskStatus>,
    change: TaskChange,
    stale_after: std::time::Duration,
) -> Result<agents_task::Model> {
    let backend = db.get_database_backend();
    let sets = match to {
        Some(to) if to != read => Transition::new(id, read, to, change).sets(backend)?,
        _ => change.sets(backend),
    };
    if sets.is_empty() {
        return get_task(db, id).await;
    }
    // Not a running row whose owner still beats.
    let driven = Condition::all()
        .add(Column::Status.eq(TaskStatus::Running))
        .add(Column::Owner.is_not_null())
        // Never NULL inside a NOT: a row without a heartbeat is not driven.
        .add(Column::HeartbeatAt.is_not_null())
        .add(Expr::col(Column::HeartbeatAt).gte(crate::store::clock::db_ago(backend, stale_after)));
    let extra = Condition::all()
        .add(Condition::all().add(driven).not())
        // Never a gate: pending, approved and rejected rows keep the evidence they were
        // (or are being) judged on.
        .add(Column::ApprovalState.is_null());
    let update = guarded(id, read, sets, extra);
    if let Some(row) = returning_one(db, &update).await? {
        return Ok(row);
    }
    let row = get_task(db, id).await?;
    if row.status == read
        && let Some(state) = row.approval_state
    {
        return Err(Error::GateEvidence {
            id,
            state,
            approver: row.approver,
        });
    }
    if row.status == read
        && row.status == TaskStatus::Running
        && let Some(owner) = row.owner
    {
        return Err(Error::DrivenByOrch { id, owner });
    }
    Err(explain_lost(row, read))
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
    let lost = find_lost(db, stale_after, false).await?;
    let mut marked = Vec::new();
    for row in lost {
        if let Some(row) = mark_lost(db, &row, stale_after).await? {
            marked.push(row);
        }
    }
    Ok(marked)
}

/// The running rows whose orch stopped beating `stale_after` ago: with `retry`, only those
/// that say `on_lost: retry` in runs workers drive (`store::requeue::requeue_lost` runs them
/// again), else all the others.
pub(crate) async fn find_lost(
    db: &impl ConnectionTrait,
    stale_after: std::time::Duration,
    retry: bool,
) -> Result<Vec<agents_task::Model>> {
    let backend = db.get_database_backend();
    let queued_runs = Query::select()
        .column(crate::store::agents_run::Column::RunId)
        .from(crate::store::agents_run::Entity)
        .and_where(crate::store::agents_run::Column::Queue.is_not_null())
        .to_owned();
    // Spelled out both ways: `NOT (on_lost = 'retry' AND …)` is NULL, not true, where
    // `on_lost` is NULL.
    let which = if retry {
        Condition::all()
            .add(Column::OnLost.eq("retry"))
            .add(Column::RunId.in_subquery(queued_runs))
    } else {
        Condition::any()
            .add(Column::OnLost.is_null())
            .add(Column::OnLost.ne("retry"))
            .add(Column::RunId.not_in_subquery(queued_runs))
    };
    agents_task::Entity::find()
        .filter(Column::Status.eq(TaskStatus::Running))
        .filter(Column::Owner.is_not_null())
        .filter(
            Expr::col(Column::HeartbeatAt).lt(crate::store::clock::db_ago(backend, stale_after)),
        )
        .filter(which)
        .all(db)
        .await
        .map_err(Error::db)
}

/// Marks lost row `row` `failed` (`orchestrator lost`), re-checking in the same UPDATE that it
/// is still stale: `None` when its orch beat meanwhile, or another actor moved it first.
pub(crate) async fn mark_lost(
    db: &impl ConnectionTrait,
    row: &agents_task::Model,
    stale_after: std::time::Duration,
) -> Result<Option<agents_task::Model>> {
    let backend = db.get_database_backend();
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
    let lost = Transition::new(
        row.id,
        TaskStatus::Running,
        TaskStatus::Failed,
        TaskChange {
            finished_at: Some(at),
            duration_ms: duration,
            log_excerpt: Some(excerpt),
            exit_code: Some(None),
            ..Default::default()
        },
    );
    let stale = Condition::all()
        .add(Expr::col(Column::HeartbeatAt).lt(crate::store::clock::db_ago(backend, stale_after)));
    let update = guarded(row.id, lost.from, lost.sets(backend)?, stale);
    returning_one(db, &update).await
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

/// One guarded status change: task `id` from `from` (which it must still have) to `to`,
/// setting `change` on the way.
#[derive(Clone, Debug)]
pub struct Transition {
    pub id: i64,
    pub from: TaskStatus,
    pub to: TaskStatus,
    pub change: TaskChange,
    /// A worker's write of a task it claimed: the row must still carry its owner and claim.
    pub fence: Option<Fence>,
}

/// Who may still write a claimed task: its worker (`owner`), under the claim it holds (the
/// row's `claim`, raised by every claim). A worker judged lost, whose task was failed or
/// claimed again since, no longer matches, so its late write changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub owner: String,
    pub claim: i64,
}

impl Fence {
    /// The fence of a row as its claim returned it.
    pub fn of(row: &agents_task::Model) -> Option<Fence> {
        Some(Fence {
            owner: row.owner.clone()?,
            claim: row.claim,
        })
    }
}

impl Transition {
    pub fn new(id: i64, from: TaskStatus, to: TaskStatus, change: TaskChange) -> Self {
        Transition {
            id,
            from,
            to,
            change,
            fence: None,
        }
    }

    /// The same change, made only while `fence` still holds.
    pub fn fenced(mut self, fence: Option<Fence>) -> Self {
        self.fence = fence;
        self
    }

    /// Every column it sets, `status` included, or why the move is not allowed.
    pub(crate) fn sets(&self, backend: DbBackend) -> Result<Vec<(Column, SimpleExpr)>> {
        let (from, to) = (self.from, self.to);
        // Leaving the gate is a decision, recorded with who and when: only `decide` does it.
        if !from.can_become(to) || from == TaskStatus::AwaitingApproval {
            return Err(Error::IllegalTransition { from, to });
        }
        let mut sets = self.change.clone().sets(backend);
        if to == TaskStatus::AwaitingApproval {
            sets.push((
                Column::ApprovalState,
                Expr::value(ApprovalState::Pending.as_str()),
            ));
        }
        sets.push((Column::Status, Expr::value(to.as_str())));
        Ok(sets)
    }

    /// The transition as one statement, `RETURNING` the changed row (`store::batch` sends
    /// several at once).
    pub(crate) fn statement(&self, backend: DbBackend) -> Result<UpdateStatement> {
        let mut update = guarded(self.id, self.from, self.sets(backend)?, Condition::all());
        if let Some(fence) = &self.fence {
            update.cond_where(fence.condition());
        }
        Ok(update)
    }

    /// Applies it: the row as it is after the change, or why it could not change.
    pub async fn apply(&self, db: &impl ConnectionTrait) -> Result<agents_task::Model> {
        let update = self.statement(db.get_database_backend())?;
        match returning_one(db, &update).await? {
            Some(row) => Ok(row),
            // Nothing changed: read the row as it is to say why.
            None => {
                let row = get_task(db, self.id).await?;
                match &self.fence {
                    Some(fence) if Fence::of(&row).as_ref() != Some(fence) => {
                        Err(Error::ClaimLost {
                            id: self.id,
                            owner: row.owner,
                        })
                    }
                    _ => Err(explain_lost(row, self.from)),
                }
            }
        }
    }
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
    Transition::new(id, from, to, change).apply(db).await
}

impl Fence {
    /// `owner = ? AND claim = ?`, added to a worker's writes of its task.
    pub(crate) fn condition(&self) -> Condition {
        Condition::all()
            .add(Column::Owner.eq(self.owner.clone()))
            .add(Column::Claim.eq(self.claim))
    }
}

/// The guard every status change carries: the row is still `from`, and when `from` is the
/// gate, still undecided (only one decision may ever be taken).
pub(crate) fn guard(id: i64, from: TaskStatus) -> Condition {
    let mut guard = Condition::all()
        .add(Column::Id.eq(id))
        .add(Column::Status.eq(from));
    if from == TaskStatus::AwaitingApproval {
        guard = guard.add(Column::ApprovalState.eq(ApprovalState::Pending));
    }
    guard
}

/// `UPDATE agents_tasks SET <sets> WHERE <guard> AND <extra> RETURNING *`.
fn guarded(
    id: i64,
    from: TaskStatus,
    sets: Vec<(Column, SimpleExpr)>,
    extra: Condition,
) -> UpdateStatement {
    let mut update = Query::update();
    update
        .table(agents_task::Entity)
        .values(sets)
        .cond_where(guard(id, from))
        .cond_where(extra)
        .returning_all();
    update
}

/// Runs an `UPDATE … RETURNING *` of at most one row. `RETURNING`: the changed row comes
/// back with the change, one statement instead of an UPDATE and a SELECT.
async fn returning_one(
    db: &impl ConnectionTrait,
    update: &UpdateStatement,
) -> Result<Option<agents_task::Model>> {
    let backend = db.get_database_backend();
    agents_task::Model::find_by_statement(backend.build(update))
        .one(db)
        .await
        .map_err(Error::db)
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
    let from = TaskStatus::AwaitingApproval;
    if !from.can_become(to) {
        return Err(Error::IllegalTransition { from, to });
    }
    let mut sets = sets;
    sets.push((Column::Status, Expr::value(to.as_str())));
    let mut extra = Condition::all();
    if let Some(at) = deadline {
        extra = extra.add(
            Condition::any()
                .add(Column::ApprovalDeadline.is_null())
                .add(Column::ApprovalDeadline.gte(at)),
        );
    }
    let update = guarded(id, from, sets, extra);
    let decided = match returning_one(db, &update).await? {
        Some(row) => Ok(row),
        None => Err(explain_lost(get_task(db, id).await?, from)),
    };
    match decided {
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

pub(crate) fn explain_lost(row: agents_task::Model, from: TaskStatus) -> Error {
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
