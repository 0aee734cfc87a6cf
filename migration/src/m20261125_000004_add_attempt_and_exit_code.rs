//! Retries: the row shows its last attempt's number and exit code (null when the process was
//! killed by a signal or never started).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Two statements: SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsTasks::Table)
                    .add_column(
                        ColumnDef::new(AgentsTasks::Attempt)
                            .integer()
                            .not_null()
                            .default(1),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsTasks::Table)
                    .add_column(ColumnDef::new(AgentsTasks::ExitCode).integer())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [AgentsTasks::ExitCode, AgentsTasks::Attempt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AgentsTasks::Table)
                        .drop_column(column)
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
    Attempt,
    ExitCode,
}
