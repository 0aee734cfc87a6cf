//! One row of `agents_tasks`: one task of one run.

use sea_orm::entity::prelude::*;

use crate::status::{ApprovalState, TaskStatus};

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agents_tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text")]
    pub task: String,
    #[sea_orm(column_type = "Text")]
    pub run_id: String,
    pub status: TaskStatus,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub duration_ms: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    pub inputs: Option<Json>,
    #[sea_orm(column_type = "Text")]
    pub outputs_uri: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub log_excerpt: Option<String>,
    pub approval_state: Option<ApprovalState>,
    #[sea_orm(column_type = "Text")]
    pub approver: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub approval_note: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    /// The last attempt's number (1 unless the task was retried).
    pub attempt: i32,
    /// The last attempt's exit code; null when killed by a signal or never started.
    pub exit_code: Option<i32>,
    /// While awaiting approval with an `approval_timeout`: when orch rejects it undecided.
    pub approval_deadline: Option<DateTimeUtc>,
    /// While running: the orch driving it (`host:pid:random`), and its last sign of life by
    /// the database's clock.
    #[sea_orm(column_type = "Text")]
    pub owner: Option<String>,
    pub heartbeat_at: Option<DateTimeUtc>,
    /// While a gate with an approval policy is open (and after): the policy it opened with,
    /// groups resolved to users (`policy::GatePolicy` as JSON).
    #[sea_orm(column_type = "JsonBinary")]
    pub approval_policy: Option<Json>,
    /// A task of a run workers drive: when its dependencies let it start (a worker may claim
    /// it from then on).
    pub ready_at: Option<DateTimeUtc>,
    /// The fencing token, raised by each claim: a worker's later writes of the task check it
    /// with `owner`, so one judged lost cannot overwrite what happened after.
    pub claim: i64,
    /// The labels a worker must have to claim it (the plan's `runs_on`, a JSON object).
    #[sea_orm(column_type = "Text")]
    pub runs_on: Option<String>,
    /// `retry` when a lost worker's task may run again (the plan's `on_lost`).
    #[sea_orm(column_type = "Text")]
    pub on_lost: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
