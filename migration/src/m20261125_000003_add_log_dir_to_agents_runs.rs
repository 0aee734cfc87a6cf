//! Records where a run wrote its task logs (`orch run --log-dir`), so `orch logs ID` finds
//! them later without being told again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsRuns::Table)
                    .add_column(ColumnDef::new(AgentsRuns::LogDir).text())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsRuns::Table)
                    .drop_column(AgentsRuns::LogDir)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AgentsRuns {
    Table,
    LogDir,
}
