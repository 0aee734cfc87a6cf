//! Creating rows. A row is born with a status here; every later status change goes through
//! [`crate::store::transition`].

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, NotSet};

use crate::error::{Error, Result};
use crate::status::{ApprovalState, TaskStatus};
use crate::store::{agents_run, agents_task};

/// A task row to create.
#[derive(Clone, Debug)]
pub struct NewTask {
    pub task: String,
    pub run_id: String,
    pub status: TaskStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub inputs: Option<serde_json::Value>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub outputs_uri: Option<String>,
    pub log_excerpt: Option<String>,
    /// The plan's `runs_on` as a JSON object, for a run workers drive.
    pub runs_on: Option<String>,
    /// The plan's `on_lost`, when it is `retry`.
    pub on_lost: Option<String>,
}

impl NewTask {
    pub fn new(task: impl Into<String>, run_id: impl Into<String>, status: TaskStatus) -> Self {
        NewTask {
            task: task.into(),
            run_id: run_id.into(),
            status,
            started_at: None,
            inputs: None,
            finished_at: None,
            duration_ms: None,
            outputs_uri: None,
            log_excerpt: None,
            runs_on: None,
            on_lost: None,
        }
    }
}

pub async fn insert_task(db: &impl ConnectionTrait, new: NewTask) -> Result<agents_task::Model> {
    // A task born waiting for a decision is pending one: the invariant the decision guard
    // relies on.
    let approval_state =
        (new.status == TaskStatus::AwaitingApproval).then_some(ApprovalState::Pending);
    agents_task::ActiveModel {
        id: NotSet,
        task: Set(new.task),
        run_id: Set(new.run_id),
        status: Set(new.status),
        started_at: Set(new.started_at),
        inputs: Set(new.inputs),
        finished_at: Set(new.finished_at),
        duration_ms: Set(new.duration_ms),
        outputs_uri: Set(new.outputs_uri),
        log_excerpt: Set(new.log_excerpt),
        approval_state: Set(approval_state),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(Error::db)
}

/// Inserts a run's `queued` rows in one transaction, a few hundred rows per statement (the
/// databases bound the number of parameters of one statement).
pub async fn insert_queued(db: &sea_orm::DatabaseConnection, new: Vec<NewTask>) -> Result<()> {
    use sea_orm::{EntityTrait, TransactionTrait};
    let txn = db.begin().await.map_err(Error::db)?;
    for chunk in new.chunks(500) {
        let models = chunk.iter().cloned().map(|n| agents_task::ActiveModel {
            id: NotSet,
            task: Set(n.task),
            run_id: Set(n.run_id),
            status: Set(TaskStatus::Queued),
            inputs: Set(n.inputs),
            runs_on: Set(n.runs_on),
            on_lost: Set(n.on_lost),
            ..Default::default()
        });
        agents_task::Entity::insert_many(models)
            .exec_without_returning(&txn)
            .await
            .map_err(Error::db)?;
    }
    txn.commit().await.map_err(Error::db)
}

/// A run to record before its first task starts.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub run_id: String,
    pub plan_name: String,
    pub plan_text: String,
    pub plan_sha256: String,
    pub git_commit: Option<String>,
    pub host: String,
    pub orch_version: String,
    pub trigger: String,
    pub initiator: Option<String>,
    pub started_at: DateTime<Utc>,
    pub log_dir: Option<String>,
    /// JSON of the run's notification targets (references, never URLs).
    pub notify: Option<String>,
    /// The queue workers take it from (`orch run --enqueue`), and its limit of tasks running
    /// at once across them; both `None` for a run its own `orch run` drives.
    pub queue: Option<String>,
    pub concurrency: Option<i32>,
}

pub async fn insert_run(db: &impl ConnectionTrait, new: NewRun) -> Result<agents_run::Model> {
    agents_run::ActiveModel {
        run_id: Set(new.run_id),
        plan_name: Set(new.plan_name),
        plan_text: Set(new.plan_text),
        plan_sha256: Set(new.plan_sha256),
        git_commit: Set(new.git_commit),
        host: Set(new.host),
        orch_version: Set(new.orch_version),
        trigger: Set(new.trigger),
        started_at: Set(new.started_at),
        finished_at: Set(None),
        log_dir: Set(new.log_dir),
        notify: Set(new.notify),
        cancel_requested_at: Set(None),
        cancel_requested_by: Set(None),
        initiator: Set(new.initiator),
        queue: Set(new.queue),
        concurrency: Set(new.concurrency),
        decisions_seen: NotSet,
    }
    .insert(db)
    .await
    .map_err(Error::db)
}

/// Marks a run finished (not a task status: runs have no status of their own).
pub async fn finish_run(db: &impl ConnectionTrait, run_id: &str, at: DateTime<Utc>) -> Result<()> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    agents_run::Entity::update_many()
        .col_expr(agents_run::Column::FinishedAt, Expr::value(at))
        .filter(agents_run::Column::RunId.eq(run_id))
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(())
}

/// Whether a run id is already used, by a recorded run or by task rows written by anyone.
pub async fn run_id_taken(db: &impl ConnectionTrait, run_id: &str) -> Result<bool> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let runs = agents_run::Entity::find_by_id(run_id.to_owned())
        .count(db)
        .await
        .map_err(Error::db)?;
    if runs > 0 {
        return Ok(true);
    }
    let tasks = agents_task::Entity::find()
        .filter(agents_task::Column::RunId.eq(run_id))
        .count(db)
        .await
        .map_err(Error::db)?;
    Ok(tasks > 0)
}
