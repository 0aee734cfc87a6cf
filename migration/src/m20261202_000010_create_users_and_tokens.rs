//! Creates `orch_users`, `orch_user_groups` and `orch_api_tokens`: who may use the API, the
//! groups they are in (one row per membership, so "is user X in group G" is one indexed
//! lookup), and their bearer tokens. A token is stored only as its SHA-256 digest; the
//! token itself is printed once by `orch tokens create` and never kept.

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
                    .table(OrchUsers::Table)
                    .col(
                        ColumnDef::new(OrchUsers::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OrchUsers::Name)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(OrchUsers::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OrchUsers::DisabledAt).timestamp_with_time_zone())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrchUserGroups::Table)
                    .col(
                        ColumnDef::new(OrchUserGroups::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OrchUserGroups::GroupName).text().not_null())
                    .primary_key(
                        Index::create()
                            .col(OrchUserGroups::UserId)
                            .col(OrchUserGroups::GroupName),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_orch_user_groups_user_id")
                            .from(OrchUserGroups::Table, OrchUserGroups::UserId)
                            .to(OrchUsers::Table, OrchUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // "Who is in group G" (the approval policy of the next issue).
        manager
            .create_index(
                Index::create()
                    .name("ix_orch_user_groups_group_name")
                    .table(OrchUserGroups::Table)
                    .col(OrchUserGroups::GroupName)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrchApiTokens::Table)
                    .col(
                        ColumnDef::new(OrchApiTokens::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OrchApiTokens::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    // Hex SHA-256 of the token; every request looks it up by this.
                    .col(
                        ColumnDef::new(OrchApiTokens::TokenHash)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(OrchApiTokens::Scope)
                            .text()
                            .not_null()
                            .check((
                                "orch_api_tokens_scope_check",
                                Expr::col(OrchApiTokens::Scope).is_in(SCOPES),
                            )),
                    )
                    .col(
                        ColumnDef::new(OrchApiTokens::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OrchApiTokens::ExpiresAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(OrchApiTokens::RevokedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(OrchApiTokens::LastUsedAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_orch_api_tokens_user_id")
                            .from(OrchApiTokens::Table, OrchApiTokens::UserId)
                            .to(OrchUsers::Table, OrchUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrchApiTokens::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OrchUserGroups::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OrchUsers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OrchUsers {
    Table,
    Id,
    Name,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum OrchUserGroups {
    Table,
    UserId,
    GroupName,
}

#[derive(DeriveIden)]
enum OrchApiTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    Scope,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}
