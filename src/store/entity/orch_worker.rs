//! One row of `orch_workers`: a worker process, as `orch workers list` shows it.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orch_workers")]
pub struct Model {
    /// The owner id its claimed tasks carry (`host:pid:random`).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub host: String,
    pub pid: i32,
    #[sea_orm(column_type = "Text")]
    pub version: String,
    /// Its labels as a JSON object (`--label KEY=VALUE`).
    #[sea_orm(column_type = "Text")]
    pub labels: String,
    /// The queues it takes runs from, as a JSON array.
    #[sea_orm(column_type = "Text")]
    pub queues: String,
    pub slots: i32,
    pub started_at: DateTimeUtc,
    /// By the database's clock.
    pub heartbeat_at: DateTimeUtc,
    /// When it was told to drain (SIGTERM): it claims nothing more.
    pub draining_at: Option<DateTimeUtc>,
    /// When it exited cleanly.
    pub stopped_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
