//! One row of `orch_run_slots`: a place of a run's `concurrency`, free or held by the task
//! that runs in it (migration 20; taken by the claim, freed by a trigger).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orch_run_slots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub run_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: i32,
    pub task_id: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
