//! Requests a browser could be tricked into sending: refused before any handler runs.
//!
//! - A write from another site (an `Origin` that is not this server's `Host`, or
//!   `Sec-Fetch-Site: cross-site`) is 403: an SSO proxy's cookie, or an open loopback server,
//!   would otherwise let any page a person visits approve in their name.
//! - A write to the API whose body is not labelled `application/json` is 415: a cross-site
//!   form or a `no-cors` fetch can only send `text/plain`, form or unlabelled bodies, never
//!   JSON. The pages' own forms (form bodies, not API paths) carry a form token instead.
//!
//! `--public-url`'s origin counts as this server's own (a TLS proxy may rewrite `Host`). A
//! refusal of a page's form is an HTML page, of an API call JSON.
//! - On a loopback server, a `Host` that is not a loopback name or address is 403: a page whose
//!   domain re-resolves to 127.0.0.1 (DNS rebinding) would read the API as its own origin.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let api = crate::web::is_api_path(req.uri().path());
    match refusal(&state, req.method(), req.headers(), api) {
        Some(err) if api => err.into_response(),
        Some(err) => crate::web::refused_page(err.status, err.error),
        None => next.run(req).await,
    }
}

fn refusal(state: &AppState, method: &Method, headers: &HeaderMap, api: bool) -> Option<ApiError> {
    let host = text(headers, header::HOST);
    if !state.public && host.is_some_and(|h| !is_loopback_host(h)) {
        return Some(ApiError::new(
            StatusCode::FORBIDDEN,
            "this server listens on loopback only: use `localhost` or `127.0.0.1` in the address",
        ));
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let cross_site = text(headers, "sec-fetch-site") == Some("cross-site")
        || text(headers, header::ORIGIN).is_some_and(|origin| {
            // `null` (a sandboxed or file page) is foreign too.
            origin_authority(origin) != host
                && state.public_origin.as_deref() != Some(origin.trim_end_matches('/'))
        });
    if cross_site {
        return Some(ApiError::new(
            StatusCode::FORBIDDEN,
            "a write from another site is refused: send it from this server's pages or a script",
        ));
    }
    if !api {
        return None;
    }
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || text(headers, header::CONTENT_LENGTH).is_some_and(|n| n != "0");
    let json = text(headers, header::CONTENT_TYPE).is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    let labelled = headers.contains_key(header::CONTENT_TYPE);
    if (has_body || labelled) && !json {
        return Some(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a body must be JSON: send `Content-Type: application/json`",
        ));
    }
    None
}

fn text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `https://host:port` → `host:port`; `None` for `null` or anything without a scheme.
fn origin_authority(origin: &str) -> Option<&str> {
    origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'))
}

/// `localhost`, `127.0.0.1`, `[::1]`, each with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:8001",
            "127.0.0.1:1",
            "127.0.0.2",
            "[::1]:80",
            "[::1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "evil.example:8001",
            "10.0.0.1",
            "localhost.evil.example",
            "[::2]:80",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_authority("http://127.0.0.1:8001"),
            Some("127.0.0.1:8001")
        );
        assert_eq!(origin_authority("null"), None);
    }
}
