//! One row of `orch_api_tokens`: a bearer token of a user, stored only as its SHA-256 (hex).
//! `Debug` is derived: the row holds no secret (a digest cannot be presented as a token).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orch_api_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    #[sea_orm(column_type = "Text", unique)]
    pub token_hash: String,
    /// One of `identity::Scope`'s values (the database checks it too).
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    pub created_at: DateTimeUtc,
    /// `None`: never expires.
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
