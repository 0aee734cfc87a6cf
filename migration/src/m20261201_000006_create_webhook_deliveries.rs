//! Creates `webhook_deliveries`, the outbox of notifications: a row is written before a
//! webhook is sent and updated after each attempt, so a receiver that is down loses nothing
//! (`orch notify retry` sends what is left). The URL is never stored, only its scheme and
//! host; the payload is stored already redacted.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Frozen copies of the values at the time of this migration (see migration 1).
const EVENTS: [&str; 5] = [
    "awaiting_approval",
    "failed",
    "approved",
    "rejected",
    "run_finished",
];
const KINDS: [&str; 3] = ["slack", "email", "webhook"];
const STATUSES: [&str; 3] = ["pending", "delivered", "failed"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(
                        ColumnDef::new(WebhookDeliveries::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    // Null for run-level events (`run_finished`).
                    .col(ColumnDef::new(WebhookDeliveries::TaskId).big_integer())
                    .col(ColumnDef::new(WebhookDeliveries::RunId).text().not_null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Event)
                            .text()
                            .not_null()
                            .check((
                                "webhook_deliveries_event_check",
                                Expr::col(WebhookDeliveries::Event).is_in(EVENTS),
                            )),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::Target).text().not_null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Kind)
                            .text()
                            .not_null()
                            .check((
                                "webhook_deliveries_kind_check",
                                Expr::col(WebhookDeliveries::Kind).is_in(KINDS),
                            )),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::UrlRedacted)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::Payload).text().not_null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Status)
                            .text()
                            .not_null()
                            .check((
                                "webhook_deliveries_status_check",
                                Expr::col(WebhookDeliveries::Status).is_in(STATUSES),
                            )),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::LastStatus).integer())
                    .col(ColumnDef::new(WebhookDeliveries::LastError).text())
                    .col(
                        ColumnDef::new(WebhookDeliveries::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // A sender's claim: nobody else sends this row before then.
                    .col(ColumnDef::new(WebhookDeliveries::LockedUntil).timestamp_with_time_zone())
                    .col(ColumnDef::new(WebhookDeliveries::DeliveredAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_task_id")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::TaskId)
                            .to(AgentsTasks::Table, AgentsTasks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // `orch notify retry` and the sweep at start look for undelivered rows by age.
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_status_created_at")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_task_id")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::TaskId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    TaskId,
    RunId,
    Event,
    Target,
    Kind,
    UrlRedacted,
    Payload,
    Status,
    Attempts,
    LastStatus,
    LastError,
    CreatedAt,
    UpdatedAt,
    LockedUntil,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum AgentsTasks {
    Table,
    Id,
}
