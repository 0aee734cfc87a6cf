//! Page logins: a person presents a token once on the login page and gets a session cookie
//! holding a fresh random secret (only its digest is stored). Every page request resolves
//! the cookie back to a [`Principal`], checking again the credential the session was opened
//! with, so a revoked or expired token or a disabled user ends the session at once.
//!
//! Forms carry a token derived from the session's secret: a page of another site can make
//! the browser send the cookie, but cannot read the secret, so cannot forge the form token.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::ConnectionTrait;
use sha2::{Digest, Sha256};

use super::principal::{ADMIN_NAME, Principal, Via};
use super::token::{NewToken, digest, digests_match};
use crate::error::Result;
use crate::scope::Scope;
use crate::store::sessions::{self, NewSession};

/// The cookie's name over plain HTTP.
pub const COOKIE: &str = "orch_session";
/// Its name behind https: browsers accept a `__Host-` cookie only when it is `Secure`, has
/// `Path=/` and no `Domain`, so a sibling subdomain cannot plant one ("cookie tossing").
pub const SECURE_COOKIE: &str = "__Host-orch_session";

/// How long a login lasts (never beyond the token it was opened with).
pub const LIFETIME: TimeDelta = TimeDelta::hours(12);

/// Why a session cookie does not name anyone: the login page says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Unknown,
    Expired,
    LoggedOut,
    /// The token it was opened with was revoked or expired, or the user disabled, or the
    /// admin token changed.
    CredentialGone,
}

impl Ended {
    pub fn message(self) -> &'static str {
        match self {
            Ended::Unknown => "your session is not known here: log in again",
            Ended::Expired => "your session has expired: log in again",
            Ended::LoggedOut => "you have logged out: log in again",
            Ended::CredentialGone => {
                "the token you logged in with no longer works (revoked, expired, or your user disabled): log in with a new one"
            }
        }
    }
}

/// A session just opened: the secret goes into the cookie, once.
pub struct Opened {
    pub secret: NewToken,
    pub expires_at: DateTime<Utc>,
}

/// Opens a session for `who` (just proved by a bearer token on the login page).
/// `admin_digest` is the admin token's digest when `who` logged in with it.
pub async fn open(
    db: &impl ConnectionTrait,
    who: &Principal,
    admin_digest: Option<&str>,
    token_expires: Option<DateTime<Utc>>,
) -> Result<Opened> {
    let secret = NewToken::generate().map_err(crate::error::Error::from)?;
    let mut expires_at = crate::store::now() + LIFETIME;
    if let Some(t) = token_expires {
        expires_at = expires_at.min(t);
    }
    let (token_id, admin_token_hash) = match who.via {
        Via::UserToken { token_id } => (Some(token_id), None),
        _ => (
            None,
            admin_digest.map(|d| admin_binding(d, secret.reveal())),
        ),
    };
    sessions::create(
        db,
        NewSession {
            digest: secret.digest(),
            user: who.user.clone().unwrap_or_else(|| ADMIN_NAME.to_owned()),
            scope: who.scope,
            token_id,
            admin_token_hash,
            expires_at,
        },
    )
    .await?;
    Ok(Opened { secret, expires_at })
}

/// The person a session cookie names, or why it names no one.
pub async fn resolve(
    db: &impl ConnectionTrait,
    admin_digest: Option<&str>,
    cookie: &str,
) -> Result<std::result::Result<Principal, Ended>> {
    let presented = digest(cookie);
    let Some(s) = sessions::by_digest(db, &presented).await? else {
        return Ok(Err(Ended::Unknown));
    };
    if !digests_match(&s.session_hash, &presented) {
        return Ok(Err(Ended::Unknown));
    }
    let now = crate::store::now();
    if s.revoked_at.is_some() {
        return Ok(Err(Ended::LoggedOut));
    }
    if s.expires_at <= now {
        return Ok(Err(Ended::Expired));
    }
    let standing = match (s.token_id, &s.admin_token_hash) {
        (Some(id), _) => match crate::store::tokens::by_id(db, id).await? {
            Some((t, u))
                if t.revoked_at.is_none()
                    && t.expires_at.is_none_or(|e| e > now)
                    && u.disabled_at.is_none()
                    && u.name == s.user_name =>
            {
                // Using the pages is using the token: `orch tokens list` shows it.
                crate::store::tokens::touch(db, &t).await;
                true
            }
            _ => false,
        },
        (None, Some(bound)) => {
            admin_digest.is_some_and(|d| digests_match(&admin_binding(d, cookie), bound))
        }
        (None, None) => false,
    };
    if !standing {
        return Ok(Err(Ended::CredentialGone));
    }
    let Ok(scope) = s.scope.parse::<Scope>() else {
        return Ok(Err(Ended::Unknown));
    };
    Ok(Ok(Principal {
        user: Some(s.user_name),
        scope,
        via: Via::Session { session_id: s.id },
    }))
}

/// What an admin session stores of the admin token: a digest of it bound to this session's
/// secret, so that changing `ORCH_API_TOKEN` ends the session, yet a copy of the database
/// holds nothing to guess a person-chosen admin token from (the secret is not stored).
fn admin_binding(admin_digest: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"orch admin session\0");
    h.update(admin_digest.as_bytes());
    h.update(b"\0");
    h.update(secret.as_bytes());
    crate::format::hex::hex(&h.finalize())
}

/// Ends the session a cookie names (logout); an unknown cookie changes nothing.
pub async fn close(db: &impl ConnectionTrait, cookie: &str) -> Result<()> {
    if let Some(s) = sessions::by_digest(db, &digest(cookie)).await? {
        sessions::revoke(db, s.id).await?;
    }
    Ok(())
}

/// The form token of the session whose cookie secret is `secret`.
pub fn form_token(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"orch form token\0");
    h.update(secret.as_bytes());
    crate::format::hex::hex(&h.finalize())
}

/// Whether a submitted form token is the session's, compared in constant time.
pub fn form_token_matches(secret: &str, submitted: &str) -> bool {
    digests_match(&form_token(secret), submitted)
}

/// The form-token key for people named by a trusted proxy, who have no session cookie: the
/// header reaches every request (as a cookie would), so their forms need a token a foreign
/// page cannot know. Random per server start: a restart makes open forms stale (the page
/// says to reload), which is rare and harmless.
pub struct FormKey([u8; 32]);

impl FormKey {
    pub fn generate() -> std::io::Result<FormKey> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(FormKey(bytes))
    }

    /// The form token of user `name` under this key.
    pub fn token_for(&self, name: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(b"orch proxy form token\0");
        mac.update(name.as_bytes());
        crate::format::hex::hex(&mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for FormKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormKey(***)")
    }
}
