//! What a page reads from its address. Two rules for every page: an address that holds a
//! NUL or a byte that is not UTF-8 once decoded is a 400 page before any handler runs (the
//! query parser would pass a NUL on to the database, where PostgreSQL's driver fails on it,
//! and replace bad bytes silently); a query parameter that does not parse (`?from=x`) is a
//! 400 page too, not the framework's plain-text answer.

use axum::extract::{FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::errors::PageError;
use crate::error::Error;

/// Refuses an address whose path or query decodes to a NUL or to bytes that are not UTF-8.
pub async fn clean_address(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let clean = readable(uri.path()) && uri.query().is_none_or(readable);
    if !clean {
        return PageError::from(Error::UnreadableAddress).into_response();
    }
    next.run(req).await
}

/// Whether `raw`, percent-decoded (`+` is a space and needs nothing), is UTF-8 without NUL.
fn readable(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    !out.contains(&0) && std::str::from_utf8(&out).is_ok()
}

/// A page's query parameters; one that does not parse is a 400 page saying which.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(v)) => Ok(Params(v)),
            Err(e) => {
                // The parser's own words (`from: invalid digit found in string`), without
                // the framework's prefix.
                let detail = std::error::Error::source(&e)
                    .map_or_else(|| e.body_text(), ToString::to_string);
                Err(PageError::from(Error::BadPageParameter { detail }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn nul_and_bad_bytes_are_unreadable_wherever_they_hide() {
        for ok in [
            "",
            "/runs",
            "plan=nightly&status=",
            "q=a+b",
            "x=%C3%A9",
            "50%",
            "%zz",
        ] {
            assert!(readable(ok), "{ok}");
        }
        for bad in ["plan=%00", "%00", "a=%FF", "from=1&plan=x%00y", "/runs/%C3"] {
            assert!(!readable(bad), "{bad}");
        }
    }
}
