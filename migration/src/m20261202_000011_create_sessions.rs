//! Creates `orch_sessions`: a person logged in to the pages. The cookie holds a random
//! secret; only its SHA-256 digest is stored, as for API tokens. A session stands on the
//! credential it was opened with (a user's token, or the admin token), so revoking that
//! token, its expiry or disabling the user ends the session at the next request.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Frozen copy of `identity::Scope`'s values at the time of this migration (see migration 1).
const SCOPES: [&str; 3] = ["read", "decide", "admin"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrchSessions::Table)
                    .col(
                        ColumnDef::new(OrchSessions::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    // Hex SHA-256 of the cookie's secret; every page request looks it up.
                    .col(
                        ColumnDef::new(OrchSessions::SessionHash)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(OrchSessions::UserName).text().not_null())
                    // The user's token it was opened with; NULL when opened with the admin
                    // token, of which a digest bound to the session's secret is kept instead,
                    // so that changing it ends them.
                    .col(ColumnDef::new(OrchSessions::TokenId).big_integer())
                    .col(ColumnDef::new(OrchSessions::AdminTokenHash).text())
                    .col(
                        ColumnDef::new(OrchSessions::Scope)
                            .text()
                            .not_null()
                            .check((
                                "orch_sessions_scope_check",
                                Expr::col(OrchSessions::Scope).is_in(SCOPES),
                            )),
                    )
                    .col(
                        ColumnDef::new(OrchSessions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrchSessions::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OrchSessions::RevokedAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_orch_sessions_token_id")
                            .from(OrchSessions::Table, OrchSessions::TokenId)
                            .to(OrchApiTokens::Table, OrchApiTokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Expired sessions are deleted by age when new ones open.
        manager
            .create_index(
                Index::create()
                    .name("ix_orch_sessions_expires_at")
                    .table(OrchSessions::Table)
                    .col(OrchSessions::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrchSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OrchSessions {
    Table,
    Id,
    SessionHash,
    UserName,
    TokenId,
    AdminTokenHash,
    Scope,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum OrchApiTokens {
    Table,
    Id,
}
