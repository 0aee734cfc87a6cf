//! `orch_sessions`: opening a login to the pages (only the cookie secret's digest is
//! stored), finding one by that digest, and ending it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::error::{Error, Result};
use crate::scope::Scope;
use crate::store::entity::orch_session;

/// What a new session stands on.
pub struct NewSession {
    pub digest: String,
    pub user: String,
    pub scope: Scope,
    pub token_id: Option<i64>,
    pub admin_token_hash: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Sessions past their expiry by more than this are deleted when a new one opens, so the
/// table holds about a day of logins, not every login ever.
const KEEP_EXPIRED: chrono::TimeDelta = chrono::TimeDelta::days(1);

pub async fn create(db: &impl ConnectionTrait, new: NewSession) -> Result<orch_session::Model> {
    let now = crate::store::now();
    orch_session::Entity::delete_many()
        .filter(orch_session::Column::ExpiresAt.lt(now - KEEP_EXPIRED))
        .exec(db)
        .await
        .map_err(Error::db)?;
    orch_session::ActiveModel {
        session_hash: Set(new.digest),
        user_name: Set(new.user),
        token_id: Set(new.token_id),
        admin_token_hash: Set(new.admin_token_hash),
        scope: Set(new.scope.as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(Error::db)
}

/// The session whose cookie digest is `digest`, whatever its state (the caller tells an
/// expired one from a revoked one).
pub async fn by_digest(
    db: &impl ConnectionTrait,
    digest: &str,
) -> Result<Option<orch_session::Model>> {
    orch_session::Entity::find()
        .filter(orch_session::Column::SessionHash.eq(digest))
        .one(db)
        .await
        .map_err(Error::db)
}

/// Ends session `id` (logout). Ending one already ended changes nothing.
pub async fn revoke(db: &impl ConnectionTrait, id: i64) -> Result<()> {
    orch_session::Entity::update_many()
        .col_expr(
            orch_session::Column::RevokedAt,
            Expr::value(crate::store::now()),
        )
        .filter(orch_session::Column::Id.eq(id))
        .filter(orch_session::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(())
}
