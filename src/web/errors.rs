//! Every failure a page meets becomes a page: 404 for an unknown run or task, 503 while the
//! database is down, 500 (detail logged, not shown) for the rest.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::error::{Class, Error};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: super::viewer::Nav,
    title: &'a str,
    message: String,
}

#[derive(Debug)]
pub enum PageError {
    NotFound(String),
    /// A query parameter that cannot be read (a filter's status or date, a NUL).
    BadRequest(String),
    /// 401 or 403: the viewer has no credential, or one that does not allow reading.
    Refused(StatusCode, String),
    Unavailable,
    Internal(String),
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        match e.class() {
            Class::NotFound => PageError::NotFound(e.to_string()),
            Class::Usage => PageError::BadRequest(e.to_string()),
            Class::Unavailable => PageError::Unavailable,
            _ => PageError::Internal(e.to_string()),
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Internal(format!("cannot render a page: {e}"))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Bad request", m),
            PageError::Refused(status, m) => (status, "Not allowed", m),
            PageError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Database unavailable",
                "the database cannot be reached right now; try again in a moment".to_owned(),
            ),
            PageError::Internal(detail) => {
                tracing::error!("page failed: {detail}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "the server could not build this page; the details are in its log".to_owned(),
                )
            }
        };
        let page = ErrorPage {
            nav: Default::default(),
            title,
            message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, title.to_owned()).into_response(),
        }
    }
}

/// The page for a request the credential check refused (401 or 403), with the reason.
/// A server error met while checking (the database down) gets its own page, without detail.
pub fn refused_page(status: StatusCode, message: String) -> Response {
    let page = match status {
        StatusCode::SERVICE_UNAVAILABLE => PageError::Unavailable,
        s if s.is_server_error() => PageError::Internal(message),
        s => PageError::Refused(s, message),
    };
    super::security_headers_on(page.into_response())
}

/// The HTML 404 for an unknown page path.
pub async fn not_found_page() -> Response {
    let page =
        crate::web::errors::PageError::NotFound("no such page: start from the inbox".to_owned());
    super::security_headers_on(page.into_response())
}
