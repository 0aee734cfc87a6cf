//! Creates `approval_reminders`: one row per reminder or escalation sent about a gate, written
//! in the transaction that records its deliveries. Its UNIQUE key (the task, when its gate
//! opened, the kind, the age) makes "each reminder is sent once" a fact of the database: a
//! second sweeper's insert of the same reminder changes nothing, and it moves on. A gate opened
//! again later (the task run anew) has another opening time, so reminders of its own.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Frozen copy of the kinds at the time of this migration (see migration 1).
const KINDS: [&str; 2] = ["remind", "escalate"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApprovalReminders::Table)
                    .col(
                        ColumnDef::new(ApprovalReminders::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ApprovalReminders::TaskId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ApprovalReminders::RunId).text().not_null())
                    // The task's `finished_at` when it started to wait: which opening of the
                    // gate this reminder is about.
                    .col(
                        ColumnDef::new(ApprovalReminders::OpenedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApprovalReminders::Kind)
                            .text()
                            .not_null()
                            .check((
                                "approval_reminders_kind_check",
                                Expr::col(ApprovalReminders::Kind).is_in(KINDS),
                            )),
                    )
                    // The gate's age it is sent at, as the plan wrote it in milliseconds.
                    .col(
                        ColumnDef::new(ApprovalReminders::AfterMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApprovalReminders::DueAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApprovalReminders::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_approval_reminders_task_id")
                            .from(ApprovalReminders::Table, ApprovalReminders::TaskId)
                            .to(AgentsTasks::Table, AgentsTasks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_approval_reminders_once")
                    .table(ApprovalReminders::Table)
                    .col(ApprovalReminders::TaskId)
                    .col(ApprovalReminders::OpenedAt)
                    .col(ApprovalReminders::Kind)
                    .col(ApprovalReminders::AfterMs)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApprovalReminders::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ApprovalReminders {
    Table,
    Id,
    TaskId,
    RunId,
    OpenedAt,
    Kind,
    AfterMs,
    DueAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AgentsTasks {
    Table,
    Id,
}
