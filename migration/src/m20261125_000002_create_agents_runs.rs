//! Adds what an audit needs: when a decision was taken (`agents_tasks.decided_at`) and one
//! `agents_runs` row per run, holding the exact plan text it ran so that a run can be shown,
//! resumed and audited later even after the plan file changed.

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
                    .add_column(ColumnDef::new(AgentsTasks::DecidedAt).timestamp_with_time_zone())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AgentsRuns::Table)
                    .col(
                        ColumnDef::new(AgentsRuns::RunId)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AgentsRuns::PlanName).text().not_null())
                    .col(ColumnDef::new(AgentsRuns::PlanText).text().not_null())
                    .col(ColumnDef::new(AgentsRuns::PlanSha256).text().not_null())
                    .col(ColumnDef::new(AgentsRuns::GitCommit).text())
                    .col(ColumnDef::new(AgentsRuns::Host).text().not_null())
                    .col(ColumnDef::new(AgentsRuns::OrchVersion).text().not_null())
                    .col(ColumnDef::new(AgentsRuns::Trigger).text().not_null())
                    .col(
                        ColumnDef::new(AgentsRuns::StartedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AgentsRuns::FinishedAt).timestamp_with_time_zone())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_agents_runs_started_at")
                    .table(AgentsRuns::Table)
                    .col(AgentsRuns::StartedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AgentsRuns::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsTasks::Table)
                    .drop_column(AgentsTasks::DecidedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AgentsTasks {
    Table,
    DecidedAt,
}

#[derive(DeriveIden)]
enum AgentsRuns {
    Table,
    RunId,
    PlanName,
    PlanText,
    PlanSha256,
    GitCommit,
    Host,
    OrchVersion,
    Trigger,
    StartedAt,
    FinishedAt,
}
