//! Reminders and escalations about gates (`approval_reminders`): the gates still waiting,
//! with the plan saved with their run, and the one insert that claims a reminder. The table's
//! unique key (task, opening, kind, age) decides which sweeper sends it: the insert of the
//! second changes no row.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter};

use crate::error::{Error, Result};
use crate::store::approval_reminder::{self, Column, Entity, ReminderKind};
use crate::store::{ApprovalState, TaskStatus, agents_run, agents_task, now};

/// A gate still waiting for a decision, and the plan text saved with its run.
#[derive(Clone, Debug)]
pub struct OpenGate {
    pub task: agents_task::Model,
    /// When the gate opened: the task's `finished_at`.
    pub opened_at: DateTime<Utc>,
    /// `None` when the run has no record (rows written through the API).
    pub plan_text: Option<String>,
    /// The run's plan, as recorded (`None` without a record).
    pub plan_name: Option<String>,
}

/// Every gate still waiting for a decision, oldest first, with its run's saved plan.
pub async fn open_gates(db: &impl ConnectionTrait) -> Result<Vec<OpenGate>> {
    let tasks = agents_task::Entity::find()
        .filter(agents_task::Column::Status.eq(TaskStatus::AwaitingApproval))
        .filter(agents_task::Column::ApprovalState.eq(ApprovalState::Pending))
        .all(db)
        .await
        .map_err(Error::db)?;
    let mut run_ids: Vec<String> = tasks.iter().map(|t| t.run_id.clone()).collect();
    run_ids.sort();
    run_ids.dedup();
    let mut plans: HashMap<String, (String, String)> = HashMap::new();
    for chunk in run_ids.chunks(500) {
        let runs = agents_run::Entity::find()
            .filter(agents_run::Column::RunId.is_in(chunk.iter().cloned()))
            .all(db)
            .await
            .map_err(Error::db)?;
        plans.extend(
            runs.into_iter()
                .map(|r| (r.run_id, (r.plan_name, r.plan_text))),
        );
    }
    let mut gates: Vec<OpenGate> = tasks
        .into_iter()
        // A gate without `finished_at` was written by hand: it has no age to remind at.
        .filter_map(|task| {
            let run = plans.get(&task.run_id);
            Some(OpenGate {
                opened_at: task.finished_at?,
                plan_text: run.map(|(_, text)| text.clone()),
                plan_name: run.map(|(name, _)| name.clone()),
                task,
            })
        })
        .collect();
    gates.sort_by_key(|g| (g.opened_at, g.task.id));
    Ok(gates)
}

/// A reminder to claim.
#[derive(Clone, Debug)]
pub struct NewReminder {
    pub task_id: i64,
    pub run_id: String,
    pub opened_at: DateTime<Utc>,
    pub kind: ReminderKind,
    pub after_ms: i64,
    pub due_at: DateTime<Utc>,
}

/// Records the reminder unless it already is: `true` when this call inserted it (its sender
/// is the caller), `false` when another process did first.
pub async fn claim(db: &impl ConnectionTrait, new: &NewReminder) -> Result<bool> {
    let row = approval_reminder::ActiveModel {
        id: NotSet,
        task_id: Set(new.task_id),
        run_id: Set(new.run_id.clone()),
        opened_at: Set(new.opened_at),
        kind: Set(new.kind),
        after_ms: Set(new.after_ms),
        due_at: Set(new.due_at),
        created_at: Set(now()),
    };
    let inserted = Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                Column::TaskId,
                Column::OpenedAt,
                Column::Kind,
                Column::AfterMs,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(Error::db)?;
    Ok(inserted == 1)
}

/// The reminders already sent about task `task_id`, oldest first.
pub async fn of_task(
    db: &impl ConnectionTrait,
    task_id: i64,
) -> Result<Vec<approval_reminder::Model>> {
    use sea_orm::QueryOrder;
    Entity::find()
        .filter(Column::TaskId.eq(task_id))
        .order_by_asc(Column::DueAt)
        .all(db)
        .await
        .map_err(Error::db)
}
