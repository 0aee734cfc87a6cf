//! Crash safety: who is driving a run. `agents_run_locks` holds one lease row per run being
//! driven (`run:<run_id>`) and per plan being run (`plan:<name>`, against cron overlap),
//! with its owner and a heartbeat; each running task row carries the same owner and
//! heartbeat, so a task whose orch died (SIGKILL, a lost machine) can be told from one that
//! is still running, and marked `failed` instead of staying `running` forever.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AgentsRunLocks::Table)
                    .col(
                        ColumnDef::new(AgentsRunLocks::LockKey)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AgentsRunLocks::RunId).text())
                    .col(ColumnDef::new(AgentsRunLocks::PlanName).text().not_null())
                    .col(ColumnDef::new(AgentsRunLocks::Owner).text().not_null())
                    .col(
                        ColumnDef::new(AgentsRunLocks::AcquiredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AgentsRunLocks::HeartbeatAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Two statements: SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsTasks::Table)
                    .add_column(ColumnDef::new(AgentsTasks::Owner).text())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsTasks::Table)
                    .add_column(ColumnDef::new(AgentsTasks::HeartbeatAt).timestamp_with_time_zone())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [AgentsTasks::HeartbeatAt, AgentsTasks::Owner] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AgentsTasks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(AgentsRunLocks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AgentsRunLocks {
    Table,
    LockKey,
    RunId,
    PlanName,
    Owner,
    AcquiredAt,
    HeartbeatAt,
}

#[derive(DeriveIden)]
enum AgentsTasks {
    Table,
    Owner,
    HeartbeatAt,
}
