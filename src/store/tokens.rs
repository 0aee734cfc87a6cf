//! `orch_api_tokens`: creating (only the digest is stored), listing, revoking (one guarded
//! update), and finding the row a presented token's digest names.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::error::{Error, Result};
use crate::scope::Scope;
use crate::store::entity::{orch_api_token, orch_user};

/// A token row with its user's name, as listings show it (never the digest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub token: orch_api_token::Model,
    pub user: String,
}

pub async fn create(
    db: &impl ConnectionTrait,
    user_id: i64,
    digest: String,
    scope: Scope,
    expires_at: Option<DateTime<Utc>>,
) -> Result<orch_api_token::Model> {
    orch_api_token::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(digest),
        scope: Set(scope.as_str().to_owned()),
        created_at: Set(crate::store::now()),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(Error::db)
}

/// Every token, oldest first, with its user's name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<TokenRow>> {
    let tokens = orch_api_token::Entity::find()
        .order_by_asc(orch_api_token::Column::Id)
        .all(db)
        .await
        .map_err(Error::db)?;
    let users = orch_user::Entity::find().all(db).await.map_err(Error::db)?;
    Ok(tokens
        .into_iter()
        .map(|token| TokenRow {
            user: users
                .iter()
                .find(|u| u.id == token.user_id)
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            token,
        })
        .collect())
}

/// What `revoke` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
}

/// Revokes token `id` with `UPDATE … WHERE id = ? AND revoked_at IS NULL`: of two revokes,
/// one changes the row and the other is told it was revoked already.
pub async fn revoke(db: &impl ConnectionTrait, id: i64) -> Result<Revoked> {
    let result = orch_api_token::Entity::update_many()
        .col_expr(
            orch_api_token::Column::RevokedAt,
            Expr::value(crate::store::now()),
        )
        .filter(orch_api_token::Column::Id.eq(id))
        .filter(orch_api_token::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(Error::db)?;
    if result.rows_affected == 1 {
        return Ok(Revoked::Now);
    }
    match orch_api_token::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(Error::db)?
    {
        Some(_) => Ok(Revoked::Already),
        None => Err(Error::UnknownApiToken { id }),
    }
}

/// The token row whose digest is `digest`, with its user.
pub async fn by_digest(
    db: &impl ConnectionTrait,
    digest: &str,
) -> Result<Option<(orch_api_token::Model, orch_user::Model)>> {
    let token = orch_api_token::Entity::find()
        .filter(orch_api_token::Column::TokenHash.eq(digest))
        .one(db)
        .await
        .map_err(Error::db)?;
    with_user(db, token).await
}

/// Token `id` with its user (what a page session stands on).
pub async fn by_id(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<(orch_api_token::Model, orch_user::Model)>> {
    let token = orch_api_token::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(Error::db)?;
    with_user(db, token).await
}

async fn with_user(
    db: &impl ConnectionTrait,
    token: Option<orch_api_token::Model>,
) -> Result<Option<(orch_api_token::Model, orch_user::Model)>> {
    let Some(token) = token else {
        return Ok(None);
    };
    let user = orch_user::Entity::find_by_id(token.user_id)
        .one(db)
        .await
        .map_err(Error::db)?;
    Ok(user.map(|u| (token, u)))
}

/// Whether any token is usable now (not revoked, not expired): then the API is no longer
/// open on loopback.
pub async fn any_active(db: &impl ConnectionTrait) -> Result<bool> {
    let now = crate::store::now();
    Ok(orch_api_token::Entity::find()
        .filter(orch_api_token::Column::RevokedAt.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(orch_api_token::Column::ExpiresAt.is_null())
                .add(orch_api_token::Column::ExpiresAt.gt(now)),
        )
        .one(db)
        .await
        .map_err(Error::db)?
        .is_some())
}

/// Whether any token was ever issued, revoked and expired ones included: once one was, the
/// API on loopback is closed for good (a last token expiring or revoked must not reopen it).
pub async fn any_issued(db: &impl ConnectionTrait) -> Result<bool> {
    Ok(orch_api_token::Entity::find()
        .one(db)
        .await
        .map_err(Error::db)?
        .is_some())
}

/// How stale `last_used_at` may get before a request writes it again.
pub const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Marks the token used, at most once a minute (best effort: a failure here never refuses the
/// request). Writing on every request would turn each authenticated read into a write: on
/// SQLite it takes the one writer's lock (a busy `GET` then competes with `orch run`'s
/// records), on PostgreSQL it leaves a dead row version and WAL per request. `tokens list`
/// shows the time to the minute, so a fresher value tells nobody anything. The row was read
/// by [`by_digest`] just before, so the check costs no query.
pub async fn touch(db: &impl ConnectionTrait, token: &orch_api_token::Model) {
    let now = crate::store::now();
    if !touch_due(token.last_used_at, now) {
        return;
    }
    let _ = orch_api_token::Entity::update_many()
        .col_expr(orch_api_token::Column::LastUsedAt, Expr::value(now))
        .filter(orch_api_token::Column::Id.eq(token.id))
        .exec(db)
        .await;
}

/// Whether `last_used_at` is old enough (or unset) to be written again. A value ahead of
/// `now` (another host's clock) counts as recent.
fn touch_due(last_used_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_used_at.is_none_or(|last| now - last >= TOUCH_EVERY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_used_is_written_when_unset_or_a_minute_old() {
        let now = Utc::now();
        assert!(touch_due(None, now));
        assert!(touch_due(Some(now - TOUCH_EVERY), now));
        assert!(touch_due(Some(now - chrono::TimeDelta::days(3)), now));
        assert!(!touch_due(Some(now), now));
        assert!(!touch_due(Some(now - chrono::TimeDelta::seconds(59)), now));
        assert!(!touch_due(Some(now + chrono::TimeDelta::seconds(30)), now));
    }
}
