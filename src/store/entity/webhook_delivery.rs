//! One row of `webhook_deliveries`: one notification to one target, recorded before it is
//! sent and updated after every attempt.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Where a delivery stands. `pending` is retried (by `orch notify retry`, and by the next
/// `orch run`, `approve` or `reject` once it is a minute old); `failed` means the receiver
/// refused it (a 4xx other than 429), which only an explicit `orch notify retry` repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "delivered")]
    Delivered,
    #[sea_orm(string_value = "failed")]
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub run_id: String,
    /// One of `notify::Event` (the CHECK constraint holds the list).
    #[sea_orm(column_type = "Text")]
    pub event: String,
    /// `slack`, `email`, or the plan's name for the target.
    #[sea_orm(column_type = "Text")]
    pub target: String,
    /// One of `notify::TargetKind`.
    #[sea_orm(column_type = "Text")]
    pub kind: String,
    /// Scheme and host only: the rest of a webhook URL is its credential.
    #[sea_orm(column_type = "Text")]
    pub url_redacted: String,
    /// The exact body sent, already redacted.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_status: Option<i32>,
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
