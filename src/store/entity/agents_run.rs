//! One row of `agents_runs`: what a run was started from, so it can be audited and resumed.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agents_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub run_id: String,
    #[sea_orm(column_type = "Text")]
    pub plan_name: String,
    #[sea_orm(column_type = "Text")]
    pub plan_text: String,
    #[sea_orm(column_type = "Text")]
    pub plan_sha256: String,
    #[sea_orm(column_type = "Text")]
    pub git_commit: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub host: String,
    #[sea_orm(column_type = "Text")]
    pub orch_version: String,
    #[sea_orm(column_type = "Text")]
    pub trigger: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// Where the run's task logs live (`<log_dir>/<run_id>/<task>.log`).
    #[sea_orm(column_type = "Text")]
    pub log_dir: Option<String>,
    /// The run's notification targets as JSON (`notify::Target`s, URLs as `${VAR}`).
    #[sea_orm(column_type = "Text")]
    pub notify: Option<String>,
    /// When someone asked `orch cancel` (or the page's Cancel) to stop the run, and who: the
    /// driver reads it at its heartbeat. Cleared when the run is retried.
    pub cancel_requested_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub cancel_requested_by: Option<String>,
    /// Who started the run (the operating-system user, or `GITHUB_ACTOR` in GitHub Actions):
    /// a gate with `forbid_self` refuses their vote. Null for runs from before it was kept.
    #[sea_orm(column_type = "Text")]
    pub initiator: Option<String>,
    /// The queue workers take the run's tasks from (`orch run --enqueue`); null for a run
    /// the `orch run` that recorded it drives.
    #[sea_orm(column_type = "Text")]
    pub queue: Option<String>,
    /// A queued run's limit of tasks running at once, across all workers (held by its rows
    /// in `orch_run_slots`).
    pub concurrency: Option<i32>,
    /// How many of its gates were decided when a worker last judged what is ready.
    pub decisions_seen: i32,
}

impl ActiveModelBehavior for ActiveModel {}
