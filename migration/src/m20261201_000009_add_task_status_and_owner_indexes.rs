//! Indexes for the reads that grow with history: `orch tasks list --status S` (newest first,
//! so `(status, id)` lets both databases walk the index backwards and stop at the limit), and
//! the heartbeat and recovery, which look running rows up by `owner`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_agents_tasks_status_id")
                    .table(AgentsTasks::Table)
                    .col(AgentsTasks::Status)
                    .col(AgentsTasks::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_agents_tasks_owner_status")
                    .table(AgentsTasks::Table)
                    .col(AgentsTasks::Owner)
                    .col(AgentsTasks::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_agents_tasks_owner_status", "ix_agents_tasks_status_id"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(AgentsTasks::Table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AgentsTasks {
    Table,
    Id,
    Status,
    Owner,
}
