//! Who a request is, and whether it may do what it asks: `Authorization: Bearer` with
//! `ORCH_API_TOKEN` (the admin) or a user's token; scopes checked per route (GET = read,
//! approve/reject = decide, POST/PATCH of rows = admin).
//!
//! Without any credential configured (no `ORCH_API_TOKEN`, no active user token) and on
//! loopback, everything stays open as before: a single operator's machine. Beyond loopback,
//! reads need a credential as writes do.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::identity::resolve::bearer;
use crate::identity::token::digest;
use crate::identity::{Principal, Scope, Via};

/// `ORCH_API_TOKEN`, kept as its digest only.
pub struct ApiToken {
    digest: String,
}

impl ApiToken {
    pub fn new(token: &str) -> Self {
        ApiToken {
            digest: digest(token),
        }
    }

    pub fn digest(&self) -> &str {
        &self.digest
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

/// `--trusted-user-header NAME --trusted-proxy CIDR…`.
#[derive(Debug)]
pub struct TrustedProxy {
    pub header: axum::http::HeaderName,
    pub nets: Vec<ipnet::IpNet>,
}

/// The user a trusted proxy names, when the request comes from it. From any other peer the
/// header is ignored and logged. A named user who is not in `orch users`, or is disabled, is
/// refused (403).
async fn proxied(
    parts: &Parts,
    state: &AppState,
    trusted: &TrustedProxy,
) -> Result<Option<Principal>, ApiError> {
    let Some(value) = parts.headers.get(&trusted.header) else {
        return Ok(None);
    };
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_canonical());
    if !peer.is_some_and(|ip| trusted.nets.iter().any(|n| n.contains(&ip))) {
        tracing::warn!(
            "ignored the `{}` header from {}: not a --trusted-proxy address",
            trusted.header,
            peer.map_or_else(|| "an unknown peer".to_owned(), |p| p.to_string())
        );
        return Ok(None);
    }
    let name = value.to_str().unwrap_or("").trim();
    let user = crate::store::users::find(&state.store.db, name).await?;
    match user {
        Some(u) if u.disabled_at.is_none() => Ok(Some(Principal {
            user: Some(u.name),
            scope: Scope::Decide,
            via: Via::TrustedProxy,
        })),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the proxy names `{name}`, whose user is disabled: `orch users enable {name}` lets them in again"
            ),
        )),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the proxy names `{name}`, who is not an orch user: add them with `orch users add`"
            ),
        )),
    }
}

fn presented(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme is case-insensitive (RFC 9110).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// The request's principal, with at least `needed`.
async fn principal(parts: &Parts, state: &AppState, needed: Scope) -> Result<Principal, ApiError> {
    let admin = state.token.as_ref().map(|t| t.digest());
    let via_proxy = match &state.trusted {
        Some(t) if presented(parts).is_none() => proxied(parts, state, t).await?,
        _ => None,
    };
    let principal = match (via_proxy, presented(parts)) {
        (Some(p), _) => p,
        (None, Some(p)) => bearer(&state.store.db, admin, p)
            .await?
            .map_err(|r| ApiError::unauthorized(r.message()))?,
        (None, None) => {
            let open = !state.public
                && (needed == Scope::Read
                    || (state.token.is_none()
                        && !crate::store::tokens::any_issued(&state.store.db).await?));
            if !open {
                return Err(ApiError::unauthorized(
                    "this needs `Authorization: Bearer <token>`: create one with `orch tokens create`",
                ));
            }
            Principal {
                user: None,
                scope: Scope::Admin,
                via: Via::LoopbackOpen,
            }
        }
    };
    if !principal.scope.allows(needed) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the token's scope `{}` does not allow this: it needs `{needed}`",
                principal.scope
            ),
        ));
    }
    Ok(principal)
}

macro_rules! access {
    ($name:ident, $scope:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name(pub Principal);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, ApiError> {
                principal(parts, state, $scope).await.map($name)
            }
        }
    };
}

access!(
    ReadAccess,
    Scope::Read,
    "Proof that a request may read (open on loopback)."
);
access!(
    DecideAccess,
    Scope::Decide,
    "Proof that a request may approve or reject."
);
access!(
    AdminAccess,
    Scope::Admin,
    "Proof that a request may create and update rows."
);
