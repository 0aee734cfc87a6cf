//! The session cookie: read from `Cookie`, written as `Set-Cookie`. One cookie with fixed
//! attributes, so a dozen lines here rather than a cookie-jar crate.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};

use crate::identity::session::{COOKIE, SECURE_COOKIE};

fn name(secure: bool) -> &'static str {
    if secure { SECURE_COOKIE } else { COOKIE }
}

/// The session cookie's value, when the request carries one.
pub fn session(headers: &HeaderMap, secure: bool) -> Option<String> {
    let wanted = name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == wanted)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a new session: not readable by scripts, never sent by another site's
/// page, only over TLS when the server's public address is https, gone at `expires`.
pub fn set(secret: &str, expires: DateTime<Utc>, secure: bool) -> HeaderValue {
    let max_age = (expires - crate::store::now()).num_seconds().max(0);
    let value = format!(
        "{}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        name(secure),
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| clear(secure))
}

/// `Set-Cookie` that removes the session cookie (logout, or a cookie that names no one).
pub fn clear(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "__Host-orch_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("orch_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_among_other_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; orch_session=abc; b=2"),
        );
        assert_eq!(session(&h, false).as_deref(), Some("abc"));
        // Behind https only the `__Host-` cookie counts.
        assert_eq!(session(&h, true), None);
        h.insert(header::COOKIE, HeaderValue::from_static("orch_session="));
        assert_eq!(session(&h, false), None);
    }

    #[test]
    fn attributes() {
        let v = set("s", crate::store::now() + chrono::TimeDelta::hours(1), true);
        let v = v.to_str().unwrap();
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
            "Max-Age=",
        ] {
            assert!(v.contains(part), "{v}");
        }
        assert!(
            !set("s", crate::store::now(), false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}
