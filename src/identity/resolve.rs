//! A presented bearer token to a [`Principal`]: `ORCH_API_TOKEN` is the admin, a row of
//! `orch_api_tokens` its user with the token's scope. The reasons a token is refused are
//! told apart (unknown, revoked, expired) so a client knows what to fix.

use sea_orm::ConnectionTrait;

use super::principal::{ADMIN_NAME, Principal, Via};
use super::token::{digest, digests_match};
use crate::error::Result;
use crate::scope::Scope;
use crate::store::tokens;

/// Why a presented token does not name anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Revoked,
    Expired,
    UserDisabled,
}

impl Refused {
    pub fn message(self) -> &'static str {
        match self {
            Refused::Unknown => "the bearer token is unknown: create one with `orch tokens create`",
            Refused::Revoked => "the bearer token was revoked: ask for a new one",
            Refused::Expired => "the bearer token has expired: ask for a new one",
            Refused::UserDisabled => "the bearer token's user is disabled",
        }
    }
}

/// The admin token's digest (from `ORCH_API_TOKEN` or `--token-file`), when one is set.
pub async fn bearer(
    db: &impl ConnectionTrait,
    admin_digest: Option<&str>,
    presented: &str,
) -> Result<std::result::Result<Principal, Refused>> {
    let presented_digest = digest(presented);
    if let Some(admin) = admin_digest
        && digests_match(admin, &presented_digest)
    {
        return Ok(Ok(Principal {
            user: Some(ADMIN_NAME.to_owned()),
            scope: Scope::Admin,
            via: Via::AdminToken,
        }));
    }
    let Some((token, user)) = tokens::by_digest(db, &presented_digest).await? else {
        return Ok(Err(Refused::Unknown));
    };
    // Found by its digest; compared again in constant time all the same.
    if !digests_match(&token.token_hash, &presented_digest) {
        return Ok(Err(Refused::Unknown));
    }
    let now = crate::store::now();
    if token.revoked_at.is_some() {
        return Ok(Err(Refused::Revoked));
    }
    if token.expires_at.is_some_and(|e| e <= now) {
        return Ok(Err(Refused::Expired));
    }
    if user.disabled_at.is_some() {
        return Ok(Err(Refused::UserDisabled));
    }
    let Ok(scope) = token.scope.parse::<Scope>() else {
        // The CHECK constraint makes this unreachable; refuse rather than guess.
        return Ok(Err(Refused::Unknown));
    };
    tokens::touch(db, &token).await;
    Ok(Ok(Principal {
        user: Some(user.name),
        scope,
        via: Via::UserToken { token_id: token.id },
    }))
}
