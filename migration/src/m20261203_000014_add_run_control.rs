//! Run control (`orch cancel`, `orch retry`): a run carries the cancel someone asked for
//! (`agents_runs.cancel_requested_at`, `cancel_requested_by`), which its driver reads at each
//! heartbeat; and `agents_task_attempts` keeps a task row's earlier attempts when it is
//! retried, so the row can run again while what it did before stays visible.
//!
//! No foreign key from the history to `agents_tasks`: `orch prune` deletes a run's rows
//! together, in one transaction, history included.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Frozen copies (see migration 1): only a task that ended `failed` or `skipped` is retried,
/// and only a rejected gate fails.
const RETRIED_STATUSES: [&str; 2] = ["failed", "skipped"];
const APPROVAL_STATES: [&str; 3] = ["pending", "approved", "rejected"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsRuns::Table)
                    .add_column(
                        ColumnDef::new(AgentsRuns::CancelRequestedAt).timestamp_with_time_zone(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsRuns::Table)
                    .add_column(ColumnDef::new(AgentsRuns::CancelRequestedBy).text())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AgentsTaskAttempts::Table)
                    .col(
                        ColumnDef::new(AgentsTaskAttempts::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AgentsTaskAttempts::TaskId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AgentsTaskAttempts::RunId).text().not_null())
                    .col(ColumnDef::new(AgentsTaskAttempts::Task).text().not_null())
                    .col(
                        ColumnDef::new(AgentsTaskAttempts::Attempt)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AgentsTaskAttempts::Status)
                            .text()
                            .not_null()
                            .check((
                                "agents_task_attempts_status_check",
                                Expr::col(AgentsTaskAttempts::Status).is_in(RETRIED_STATUSES),
                            )),
                    )
                    .col(ColumnDef::new(AgentsTaskAttempts::ExitCode).integer())
                    .col(ColumnDef::new(AgentsTaskAttempts::StartedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(AgentsTaskAttempts::FinishedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(AgentsTaskAttempts::DurationMs).big_integer())
                    .col(ColumnDef::new(AgentsTaskAttempts::LogExcerpt).text())
                    .col(ColumnDef::new(AgentsTaskAttempts::OutputsUri).text())
                    .col(
                        ColumnDef::new(AgentsTaskAttempts::ApprovalState)
                            .text()
                            .check((
                                "agents_task_attempts_approval_state_check",
                                Expr::col(AgentsTaskAttempts::ApprovalState).is_in(APPROVAL_STATES),
                            )),
                    )
                    .col(ColumnDef::new(AgentsTaskAttempts::Approver).text())
                    .col(ColumnDef::new(AgentsTaskAttempts::ApprovalNote).text())
                    .col(ColumnDef::new(AgentsTaskAttempts::DecidedAt).timestamp_with_time_zone())
                    .col(
                        ColumnDef::new(AgentsTaskAttempts::RetriedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AgentsTaskAttempts::RetriedBy)
                            .text()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // A task's history is read by task, a run's deleted by run.
        manager
            .create_index(
                Index::create()
                    .name("ix_agents_task_attempts_task_id")
                    .table(AgentsTaskAttempts::Table)
                    .col(AgentsTaskAttempts::TaskId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_agents_task_attempts_run_id")
                    .table(AgentsTaskAttempts::Table)
                    .col(AgentsTaskAttempts::RunId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AgentsTaskAttempts::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsRuns::Table)
                    .drop_column(AgentsRuns::CancelRequestedBy)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsRuns::Table)
                    .drop_column(AgentsRuns::CancelRequestedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AgentsRuns {
    Table,
    CancelRequestedAt,
    CancelRequestedBy,
}

#[derive(DeriveIden)]
enum AgentsTaskAttempts {
    Table,
    Id,
    TaskId,
    RunId,
    Task,
    Attempt,
    Status,
    ExitCode,
    StartedAt,
    FinishedAt,
    DurationMs,
    LogExcerpt,
    OutputsUri,
    ApprovalState,
    Approver,
    ApprovalNote,
    DecidedAt,
    RetriedAt,
    RetriedBy,
}
