//! Who is looking at a page. Every page handler takes a `Viewer`.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The person reading a page.
// TODO(identity): the viewer will come from the identity module: a session cookie or the
// trusted proxy header. Reading beyond loopback will then need a login; for now every
// viewer is anonymous, as reading the API is open on loopback.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub name: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Viewer { name: None })
    }
}
