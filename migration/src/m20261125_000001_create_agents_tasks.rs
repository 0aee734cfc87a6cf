//! Creates `agents_tasks`, the table every part of orch speaks of: one row per task of a run.
//!
//! The status and approval values are checked by the database as well as by Rust's enums, so a
//! row written by any tool (psql, a script) still holds one of the documented values.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Frozen copies of the values at the time of this migration: later changes to the Rust enums
/// must come with a new migration, never by editing this one.
const STATUSES: [&str; 6] = [
    "queued",
    "running",
    "succeeded",
    "failed",
    "awaiting_approval",
    "skipped",
];
const APPROVAL_STATES: [&str; 3] = ["pending", "approved", "rejected"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AgentsTasks::Table)
                    .col(
                        ColumnDef::new(AgentsTasks::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AgentsTasks::Task).text().not_null())
                    .col(ColumnDef::new(AgentsTasks::RunId).text().not_null())
                    .col(
                        ColumnDef::new(AgentsTasks::Status)
                            .text()
                            .not_null()
                            .check((
                                "agents_tasks_status_check",
                                Expr::col(AgentsTasks::Status).is_in(STATUSES),
                            )),
                    )
                    .col(ColumnDef::new(AgentsTasks::StartedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(AgentsTasks::FinishedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(AgentsTasks::DurationMs).big_integer())
                    .col(ColumnDef::new(AgentsTasks::Inputs).json_binary())
                    .col(ColumnDef::new(AgentsTasks::OutputsUri).text())
                    .col(ColumnDef::new(AgentsTasks::LogExcerpt).text())
                    .col(ColumnDef::new(AgentsTasks::ApprovalState).text().check((
                        "agents_tasks_approval_state_check",
                        Expr::col(AgentsTasks::ApprovalState).is_in(APPROVAL_STATES),
                    )))
                    .col(ColumnDef::new(AgentsTasks::Approver).text())
                    .col(ColumnDef::new(AgentsTasks::ApprovalNote).text())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_agents_tasks_run_id")
                    .table(AgentsTasks::Table)
                    .col(AgentsTasks::RunId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_agents_tasks_started_at")
                    .table(AgentsTasks::Table)
                    .col(AgentsTasks::StartedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AgentsTasks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AgentsTasks {
    Table,
    Id,
    Task,
    RunId,
    Status,
    StartedAt,
    FinishedAt,
    DurationMs,
    Inputs,
    OutputsUri,
    LogExcerpt,
    ApprovalState,
    Approver,
    ApprovalNote,
}
