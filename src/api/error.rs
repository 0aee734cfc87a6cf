//! One error type for the API: client errors pass through with a JSON body naming what was
//! wrong (`{"error": …, "field": …}`); server errors are logged and answered without detail.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::Error;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub field: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            field: None,
        }
    }

    pub fn field(status: StatusCode, field: impl Into<String>, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            field: Some(field.into()),
        }
    }

    pub fn unauthorized(error: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, error)
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let status = match &err {
            Error::UnknownTask { .. } | Error::UnknownRun { .. } => StatusCode::NOT_FOUND,
            Error::NotAwaitingDecision { .. }
            | Error::AlreadyDecided { .. }
            | Error::ApprovalTimedOut { .. }
            | Error::TransitionLost { .. } => StatusCode::CONFLICT,
            Error::IllegalTransition { .. } => {
                return ApiError::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "status",
                    err.to_string(),
                );
            }
            Error::Usage { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::DatabaseUnreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = if self.status.is_server_error() {
            // The detail may name tables or hosts: keep it in the server's log.
            tracing::error!("{}", self.error);
            "internal error: see the server log".to_owned()
        } else {
            self.error
        };
        (
            self.status,
            Json(ErrorBody {
                error,
                field: self.field,
            }),
        )
            .into_response()
    }
}
