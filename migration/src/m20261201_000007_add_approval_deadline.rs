//! `approval_timeout`: a task waiting for a decision carries the time by which it must be
//! decided (`agents_tasks.approval_deadline`); after it, orch rejects the task itself.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsTasks::Table)
                    .add_column(
                        ColumnDef::new(AgentsTasks::ApprovalDeadline).timestamp_with_time_zone(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsTasks::Table)
                    .drop_column(AgentsTasks::ApprovalDeadline)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AgentsTasks {
    Table,
    ApprovalDeadline,
}
