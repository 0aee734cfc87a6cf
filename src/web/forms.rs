//! What every form shares: its token check, and where a form may send a person afterwards.

use axum::http::StatusCode;

use super::errors::PageError;
use super::viewer::Viewer;
use crate::identity::token::digests_match;

/// A path on this server to return to after a form (`next`): anything else (another site,
/// `//host`, a backslash, control characters) becomes the inbox.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && !n.starts_with("/login") =>
        {
            n
        }
        _ => "/",
    }
}

/// A form body that cannot be read (not form-encoded, a field twice): a page, not a bare
/// framework message.
pub fn unreadable(rejection: axum::extract::rejection::FormRejection) -> PageError {
    PageError::BadRequest(format!(
        "this form could not be read ({rejection}): send it from the page's own button"
    ))
}

/// `next` as a `Location` value: bytes beyond visible ASCII percent-encoded, so any path a
/// person was on makes a valid header.
pub fn location(next: &str) -> String {
    let mut out = String::with_capacity(next.len());
    for b in next.bytes() {
        if b.is_ascii_graphic() && b != b'"' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether the form's token is the viewer's (constant-time); `Err` with the page to show.
pub fn check_token(viewer: &Viewer, submitted: &str) -> Result<(), PageError> {
    match viewer.form_token.as_deref() {
        Some(expected) if digests_match(expected, submitted) => Ok(()),
        _ => Err(stale_form()),
    }
}

/// A form without its token, with another session's, or from before a restart.
pub fn stale_form() -> PageError {
    PageError::Refused(
        StatusCode::FORBIDDEN,
        "this form is out of date or did not come from this site's pages: nothing was \
         changed; reload the page and try again"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next(Some("/tasks/4?from=0")), "/tasks/4?from=0");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "/login?next=/",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
