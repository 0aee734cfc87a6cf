//! One-click approval links (`approval: {links: 24h}`): `approval_links`, one row per link
//! sent. A link is a random token (256 bits) of which only the SHA-256 is kept (`token_hash`,
//! unique: found by it, then compared again in constant time); it is bound to one gate's
//! opening (`task_id`, `subject`), one voter and one verdict, expires (`expires_at`) and is
//! spent once (`used_at`, set in the transaction of the vote it cast).
//!
//! Links cascade with their task (`orch prune` deletes them with the run's rows).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Frozen copy of the verdicts at the time of this migration (see migration 17).
const VERDICTS: [&str; 2] = ["approve", "reject"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApprovalLinks::Table)
                    .col(
                        ColumnDef::new(ApprovalLinks::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ApprovalLinks::TaskId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ApprovalLinks::RunId).text().not_null())
                    .col(ColumnDef::new(ApprovalLinks::Subject).text().not_null())
                    .col(ColumnDef::new(ApprovalLinks::Voter).text().not_null())
                    .col(
                        ColumnDef::new(ApprovalLinks::Verdict)
                            .text()
                            .not_null()
                            .check((
                                "approval_links_verdict_check",
                                Expr::col(ApprovalLinks::Verdict).is_in(VERDICTS),
                            )),
                    )
                    .col(ColumnDef::new(ApprovalLinks::TokenHash).text().not_null())
                    .col(
                        ColumnDef::new(ApprovalLinks::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApprovalLinks::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ApprovalLinks::UsedAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_approval_links_task_id")
                            .from(ApprovalLinks::Table, ApprovalLinks::TaskId)
                            .to(AgentsTasks::Table, AgentsTasks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_approval_links_token_hash")
                    .table(ApprovalLinks::Table)
                    .col(ApprovalLinks::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A gate's links are found (and cascade-deleted) by task, a run's pruned by run.
        manager
            .create_index(
                Index::create()
                    .name("ix_approval_links_task_id")
                    .table(ApprovalLinks::Table)
                    .col(ApprovalLinks::TaskId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_approval_links_run_id")
                    .table(ApprovalLinks::Table)
                    .col(ApprovalLinks::RunId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApprovalLinks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AgentsTasks {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApprovalLinks {
    Table,
    Id,
    TaskId,
    RunId,
    Subject,
    Voter,
    Verdict,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}
