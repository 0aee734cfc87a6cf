//! The API token: writes need `Authorization: Bearer <token>` when the server has one.
//! Compared in constant time (over SHA-256 digests, so the length does not leak either).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

pub struct ApiToken {
    digest: [u8; 32],
}

impl ApiToken {
    pub fn new(token: &str) -> Self {
        ApiToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.ct_eq(&digest).into()
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

/// Proof that a request may write. As an extractor placed before the body, it refuses
/// (401) before anything is read or written.
pub struct WriteAccess;

impl FromRequestParts<AppState> for WriteAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = &state.token else {
            return Ok(WriteAccess);
        };
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            // The scheme is case-insensitive (RFC 9110).
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match presented {
            Some(p) if token.matches(p) => Ok(WriteAccess),
            Some(_) => Err(ApiError::unauthorized("the bearer token is wrong")),
            None => Err(ApiError::unauthorized(
                "writes need `Authorization: Bearer <token>`",
            )),
        }
    }
}
