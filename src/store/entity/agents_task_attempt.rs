//! One row of `agents_task_attempts`: a task row's attempt as it ended, copied when the task
//! was retried (`orch retry`), before the row was queued again.

use sea_orm::entity::prelude::*;

use crate::status::{ApprovalState, TaskStatus};

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agents_task_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `agents_tasks` row (no foreign key: pruned with its run).
    pub task_id: i64,
    #[sea_orm(column_type = "Text")]
    pub run_id: String,
    #[sea_orm(column_type = "Text")]
    pub task: String,
    pub attempt: i32,
    pub status: TaskStatus,
    pub exit_code: Option<i32>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub duration_ms: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub log_excerpt: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub outputs_uri: Option<String>,
    pub approval_state: Option<ApprovalState>,
    #[sea_orm(column_type = "Text")]
    pub approver: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub approval_note: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub retried_at: DateTimeUtc,
    /// Who asked for the retry: the OS user on the CLI, the session's user on the page.
    #[sea_orm(column_type = "Text")]
    pub retried_by: String,
}

impl ActiveModelBehavior for ActiveModel {}
