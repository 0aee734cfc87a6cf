//! One row of `approval_links`: a one-click link sent in a notification, bound to one gate's
//! opening, one voter and one verdict. Only the token's SHA-256 is kept.

use sea_orm::entity::prelude::*;

pub use super::approval_vote::Verdict;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: i64,
    #[sea_orm(column_type = "Text")]
    pub run_id: String,
    /// The gate's opening the link was sent for (`gate_policy::subject`).
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub voter: String,
    pub verdict: Verdict,
    /// SHA-256 of the token, hex.
    #[sea_orm(column_type = "Text")]
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
