//! `GET /metrics`: the Prometheus text of `crate::metrics`, computed at each scrape. Read
//! access as every GET: open on loopback, a token with `read` (or a login) beyond it.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::ReadAccess;
use super::error::{ApiError, ErrorBody};

/// Every metric in the Prometheus text format (0.0.4), from the database as it is now.
#[utoipa::path(get, path = "/metrics",
    responses(
        (status = 200, description = "The metrics, in the Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "Beyond loopback, no credential", body = ErrorBody),
        (status = 500, description = "A database error (the detail is in the server's log)", body = ErrorBody),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn scrape(_: ReadAccess, State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = crate::metrics::render(&state.store).await?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}
