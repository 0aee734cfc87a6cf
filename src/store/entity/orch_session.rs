//! One row of `orch_sessions`: a login to the pages, stored only as the digest of the
//! cookie's secret.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orch_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text", unique)]
    pub session_hash: String,
    #[sea_orm(column_type = "Text")]
    pub user_name: String,
    /// The user's token the session was opened with; `None` for the admin token.
    pub token_id: Option<i64>,
    /// When opened with the admin token: its digest bound to the session's secret (changing
    /// `ORCH_API_TOKEN` ends these; the admin token cannot be guessed from it).
    #[sea_orm(column_type = "Text", nullable)]
    pub admin_token_hash: Option<String>,
    /// One of `identity::Scope`'s values (the database checks it too).
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
