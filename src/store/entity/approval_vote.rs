//! One row of `approval_votes`: one person's vote on one opening of a gate. Its unique key
//! (task, subject, voter) is what makes each person's vote count once.

use sea_orm::entity::prelude::*;

/// What a vote says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    #[sea_orm(string_value = "approve")]
    Approve,
    #[sea_orm(string_value = "reject")]
    Reject,
}

impl Verdict {
    /// How a sentence says it: `approved`, `rejected`.
    pub fn past(self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        }
    }
}

/// Where a vote came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// `orch approve` / `orch reject` with database access.
    #[sea_orm(string_value = "cli")]
    Cli,
    /// `POST /api/v1/tasks/{id}/approve` (or reject) with a credential.
    #[sea_orm(string_value = "api")]
    Api,
    /// The task page's buttons, in a logged-in session.
    #[sea_orm(string_value = "page")]
    Page,
    /// A one-click link from a notification.
    #[sea_orm(string_value = "link")]
    Link,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Cli => "cli",
            Channel::Api => "api",
            Channel::Page => "page",
            Channel::Link => "link",
        }
    }
}

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_votes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: i64,
    #[sea_orm(column_type = "Text")]
    pub run_id: String,
    /// The digest of the gate's opening the vote was cast on (`policy::subject`).
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub voter: String,
    pub verdict: Verdict,
    #[sea_orm(column_type = "Text")]
    pub note: Option<String>,
    pub channel: Channel,
    pub cast_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
