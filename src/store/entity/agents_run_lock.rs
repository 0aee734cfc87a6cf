//! One row of `agents_run_locks`: a lease on a run (`run:<run_id>`) or a plan
//! (`plan:<name>`), held by one orch process while it drives it.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agents_run_locks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub lock_key: String,
    #[sea_orm(column_type = "Text")]
    pub run_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub plan_name: String,
    /// `host:pid:random`.
    #[sea_orm(column_type = "Text")]
    pub owner: String,
    pub acquired_at: DateTimeUtc,
    /// By the database's clock, so hosts with skewed clocks agree on staleness.
    pub heartbeat_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
