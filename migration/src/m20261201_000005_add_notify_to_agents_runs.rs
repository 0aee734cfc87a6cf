//! Saves a run's notification targets (`agents_runs.notify`, JSON) at run start, so that a
//! decision taken later — by `orch approve` on a laptop, or through the API, neither of which
//! reads the plan file — notifies the same targets, and a retried delivery finds its URL
//! again. URLs are saved as `${VAR}` references, never as values.

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
                    .add_column(ColumnDef::new(AgentsRuns::Notify).text())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsRuns::Table)
                    .drop_column(AgentsRuns::Notify)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AgentsRuns {
    Table,
    Notify,
}
